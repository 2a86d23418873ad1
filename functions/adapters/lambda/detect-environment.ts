import * as z from "zod";
import { type DetectionConfig, DetectionConfigSchema } from "../../core/detection-config.ts";
import { type RuleOverrides, RuleOverridesSchema } from "../../core/rule-overrides.ts";
import { DEFAULT_STORM_BUDGET, DEFAULT_STORM_WINDOW_MINUTES } from "../../core/storm.ts";
import { ConfigurationError, describeIssues, parseEnvironment } from "./configuration.ts";

/**
 * detect's configuration, read from its environment once per container. serverless.yml sets these from
 * the deploy-time parameters; a wrong value stops the function at init instead of silently detecting less.
 */

/** Comma-separated list; blanks dropped so that an unset parameter (empty string) means "none". */
const csv = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? "")
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== ""),
  );

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value?.trim() ? value.trim() : undefined));

/** 14 days: as long as the failure queue keeps events, so a late replay still finds what was published. */
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 14 * 24 * 60 * 60;

const DetectEnvironmentSchema = z
  .object({
    /**
     * `sns` (deployed): publish to ALERTS_TOPIC_ARN exactly once using IDEMPOTENCY_TABLE.
     * `stdout` (local mode, docs/deploy.md): print the messages that would be published; nothing is sent
     * and nothing is recorded.
     */
    PUBLISH_MODE: z.enum(["sns", "stdout"]).default("sns"),
    ALERTS_TOPIC_ARN: optionalText,
    IDEMPOTENCY_TABLE: optionalText,
    IDEMPOTENCY_TTL_SECONDS: z.coerce.number().int().min(60).default(DEFAULT_IDEMPOTENCY_TTL_SECONDS),
    /** Shared by the function and `npm run replay`, so both see the same records. */
    IDEMPOTENCY_KEY_PREFIX: z.string().min(1).default("ephemeral-guard.detect"),
    /**
     * Storm control (docs/slack.md): the storm-state table, and how many findings per cluster per window are
     * alerted one by one. Without the table every finding pages and posts on its own.
     */
    STORM_TABLE: optionalText,
    STORM_BUDGET: z.coerce.number().int().min(1).max(10_000).default(DEFAULT_STORM_BUDGET),
    STORM_WINDOW_MINUTES: z.coerce.number().int().min(1).max(60).default(DEFAULT_STORM_WINDOW_MINUTES),
    EXCLUDED_USERS: csv,
    EXCLUDED_GROUPS: csv,
    PROTECTED_NAMESPACES: csv,
    TRUSTED_DEBUGGER_USERS: csv,
    TRUSTED_DEBUGGER_GROUPS: csv,
    /** Cluster name for inputs that do not name their log group (direct invocations with audit events). */
    CLUSTER_NAME: optionalText,
    /**
     * The ruleOverrides deploy parameter: the detection config's "rules" object as JSON, rules switched off or
     * re-levelled (functions/core/rule-overrides.ts). Empty means none.
     */
    RULE_OVERRIDES: optionalText,
    /** Set by the Lambda runtime, never by `serverless invoke local`. */
    AWS_LAMBDA_RUNTIME_API: optionalText,
    /**
     * Set by the Lambda runtime: the region of a same-account subscription's log groups, which its delivery
     * does not name (findings' region and clusterArn). Anything not shaped like a region is refused at init.
     */
    AWS_REGION: optionalText.pipe(
      z
        .string()
        .regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, "an AWS region such as eu-west-1")
        .optional(),
    ),
  })
  .superRefine((env, context) => {
    if (env.PUBLISH_MODE === "stdout" && env.AWS_LAMBDA_RUNTIME_API) {
      // A stack deployed with --param=local=true would drop every alert while looking healthy.
      context.addIssue({
        code: "custom",
        path: ["PUBLISH_MODE"],
        message: "stdout is the local mode (serverless invoke local); a deployed function must publish (sns)",
      });
    }
    if (env.PUBLISH_MODE !== "sns") return;
    for (const name of ["ALERTS_TOPIC_ARN", "IDEMPOTENCY_TABLE"] as const) {
      if (!env[name]) {
        context.addIssue({
          code: "custom",
          path: [name],
          message: `${name} is required when PUBLISH_MODE is sns (set PUBLISH_MODE=stdout for local runs)`,
        });
      }
    }
  });

export interface StormSettings {
  tableName: string;
  budget: number;
  windowMinutes: number;
}

export type PublishTarget =
  | {
      mode: "sns";
      topicArn: string;
      idempotency: { tableName: string; expiresAfterSeconds: number; keyPrefix: string };
      /** Absent when STORM_TABLE is not set: no storm control. */
      storm?: StormSettings;
    }
  | { mode: "stdout" };

export interface DetectEnvironment {
  publish: PublishTarget;
  detection: DetectionConfig;
  /** The function's own region (AWS_REGION), when set. */
  region?: string;
}

/**
 * RULE_OVERRIDES checked by the detector's own schema, each problem naming the variable: an unknown rule id
 * or a pinned rule lowered stops detect at init, as the scanner refuses the same object in a config file.
 */
function parseRuleOverrides(text: string | undefined): RuleOverrides | undefined {
  if (text === undefined) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigurationError("detect", [
      `RULE_OVERRIDES: not JSON (${error instanceof Error ? error.message : String(error)}): give an object such as {"actor.non-kubectl-client":{"enabled":false}}`,
    ]);
  }
  const parsed = RuleOverridesSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigurationError(
      "detect",
      describeIssues(parsed.error).map((issue) => `RULE_OVERRIDES ${issue}`),
    );
  }
  return parsed.data;
}

export function parseDetectEnvironment(env: Record<string, string | undefined>): DetectEnvironment {
  const vars = parseEnvironment("detect", DetectEnvironmentSchema, env);
  const rules = parseRuleOverrides(vars.RULE_OVERRIDES);
  const detection = DetectionConfigSchema.safeParse({
    excludedUsers: vars.EXCLUDED_USERS,
    excludedGroups: vars.EXCLUDED_GROUPS,
    // Empty keeps the core's default list rather than protecting nothing.
    ...(vars.PROTECTED_NAMESPACES.length > 0 ? { protectedNamespaces: vars.PROTECTED_NAMESPACES } : {}),
    trustedDebuggers: { users: vars.TRUSTED_DEBUGGER_USERS, groups: vars.TRUSTED_DEBUGGER_GROUPS },
    ...(vars.CLUSTER_NAME ? { cluster: vars.CLUSTER_NAME } : {}),
    ...(rules ? { rules } : {}),
  });
  if (!detection.success) throw new ConfigurationError("detect", describeIssues(detection.error));
  const publish: PublishTarget =
    vars.PUBLISH_MODE === "stdout"
      ? { mode: "stdout" }
      : {
          mode: "sns",
          topicArn: vars.ALERTS_TOPIC_ARN ?? "",
          idempotency: {
            tableName: vars.IDEMPOTENCY_TABLE ?? "",
            expiresAfterSeconds: vars.IDEMPOTENCY_TTL_SECONDS,
            keyPrefix: vars.IDEMPOTENCY_KEY_PREFIX,
          },
          ...(vars.STORM_TABLE
            ? {
                storm: {
                  tableName: vars.STORM_TABLE,
                  budget: vars.STORM_BUDGET,
                  windowMinutes: vars.STORM_WINDOW_MINUTES,
                },
              }
            : {}),
        };
  return { publish, detection: detection.data, ...(vars.AWS_REGION ? { region: vars.AWS_REGION } : {}) };
}
