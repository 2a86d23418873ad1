import * as z from "zod";
import { eventKey } from "./event-key.ts";
import { OutcomeSchema } from "./outcome.ts";
import { SeveritySchema } from "./severity.ts";

/**
 * The finding is the contract between the detector and everything downstream (SNS subscribers, Slack,
 * remediation, SIEMs). It is versioned: add optional fields freely, bump `schemaVersion` for anything else.
 */
export const FINDING_SCHEMA_VERSION = 1 as const;

export const ActorKindSchema = z.enum(["anonymous", "serviceaccount", "node", "system", "user"]);
export type ActorKind = z.infer<typeof ActorKindSchema>;

export const RuleEffectSchema = z.enum(["floor", "raise", "lower", "ceiling", "context"]);
export type RuleEffect = z.infer<typeof RuleEffectSchema>;

export const ReasonSchema = z.object({
  id: z.string(),
  severity: SeveritySchema,
  effect: RuleEffectSchema,
  text: z.string(),
});
export type Reason = z.infer<typeof ReasonSchema>;

export const DebugProfileSchema = z.enum([
  "legacy-or-baseline",
  "general",
  "restricted",
  "netadmin",
  "sysadmin",
  "none",
]);
export type DebugProfile = z.infer<typeof DebugProfileSchema>;

export const FindingContainerSchema = z.object({
  name: z.string(),
  image: z.string().optional(),
  targetContainerName: z.string().optional(),
  command: z.array(z.string()).optional(),
  securityContext: z.record(z.string(), z.unknown()).optional(),
  volumeMounts: z.array(z.string()).optional(),
  /** Which `kubectl debug --profile` produced this container, or "none" for a hand-crafted request. */
  profile: DebugProfileSchema,
  /** The securityContext fields that made this container risky, e.g. `capabilities.add: SYS_PTRACE`. */
  riskyFields: z.array(z.string()),
});
export type FindingContainer = z.infer<typeof FindingContainerSchema>;

export const OwnerSchema = z.object({
  kind: z.string(),
  name: z.string(),
  uid: z.string().optional(),
  controller: z.boolean().optional(),
});
export type Owner = z.infer<typeof OwnerSchema>;

export const IdentitySchema = z.object({
  username: z.string(),
  groups: z.array(z.string()),
  uid: z.string().optional(),
});

/**
 * What a finding left out, present only when something was. Whoever writes ephemeral containers decides how
 * many there are and how long their strings are; a finding stays small enough for one SNS message whatever
 * they send, and says here what it did not copy. Severity, score and reasons are decided over everything
 * before anything is left out.
 */
export const OmittedSchema = z.object({
  /** Added containers not listed in `containers` (the riskiest are the ones listed). */
  containers: z.number().int().min(0),
  /** Reasons not listed: a rule's hits beyond the first ones it lists, and reasons beyond the finding's cap. */
  reasons: z.number().int().min(0),
  /** Values shortened or dropped: strings cut (ending in "…"), list items, securityContext nesting. */
  fields: z.number().int().min(0),
  /** Where values were shortened or dropped, e.g. `actor.userAgent`, `containers[].securityContext`. */
  paths: z.array(z.string()),
  /** Which limits applied, in words. */
  why: z.array(z.string()),
});
export type Omitted = z.infer<typeof OmittedSchema>;

export const FindingSchema = z.object({
  schemaVersion: z.literal(FINDING_SCHEMA_VERSION),
  auditID: z.string(),
  /**
   * What tells this audit event from another with the same auditID, which a client can choose (Audit-ID
   * header): the requestReceivedTimestamp the API server set, or `sha256:…` of a cut event's text. Exactly-once
   * records and exports are keyed on `<auditID>@<occurrence>` (findingKey). Absent when neither was known, and
   * from findings made before it existed: the auditID alone then.
   */
  occurrence: z.string().optional(),
  cluster: z.string().optional(),
  logGroup: z.string().optional(),
  /**
   * Where the cluster is, when the delivery said (organization deployments, issue 10): the 12-digit id of its
   * AWS account, its region, and its ARN, which names it unambiguously across accounts. Absent in a
   * single-account deployment: the cluster is then in the stack's own account and region.
   */
  account: z
    .string()
    .regex(/^\d{12}$/, "a 12-digit AWS account id")
    .optional(),
  region: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, "an AWS region")
    .optional(),
  clusterArn: z
    .string()
    .regex(
      /^arn:aws(-[a-z]+)*:eks:[a-z]{2}(-[a-z]+)+-\d{1,2}:\d{12}:cluster\/[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/,
      "an EKS cluster ARN",
    )
    .optional(),
  /**
   * The audit event's stageTimestamp (else requestReceivedTimestamp); for an event cut before its timestamps,
   * when CloudWatch Logs received it, or "" when nothing said.
   */
  time: z.string(),
  severity: SeveritySchema,
  score: z.number().int().min(0).max(100),
  outcome: OutcomeSchema,
  verb: z.string(),
  responseCode: z.number().int().optional(),
  responseMessage: z.string().optional(),
  requestURI: z.string().optional(),
  /** False when the audit level did not record the request body (Metadata) or it was truncated. */
  bodyLogged: z.boolean(),
  actor: z.object({
    /** The authenticated identity: who really sent the request. */
    username: z.string(),
    groups: z.array(z.string()),
    uid: z.string().optional(),
    kind: ActorKindSchema,
    /** Present when the request impersonated someone: the identity it was authorized as. */
    impersonatedUser: IdentitySchema.optional(),
    sourceIPs: z.array(z.string()),
    userAgent: z.string().optional(),
    arn: z.string().optional(),
    sessionName: z.string().optional(),
  }),
  pod: z.object({
    namespace: z.string(),
    name: z.string(),
    uid: z.string().optional(),
    owner: OwnerSchema.optional(),
    serviceAccountName: z.string().optional(),
    /** Mirror pods of static manifests: the API server refuses ephemeral containers on them. */
    static: z.boolean().optional(),
  }),
  containers: z.array(FindingContainerSchema),
  reasons: z.array(ReasonSchema),
  /**
   * MITRE ATT&CK technique ids (`T1609`, `T1552.007`): the union of the techniques of the rules that fired, in
   * the catalogue's order (attack-techniques.ts). Optional: findings made before it existed lack it.
   */
  techniques: z.array(z.string()).optional(),
  podSecurity: z
    .object({
      enforcePolicy: z.string().optional(),
      auditViolations: z.string().optional(),
    })
    .optional(),
  authorizationReason: z.string().optional(),
  /**
   * True on a test alert (`ephemeral-guard test-alert`): nothing happened on any cluster. Slack shows it as a
   * test, and remediation never acts on it.
   */
  test: z.boolean().optional(),
  /** Present when the finding left something out (see OmittedSchema). */
  omitted: OmittedSchema.optional(),
});
export type Finding = z.infer<typeof FindingSchema>;

/** The identity a finding's exactly-once records and exports are keyed on: `<auditID>@<occurrence>`. */
export function findingKey(finding: Pick<Finding, "auditID" | "occurrence">): string {
  return eventKey(finding.auditID, finding.occurrence);
}
