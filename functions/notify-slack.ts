import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SSMClient } from "@aws-sdk/client-ssm";
import { awsClient } from "./adapters/lambda/aws-clients.ts";
import { lambdaHandler } from "./adapters/lambda/lambda-handler.ts";
import { parseSlackEnvironment } from "./adapters/lambda/notify-slack-environment.ts";
import { createObservability, type Observability } from "./adapters/lambda/observability.ts";
import { type NotifierDeps, type NotifySummary, notifySlack } from "./adapters/slack/slack-notifier.ts";
import { WebhookUrlSource } from "./adapters/slack/slack-webhook-url.ts";

/**
 * notify-slack: alerts-topic messages (findings and remediation outcomes) to a Slack incoming webhook.
 * Throws when Slack did not take a message so that Lambda retries the SNS event; invalid records are
 * logged and counted, never retried.
 */
export const observability = createObservability("notify-slack");

/** The handler with its dependencies built by `deps` (once per container); tests pass their own. */
export function createNotifySlackHandler(deps: () => NotifierDeps, kit: Observability = observability) {
  return lambdaHandler({
    observability: kit,
    deps,
    run: (event, context, built): Promise<NotifySummary> =>
      notifySlack(event, () => context.getRemainingTimeInMillis(), built),
  });
}

/** Production accepts https webhook URLs only; the URL is fetched once and kept for the container. */
function productionDeps(): NotifierDeps {
  const environment = parseSlackEnvironment(process.env);
  return {
    logger: observability.logger,
    metrics: observability.metrics,
    region: environment.region,
    webhookUrl: new WebhookUrlSource({
      location: environment.webhook,
      cacheSeconds: environment.webhookCacheSeconds,
      ...(environment.webhook.store === "ssm"
        ? { ssmClient: awsClient(SSMClient) }
        : { secretsClient: awsClient(SecretsManagerClient) }),
    }),
  };
}

export const handler = createNotifySlackHandler(productionDeps);
