import { SecurityHubClient } from "@aws-sdk/client-securityhub";
import {
  importToSecurityHub,
  type SecurityHubSubscriberDeps,
  type SecurityHubSummary,
} from "./adapters/aws/security-hub-subscriber.ts";
import { awsClient } from "./adapters/lambda/aws-clients.ts";
import { lambdaHandler } from "./adapters/lambda/lambda-handler.ts";
import { createObservability, type Observability } from "./adapters/lambda/observability.ts";
import { parseSecurityHubEnvironment } from "./adapters/lambda/security-hub-environment.ts";

/**
 * security-hub (optional, `--param="securityHub=true"`): alerts-topic findings imported into AWS Security Hub
 * with BatchImportFindings, one ASFF finding per finding, idempotent on cluster and auditID. Fails the
 * invocation when Security Hub did not take a finding, so that Lambda retries it.
 */
export const observability = createObservability("security-hub");

/** The handler with its dependencies built by `deps` (once per container); tests pass their own. */
export function createSecurityHubHandler(
  deps: () => SecurityHubSubscriberDeps,
  kit: Observability = observability,
) {
  return lambdaHandler({
    observability: kit,
    deps,
    run: (event, _context, built): Promise<SecurityHubSummary> => importToSecurityHub(event, built),
  });
}

function productionDeps(): SecurityHubSubscriberDeps {
  const { productArn, accountId, region, partition } = parseSecurityHubEnvironment(process.env);
  return {
    client: awsClient(SecurityHubClient),
    target: { productArn, accountId, region, partition },
    logger: observability.logger,
    metrics: observability.metrics,
  };
}

export const handler = createSecurityHubHandler(productionDeps);
