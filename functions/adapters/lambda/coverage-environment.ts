import * as z from "zod";
import { type ClusterScope, ClusterScopeSchema } from "../../core/cluster-coverage/cluster-scope.ts";
import {
  DEFAULT_FILTERS_PER_LOG_GROUP,
  type DesiredFilter,
} from "../../core/cluster-coverage/subscription-plan.ts";
import { SUBSCRIPTION_FILTER_NAME_SUFFIX, SUBSCRIPTION_FILTER_PATTERN } from "../aws/subscription-filter.ts";
import { ConfigurationError, describeIssues, parseEnvironment } from "./configuration.ts";
import { DEFAULT_IDEMPOTENCY_TTL_SECONDS } from "./detect-environment.ts";

/**
 * The coverage function's configuration, read once per container. serverless.yml sets it from the stack
 * (topic, tables, detect's ARN, the stack name) and the deploy-time parameters (clusters, excludedClusters,
 * coverageSilenceMinutes); serverless.member.yml sets the central account's Logs destination instead of
 * detect's ARN, and the role its filters carry. A wrong value stops the function at init.
 */

const csv = z
  .string()
  .optional()
  .transform((value) =>
    (value ?? "")
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== ""),
  );

const required = (name: string) => z.string().trim().min(1, `${name} is required`);

/** `arn:<partition>:lambda:<region>:<account>:function:<name>`: detect, in a single-account stack. */
const LAMBDA_ARN =
  /^arn:(aws|aws-cn|aws-us-gov):lambda:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):function:[A-Za-z0-9_-]{1,64}$/;

/**
 * `arn:<partition>:logs:<region>:<account>:destination:<name>`: the central account's CloudWatch Logs
 * destination, in a member stack (serverless.member.yml). Destination names exclude `:` and `*`.
 */
const DESTINATION_ARN =
  /^arn:(aws|aws-cn|aws-us-gov):logs:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):destination:[^:*\s]{1,512}$/;

/**
 * `arn:<partition>:iam::<account>:role/<path/name>`: in a member stack, the role CloudWatch Logs assumes to check
 * that this account may deliver to the central destination (serverless.member.yml, CentralSubscriptionRole).
 */
const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role\/[\w+=,.@/-]{1,512}$/;

const optional = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value.trim()));

/** CloudFormation stack names: letters, digits and hyphens, a letter first, at most 128. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

const EnvironmentSchema = z
  .object({
    ALERTS_TOPIC_ARN: required("ALERTS_TOPIC_ARN"),
    COVERAGE_TABLE: required("COVERAGE_TABLE"),
    IDEMPOTENCY_TABLE: required("IDEMPOTENCY_TABLE"),
    IDEMPOTENCY_TTL_SECONDS: z.coerce.number().int().min(60).default(DEFAULT_IDEMPOTENCY_TTL_SECONDS),
    /** Where the filter delivers: exactly one of detect's ARN (single account) and the Logs destination (member). */
    DETECT_FUNCTION_ARN: optional.pipe(
      z.string().regex(LAMBDA_ARN, "must be a Lambda function ARN (detect's)").optional(),
    ),
    SUBSCRIPTION_DESTINATION_ARN: optional.pipe(
      z.string().regex(DESTINATION_ARN, "must be a CloudWatch Logs destination ARN").optional(),
    ),
    /**
     * Required with SUBSCRIPTION_DESTINATION_ARN: the central destination grants the whole organization, and
     * CloudWatch Logs then refuses a filter without a role of the sender account. Refused with detect's ARN.
     */
    SUBSCRIPTION_ROLE_ARN: optional.pipe(
      z
        .string()
        .regex(ROLE_ARN, "must be an IAM role ARN (the member stack's CentralSubscriptionRole)")
        .optional(),
    ),
    /** The stack's account (AWS::AccountId), named in coverage alerts; optional in a single-account stack. */
    ACCOUNT_ID: optional.pipe(
      z
        .string()
        .regex(/^\d{12}$/, "must be a 12-digit account id")
        .optional(),
    ),
    STACK_NAME: z.string().trim().regex(STACK_NAME, "must be a CloudFormation stack name"),
    COVERAGE_CLUSTERS: csv,
    EXCLUDED_CLUSTERS: csv,
    /** An ACTIVE cluster whose log group got no audit event for longer than this is silent. */
    SILENCE_MINUTES: z.coerce.number().int().min(5).max(1_440).default(30),
    /** How long a record outlives its last check: deleted and out-of-scope clusters age out after it. */
    RECORD_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(7),
    SUBSCRIPTION_FILTERS_PER_LOG_GROUP: z.coerce
      .number()
      .int()
      .min(1)
      .max(10)
      .default(DEFAULT_FILTERS_PER_LOG_GROUP),
    /** Clusters checked at once: each check is a handful of EKS and CloudWatch Logs calls. */
    CHECK_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(4),
    AWS_REGION: required("AWS_REGION"),
  })
  .superRefine((env, context) => {
    const given = [
      ["DETECT_FUNCTION_ARN", env.DETECT_FUNCTION_ARN, LAMBDA_ARN],
      ["SUBSCRIPTION_DESTINATION_ARN", env.SUBSCRIPTION_DESTINATION_ARN, DESTINATION_ARN],
    ] as const;
    const set = given.filter(([, value]) => value !== undefined);
    if (set.length !== 1) {
      context.addIssue({
        code: "custom",
        path: ["DETECT_FUNCTION_ARN"],
        message: `exactly one of DETECT_FUNCTION_ARN and SUBSCRIPTION_DESTINATION_ARN must be set (${set.length} are)`,
      });
    }
    if (env.SUBSCRIPTION_DESTINATION_ARN !== undefined && env.SUBSCRIPTION_ROLE_ARN === undefined) {
      context.addIssue({
        code: "custom",
        path: ["SUBSCRIPTION_ROLE_ARN"],
        message:
          "is required with SUBSCRIPTION_DESTINATION_ARN: CloudWatch Logs refuses a filter to an organization's destination without a role of this account",
      });
    }
    if (env.DETECT_FUNCTION_ARN !== undefined && env.SUBSCRIPTION_ROLE_ARN !== undefined) {
      context.addIssue({
        code: "custom",
        path: ["SUBSCRIPTION_ROLE_ARN"],
        message:
          "must not be set with DETECT_FUNCTION_ARN: a filter delivering to a Lambda function takes no role",
      });
    }
    const [, , roleAccount] = ROLE_ARN.exec(env.SUBSCRIPTION_ROLE_ARN ?? "") ?? [];
    if (roleAccount !== undefined && env.ACCOUNT_ID !== undefined && roleAccount !== env.ACCOUNT_ID) {
      context.addIssue({
        code: "custom",
        path: ["SUBSCRIPTION_ROLE_ARN"],
        message: `is a role of account ${roleAccount}, but the log groups are in ${env.ACCOUNT_ID}: CloudWatch Logs needs a role of the sender account`,
      });
    }
    for (const [name, value, pattern] of set) {
      // A subscription filter delivers only to a destination in its log group's region (CloudWatch Logs).
      const [, , region] = pattern.exec(value ?? "") ?? [];
      if (region !== undefined && region !== env.AWS_REGION) {
        context.addIssue({
          code: "custom",
          path: [name],
          message: `is in ${region}, but coverage runs in ${env.AWS_REGION}: a subscription delivers only within its region`,
        });
      }
    }
  });

export interface CoverageEnvironment {
  region: string;
  /** The stack's account, when set: coverage alerts name it (organizations run one coverage per account). */
  account?: string | undefined;
  topicArn: string;
  tableName: string;
  idempotency: { tableName: string; expiresAfterSeconds: number };
  scope: ClusterScope;
  /** detect's subscription filter as it must be on every watched log group. */
  desiredFilter: DesiredFilter;
  filtersPerLogGroup: number;
  silenceMs: number;
  recordTtlSeconds: number;
  concurrency: number;
}

export function parseCoverageEnvironment(env: Record<string, string | undefined>): CoverageEnvironment {
  const vars = parseEnvironment("coverage", EnvironmentSchema, env);
  const scope = ClusterScopeSchema.safeParse({
    clusters: vars.COVERAGE_CLUSTERS,
    excludedClusters: vars.EXCLUDED_CLUSTERS,
  });
  if (!scope.success) {
    throw new ConfigurationError(
      "coverage",
      describeIssues(scope.error).map((issue) =>
        issue.replace(/^clusters/, "COVERAGE_CLUSTERS").replace(/^excludedClusters/, "EXCLUDED_CLUSTERS"),
      ),
    );
  }
  const destinationArn = vars.SUBSCRIPTION_DESTINATION_ARN ?? vars.DETECT_FUNCTION_ARN ?? "";
  return {
    region: vars.AWS_REGION,
    ...(vars.ACCOUNT_ID !== undefined ? { account: vars.ACCOUNT_ID } : {}),
    topicArn: vars.ALERTS_TOPIC_ARN,
    tableName: vars.COVERAGE_TABLE,
    idempotency: { tableName: vars.IDEMPOTENCY_TABLE, expiresAfterSeconds: vars.IDEMPOTENCY_TTL_SECONDS },
    scope: scope.data,
    desiredFilter: {
      filterName: `${vars.STACK_NAME}-${SUBSCRIPTION_FILTER_NAME_SUFFIX}`,
      destinationArn,
      filterPattern: SUBSCRIPTION_FILTER_PATTERN,
      ...(vars.SUBSCRIPTION_ROLE_ARN === undefined ? {} : { roleArn: vars.SUBSCRIPTION_ROLE_ARN }),
    },
    filtersPerLogGroup: vars.SUBSCRIPTION_FILTERS_PER_LOG_GROUP,
    silenceMs: vars.SILENCE_MINUTES * 60_000,
    recordTtlSeconds: vars.RECORD_TTL_DAYS * 86_400,
    concurrency: vars.CHECK_CONCURRENCY,
  };
}
