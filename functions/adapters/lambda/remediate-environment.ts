import * as z from "zod";
import { type RemediationPolicy, RemediationPolicySchema } from "../../core/remediation/policy.ts";
import { ConfigurationError, describeIssues, parseEnvironment } from "./configuration.ts";
import { DEFAULT_IDEMPOTENCY_TTL_SECONDS } from "./detect-environment.ts";

/** Comma-separated list; empty or unset means "not given" so the policy's default applies. */
const commaList = z
  .string()
  .optional()
  .transform((value) => {
    const items = (value ?? "")
      .split(",")
      .map((item) => item.trim())
      .filter((item) => item !== "");
    return items.length === 0 ? undefined : items;
  });

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value.trim()));

const optionalInteger = (name: string) =>
  optionalText.pipe(z.string().regex(/^\d+$/, `${name} must be a whole number`).transform(Number).optional());

const optionalBoolean = (name: string) =>
  optionalText.pipe(
    z
      .enum(["true", "false"], { error: `${name} must be true or false` })
      .transform((value) => value === "true")
      .optional(),
  );

/** The remediate function's environment as serverless.yml sets it. Unknown variables are ignored. */
const EnvironmentSchema = z.object({
  REMEDIATION_MODE: optionalText,
  REMEDIATION_MIN_SEVERITY: optionalText,
  REMEDIATION_CLUSTERS: commaList,
  PROTECTED_NAMESPACES: commaList,
  ALLOW_BARE_PODS: optionalBoolean("ALLOW_BARE_PODS"),
  RECREATING_CONTROLLERS: commaList,
  BREAK_GLASS_USERS: commaList,
  BREAK_GLASS_GROUPS: commaList,
  DELETION_RATE_LIMIT: optionalInteger("DELETION_RATE_LIMIT"),
  DELETION_RATE_WINDOW_SECONDS: optionalInteger("DELETION_RATE_WINDOW_SECONDS"),
  GRACE_PERIOD_SECONDS: optionalInteger("GRACE_PERIOD_SECONDS"),
  ALERTS_TOPIC_ARN: z.string().min(1, "ALERTS_TOPIC_ARN is required"),
  RATE_LIMIT_TABLE: z.string().min(1, "RATE_LIMIT_TABLE is required"),
  /** The stack's idempotency table, shared with detect (remediate's records have their own key prefix). */
  IDEMPOTENCY_TABLE: z.string().min(1, "IDEMPOTENCY_TABLE is required"),
  /** As long as detect's, so a finding replayed from a failure queue is still recognised. */
  IDEMPOTENCY_TTL_SECONDS: z.coerce.number().int().min(60).default(DEFAULT_IDEMPOTENCY_TTL_SECONDS),
  AWS_REGION: z.string().min(1, "AWS_REGION is required"),
  /** The stack's account (serverless.yml: AWS::AccountId): a finding naming another one is a member's. */
  ACCOUNT_ID: optionalText.pipe(
    z
      .string()
      .regex(/^\d{12}$/, "ACCOUNT_ID must be a 12-digit account id")
      .optional(),
  ),
  /**
   * The member stacks' remediation role name without its region suffix (memberRemediationRoleName); empty
   * means remediate reaches no other account or region. IAM role names take these characters; the region and
   * a hyphen are appended, hence the bound.
   */
  MEMBER_ROLE_NAME: optionalText.pipe(
    z
      .string()
      .regex(/^[\w+=,.@-]{1,48}$/, "MEMBER_ROLE_NAME must be an IAM role name of at most 48 characters")
      .optional(),
  ),
  /**
   * What the member roles' trust policy requires as sts:ExternalId (memberRemediationExternalId). At least 16
   * characters, as the member stacks require of remediationExternalId (infra/member-params.cjs): a shorter one
   * can match no member role, so it stops remediate at start-up rather than at the first member finding.
   */
  MEMBER_ROLE_EXTERNAL_ID: optionalText.pipe(
    z
      .string()
      .regex(
        /^[\w+=,.@:/-]{16,1224}$/,
        "MEMBER_ROLE_EXTERNAL_ID must be 16-1224 of the characters STS accepts (letters, digits, + = , . @ : / - _), as the member stacks require of remediationExternalId: a shorter one matches no member role",
      )
      .optional(),
  ),
});

/** How to reach member accounts: present only when MEMBER_ROLE_NAME is set. */
export interface MemberRoleEnvironment {
  roleName: string;
  externalId: string;
}

export interface RemediateEnvironment {
  policy: RemediationPolicy;
  topicArn: string;
  tableName: string;
  idempotency: { tableName: string; expiresAfterSeconds: number };
  region: string;
  /** The stack's own account, when known. */
  account?: string | undefined;
  members?: MemberRoleEnvironment | undefined;
}

function withoutUndefined<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>;
}

/** Parses and validates everything up front: a typo fails the cold start loudly instead of deleting pods oddly. */
export function parseRemediateEnvironment(env: Record<string, string | undefined>): RemediateEnvironment {
  const vars = parseEnvironment("remediate", EnvironmentSchema, env);
  const policy = RemediationPolicySchema.safeParse(
    withoutUndefined({
      mode: vars.REMEDIATION_MODE,
      severityThreshold: vars.REMEDIATION_MIN_SEVERITY,
      clusters: vars.REMEDIATION_CLUSTERS,
      protectedNamespaces: vars.PROTECTED_NAMESPACES,
      allowBarePods: vars.ALLOW_BARE_PODS,
      recreatingControllers: vars.RECREATING_CONTROLLERS,
      breakGlassUsers: vars.BREAK_GLASS_USERS,
      breakGlassGroups: vars.BREAK_GLASS_GROUPS,
      rateLimit: vars.DELETION_RATE_LIMIT,
      rateWindowSeconds: vars.DELETION_RATE_WINDOW_SECONDS,
      gracePeriodSeconds: vars.GRACE_PERIOD_SECONDS,
    }),
  );
  if (!policy.success) throw new ConfigurationError("remediate", describeIssues(policy.error));
  const memberProblems = [
    ...(vars.MEMBER_ROLE_NAME !== undefined && vars.MEMBER_ROLE_EXTERNAL_ID === undefined
      ? [
          "MEMBER_ROLE_EXTERNAL_ID is required with MEMBER_ROLE_NAME: the member roles trust no caller without it",
        ]
      : []),
    ...(vars.MEMBER_ROLE_NAME !== undefined && vars.ACCOUNT_ID === undefined
      ? ["ACCOUNT_ID is required with MEMBER_ROLE_NAME: without it no finding can be told to be a member's"]
      : []),
  ];
  if (memberProblems.length > 0) throw new ConfigurationError("remediate", memberProblems);
  const members =
    vars.MEMBER_ROLE_NAME !== undefined && vars.MEMBER_ROLE_EXTERNAL_ID !== undefined
      ? { roleName: vars.MEMBER_ROLE_NAME, externalId: vars.MEMBER_ROLE_EXTERNAL_ID }
      : undefined;
  return {
    ...(vars.ACCOUNT_ID !== undefined ? { account: vars.ACCOUNT_ID } : {}),
    ...(members !== undefined ? { members } : {}),
    policy: policy.data,
    topicArn: vars.ALERTS_TOPIC_ARN,
    tableName: vars.RATE_LIMIT_TABLE,
    idempotency: { tableName: vars.IDEMPOTENCY_TABLE, expiresAfterSeconds: vars.IDEMPOTENCY_TTL_SECONDS },
    region: vars.AWS_REGION,
  };
}
