import { z } from "zod";
import { parseEnvironment } from "./configuration.ts";

/** Where the webhook URL is kept: an SSM SecureString parameter or a Secrets Manager secret, never plain env. */
export type WebhookUrlLocation =
  | { store: "ssm"; name: string }
  | { store: "secrets-manager"; secretId: string };

export interface SlackEnvironment {
  webhook: WebhookUrlLocation;
  /** How long the fetched URL is reused before it is read again (rotation); once per container by default. */
  webhookCacheSeconds: number;
  /** The Lambda's region: the Logs Insights link points there. */
  region: string | undefined;
}

const optionalName = z
  .string()
  .trim()
  .transform((value) => (value === "" ? undefined : value))
  .optional();

const EnvironmentSchema = z
  .object({
    SLACK_WEBHOOK_PARAMETER: optionalName,
    SLACK_WEBHOOK_SECRET_ID: optionalName,
    SLACK_WEBHOOK_CACHE_SECONDS: z.coerce.number().int().min(1).max(86_400).default(3_600),
    AWS_REGION: optionalName,
  })
  .superRefine((env, context) => {
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
  const { SLACK_WEBHOOK_PARAMETER, SLACK_WEBHOOK_SECRET_ID, SLACK_WEBHOOK_CACHE_SECONDS, AWS_REGION } =
    parseEnvironment("notify-slack", EnvironmentSchema, env);
  const webhook: WebhookUrlLocation = SLACK_WEBHOOK_PARAMETER
    ? { store: "ssm", name: SLACK_WEBHOOK_PARAMETER }
    : { store: "secrets-manager", secretId: SLACK_WEBHOOK_SECRET_ID ?? "" };
  return { webhook, webhookCacheSeconds: SLACK_WEBHOOK_CACHE_SECONDS, region: AWS_REGION };
}
