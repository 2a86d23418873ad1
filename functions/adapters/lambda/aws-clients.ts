/**
 * The one configuration every AWS SDK client in a function is built with. Region, credentials and endpoint
 * come from the SDK's standard chain (AWS_REGION, the role, AWS_ENDPOINT_URL_<SERVICE>): nothing here names an
 * endpoint, so tools and tests can point a client at any peer that speaks the service's protocol.
 *
 * A hung connection should cost one attempt, not the whole invocation: the SDK retries (3 attempts) within
 * these bounds, and whatever still fails fails the invocation in time for Lambda's retry.
 */
export const AWS_CLIENT_CONFIG = {
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 },
} as const;

/** A client class of AWS SDK v3 (SNSClient, DynamoDBClient, …), built with the shared configuration. */
export function awsClient<C>(Client: new (config: typeof AWS_CLIENT_CONFIG) => C): C {
  return new Client(AWS_CLIENT_CONFIG);
}
