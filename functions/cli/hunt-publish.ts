import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { createIdempotencyStore } from "../adapters/aws/act-once.ts";
import { ConfigurationError } from "../adapters/lambda/configuration.ts";
import { parseDetectEnvironment } from "../adapters/lambda/detect-environment.ts";
import type { FindingSink } from "../adapters/lambda/detect-invocation.ts";
import { snsFindingSink } from "../adapters/lambda/finding-sinks.ts";
import { ConfigError } from "./load-scan-config.ts";

/**
 * `hunt --publish`: the alerts topic and the idempotency table detect uses, configured from the environment
 * as `npm run replay` is (ALERTS_TOPIC_ARN, IDEMPOTENCY_TABLE, IDEMPOTENCY_KEY_PREFIX, IDEMPOTENCY_TTL_SECONDS),
 * so a finding detect already published is not published again, and one the hunt published is not published
 * by a later detect or hunt. Detection itself is configured by --config, not by these variables.
 */

/**
 * How long a claim taken by the hunt stays INPROGRESS: a hunt that dies between claiming and publishing
 * blocks that finding for this long, then a retry (detect's, or the next hunt's) takes it over.
 */
const CLAIM_WINDOW_MS = 60_000;

export interface PublishTarget {
  sink: FindingSink;
  destroy(): void;
}

export function publishTargetFromEnvironment(
  env: Record<string, string | undefined>,
  region: string | undefined,
): PublishTarget {
  let environment: ReturnType<typeof parseDetectEnvironment>;
  try {
    environment = parseDetectEnvironment(env);
  } catch (error) {
    if (error instanceof ConfigurationError) throw new ConfigError(`--publish: ${error.issues.join("; ")}`);
    throw error;
  }
  if (environment.publish.mode !== "sns") {
    throw new ConfigError("--publish publishes for real: PUBLISH_MODE must be sns (or unset)");
  }
  const clientConfig = region ? { region } : {};
  const sns = new SNSClient(clientConfig);
  const dynamo = new DynamoDBClient(clientConfig);
  const store = createIdempotencyStore(dynamo, environment.publish.idempotency);
  return {
    sink: snsFindingSink(sns, environment.publish.topicArn, store, () => CLAIM_WINDOW_MS),
    destroy() {
      sns.destroy();
      dynamo.destroy();
    },
  };
}
