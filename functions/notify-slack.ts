import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SSMClient } from "@aws-sdk/client-ssm";
import { z } from "zod";
import { createIdempotencyStore } from "./adapters/aws/act-once.ts";
import { StormDigestStore } from "./adapters/aws/storm-digest-store.ts";
import { UNRECORDED_STORE } from "./adapters/aws/unrecorded-store.ts";
import { awsClient } from "./adapters/lambda/aws-clients.ts";
import { lambdaHandler } from "./adapters/lambda/lambda-handler.ts";
import { parseSlackEnvironment } from "./adapters/lambda/notify-slack-environment.ts";
import { createObservability, type Observability } from "./adapters/lambda/observability.ts";
import { type NotifierDeps, type NotifySummary, notifySlack } from "./adapters/slack/slack-notifier.ts";
import {
  HTTPS_ONLY,
  LocalWebhookUrl,
  type WebhookUrlPolicy,
  WebhookUrlSource,
} from "./adapters/slack/slack-webhook-url.ts";
import { type DigestDeps, type FlushSummary, flushStormDigests } from "./adapters/slack/storm-digests.ts";

/**
 * notify-slack: alerts-topic messages (findings, remediation outcomes, storm notices) to a Slack incoming
 * webhook, each once however often SNS delivers it, with storm members held for a digest; and, on its
 * EventBridge schedule, the storm digests of windows that ended. Throws when Slack did not take a message so
 * that Lambda retries the event; invalid records are logged and counted, never retried.
 */
export const observability = createObservability("notify-slack");

export interface NotifySlackDeps extends NotifierDeps {
  /** The scheduled flush's state and settings; absent without storm control. */
  digests?: Pick<DigestDeps, "digests" | "settings">;
}

/** The EventBridge schedule's event (serverless.yml): nothing in it but the kind. */
const ScheduledEventSchema = z.object({
  source: z.literal("aws.events"),
  "detail-type": z.literal("Scheduled Event"),
});

const NO_FLUSH: FlushSummary = { due: 0, posted: 0, empty: 0, duplicates: 0, elsewhere: 0, deferred: 0 };

/** The handler with its dependencies built by `deps` (once per container); tests pass their own. */
export function createNotifySlackHandler(deps: () => NotifySlackDeps, kit: Observability = observability) {
  return lambdaHandler({
    observability: kit,
    deps,
    run: async (event, context, built): Promise<NotifySummary | FlushSummary> => {
      const remaining = () => context.getRemainingTimeInMillis();
      if (!ScheduledEventSchema.safeParse(event).success) return notifySlack(event, remaining, built);
      if (!built.digests) {
        built.logger.info("storm digest flush: storm control is off (no STORM_TABLE)");
        return NO_FLUSH;
      }
      return flushStormDigests(remaining, { ...built, ...built.digests });
    },
  });
}

/**
 * The handler's dependencies from its environment. The URL is fetched once and kept for the container. A local
 * run (`invoke local` with SLACK_WEBHOOK_URL) posts to that URL and records nothing: no AWS call at all.
 * `policy` is https only; tests pass the loopback policy in code (no environment variable can select it).
 */
export function productionDeps(
  env: Record<string, string | undefined> = process.env,
  policy: WebhookUrlPolicy = HTTPS_ONLY,
): NotifySlackDeps {
  const environment = parseSlackEnvironment(env);
  if (environment.localWebhookUrl !== undefined) {
    return {
      logger: observability.logger,
      metrics: observability.metrics,
      region: environment.region,
      webhookUrl: new LocalWebhookUrl(environment.localWebhookUrl, policy),
      idempotency: UNRECORDED_STORE,
    };
  }
  const dynamo = awsClient(DynamoDBClient);
  const storm = environment.storm;
  const digestStore = storm && new StormDigestStore(dynamo, storm);
  return {
    logger: observability.logger,
    metrics: observability.metrics,
    region: environment.region,
    webhookUrl: new WebhookUrlSource({
      location: environment.webhook,
      cacheSeconds: environment.webhookCacheSeconds,
      policy,
      ...(environment.webhook.store === "ssm"
        ? { ssmClient: awsClient(SSMClient) }
        : { secretsClient: awsClient(SecretsManagerClient) }),
    }),
    idempotency: createIdempotencyStore(dynamo, environment.idempotency),
    ...(storm && digestStore
      ? { storm: digestStore, digests: { digests: digestStore, settings: storm } }
      : {}),
  };
}

export const handler = createNotifySlackHandler(() => productionDeps());
