import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { slackEnvironment } from "./adapters/slack/slack-environment.ts";
import { type NotifierDeps, type NotifySummary, notifySlack } from "./adapters/slack/slack-notifier.ts";
import { WebhookUrlSource } from "./adapters/slack/slack-webhook-url.ts";

/**
 * notify-slack: alerts-topic messages (findings and remediation outcomes) to a Slack incoming webhook.
 * Throws when Slack did not take a message so that Lambda retries the SNS event; invalid records are
 * logged and counted, never retried. `deps` is called on every invocation and is expected to memoise.
 */
export function createNotifySlackHandler(logger: Logger, deps: () => NotifierDeps) {
  return middy(
    (event: unknown, context: Context): Promise<NotifySummary> =>
      notifySlack(event, () => context.getRemainingTimeInMillis(), deps()),
  ).use(injectLambdaContext(logger, { resetKeys: true }));
}

const logger = new Logger({ serviceName: "notify-slack" });
let productionDeps: NotifierDeps | undefined;

/**
 * Built on first use (a configuration error then fails the invocation with a clear message) and kept for
 * the container, so the webhook URL is fetched once. Production accepts https webhook URLs only.
 */
function production(): NotifierDeps {
  if (productionDeps) return productionDeps;
  const environment = slackEnvironment();
  productionDeps = {
    logger,
    region: environment.region,
    webhookUrl: new WebhookUrlSource({
      location: environment.webhook,
      cacheSeconds: environment.webhookCacheSeconds,
    }),
  };
  return productionDeps;
}

export const handler = createNotifySlackHandler(logger, production);
