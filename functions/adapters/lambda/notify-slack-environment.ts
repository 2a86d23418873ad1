import { z } from "zod";
import { DEFAULT_STORM_BUDGET, DEFAULT_STORM_WINDOW_MINUTES } from "../../core/storm.ts";
import { parseEnvironment } from "./configuration.ts";

/** Where the webhook URL is kept: an SSM SecureString parameter or a Secrets Manager secret, never plain env. */
export type WebhookUrlLocation =
  | { store: "ssm"; name: string }
  | { store: "secrets-manager"; secretId: string };

export interface StormDigestEnvironment {
  tableName: string;
  budget: number;
  windowMinutes: number;
  delaySeconds: number;
  /** How long held members and pending digests are kept (TTL). */
  expiresAfterSeconds: number;
}

export interface SlackEnvironment {
  webhook: WebhookUrlLocation;
  /** How long the fetched URL is reused before it is read again (rotation); once per container by default. */
  webhookCacheSeconds: number;
  /** The Lambda's region: the Logs Insights link points there. */
  region: string | undefined;
  /** One post per (cluster, auditID, message kind): the same table and TTL as detect, its own key prefix. */
  idempotency: { tableName: string; expiresAfterSeconds: number; keyPrefix: string };
  /** Storm control (docs/slack.md); absent when STORM_TABLE is not set: every finding is posted. */
  storm?: StormDigestEnvironment;
  /**
   * `serverless invoke local` with SLACK_WEBHOOK_URL: post to that URL, read no parameter or secret, record
   * nothing and hold no storm members, so a first alert needs no AWS credentials. Refused inside Lambda
   * (AWS_LAMBDA_RUNTIME_API set), as detect refuses its local mode there.
   */
  localWebhookUrl?: string;
}

const optionalName = z
  .string()
  .trim()
  .transform((value) => (value === "" ? undefined : value))
  .optional();

/** 14 days, as detect's records: as long as the failure queues keep events. */
export const DEFAULT_NOTIFY_IDEMPOTENCY_TTL_SECONDS = 14 * 24 * 60 * 60;
/** notify-slack's timeout is 30 s; a window's digest is read well after any member recorded in it landed. */
export const DEFAULT_STORM_DIGEST_DELAY_SECONDS = 90;

const EnvironmentSchema = z
  .object({
    SLACK_WEBHOOK_PARAMETER: optionalName,
    SLACK_WEBHOOK_SECRET_ID: optionalName,
    SLACK_WEBHOOK_CACHE_SECONDS: z.coerce.number().int().min(1).max(86_400).default(3_600),
    AWS_REGION: optionalName,
    IDEMPOTENCY_TABLE: z
      .string()
      .trim()
      .min(1, "IDEMPOTENCY_TABLE is required (notify-slack posts each message once)"),
    IDEMPOTENCY_TTL_SECONDS: z.coerce.number().int().min(60).default(DEFAULT_NOTIFY_IDEMPOTENCY_TTL_SECONDS),
    IDEMPOTENCY_KEY_PREFIX: z.string().min(1).default("ephemeral-guard.notify-slack"),
    STORM_TABLE: optionalName,
    STORM_BUDGET: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_STORM_BUDGET),
    STORM_WINDOW_MINUTES: z.coerce.number().int().min(1).max(60).default(DEFAULT_STORM_WINDOW_MINUTES),
    STORM_DIGEST_DELAY_SECONDS: z.coerce
      .number()
      .int()
      .min(31)
      .max(3_600)
      .default(DEFAULT_STORM_DIGEST_DELAY_SECONDS),
    /** Local runs only: the webhook URL itself (it is a credential, so never in a deployed function's environment). */
    SLACK_WEBHOOK_URL: optionalName,
    /** Set by the Lambda runtime, never by `serverless invoke local`. */
    AWS_LAMBDA_RUNTIME_API: optionalName,
  })
  .superRefine((env, context) => {
    if (env.SLACK_WEBHOOK_URL && env.AWS_LAMBDA_RUNTIME_API) {
      context.addIssue({
        code: "custom",
        message:
          "SLACK_WEBHOOK_URL is for local runs (serverless invoke local); in Lambda the URL comes from SLACK_WEBHOOK_PARAMETER or SLACK_WEBHOOK_SECRET_ID",
        path: ["SLACK_WEBHOOK_URL"],
      });
    }
    const set = [env.SLACK_WEBHOOK_PARAMETER, env.SLACK_WEBHOOK_SECRET_ID].filter(Boolean).length;
    if (set !== 1) {
      context.addIssue({
        code: "custom",
        message:
          set === 0
            ? "set SLACK_WEBHOOK_PARAMETER (SSM SecureString name) or SLACK_WEBHOOK_SECRET_ID (Secrets Manager id)"
            : "set only one of SLACK_WEBHOOK_PARAMETER and SLACK_WEBHOOK_SECRET_ID",
        path: ["SLACK_WEBHOOK_PARAMETER"],
      });
    }
  });

/** Parses the notifier's environment; throws ConfigurationError naming every problem. */
export function parseSlackEnvironment(env: Record<string, string | undefined>): SlackEnvironment {
  const vars = parseEnvironment("notify-slack", EnvironmentSchema, env);
  const webhook: WebhookUrlLocation = vars.SLACK_WEBHOOK_PARAMETER
    ? { store: "ssm", name: vars.SLACK_WEBHOOK_PARAMETER }
    : { store: "secrets-manager", secretId: vars.SLACK_WEBHOOK_SECRET_ID ?? "" };
  return {
    webhook,
    webhookCacheSeconds: vars.SLACK_WEBHOOK_CACHE_SECONDS,
    region: vars.AWS_REGION,
    idempotency: {
      tableName: vars.IDEMPOTENCY_TABLE,
      expiresAfterSeconds: vars.IDEMPOTENCY_TTL_SECONDS,
      keyPrefix: vars.IDEMPOTENCY_KEY_PREFIX,
    },
    ...(vars.STORM_TABLE
      ? {
          storm: {
            tableName: vars.STORM_TABLE,
            budget: vars.STORM_BUDGET,
            windowMinutes: vars.STORM_WINDOW_MINUTES,
            delaySeconds: vars.STORM_DIGEST_DELAY_SECONDS,
            expiresAfterSeconds: vars.IDEMPOTENCY_TTL_SECONDS,
          },
        }
      : {}),
    ...(vars.SLACK_WEBHOOK_URL ? { localWebhookUrl: vars.SLACK_WEBHOOK_URL } : {}),
  };
}
