import * as z from "zod";
import { SeveritySchema } from "../severity.ts";
import type { Problem, SubscriptionFact } from "./assess-coverage.ts";
import { clusterLogGroup } from "./cluster-scope.ts";
import {
  ALERT_KIND_TEXT,
  type BlindState,
  type CoverageAlertKind,
  CoverageAlertKindSchema,
  type CoverageState,
  CoverageStateSchema,
} from "./coverage-state.ts";
import type { PutReason } from "./subscription-plan.ts";

/**
 * A coverage alert: what the coverage function publishes to the alerts topic (message attribute
 * `messageType = coverage`) when a cluster's coverage changes. Versioned like the finding: add optional
 * fields freely, bump `schemaVersion` for anything else. Every text is cut to its field's limit here, so a
 * long AWS error message can never make a subscriber reject the whole alert.
 */
export const COVERAGE_ALERT_SCHEMA_VERSION = 1 as const;

export const LIMITS = {
  id: 300,
  cluster: 100,
  text: 1_000,
  detail: 1_500,
  arn: 2_048,
  short: 200,
  problems: 5,
} as const;

/** The CloudTrail call that made coverage look at the cluster, when one did. */
export const CoverageTriggerSchema = z.object({
  eventName: z.string().max(LIMITS.short),
  eventTime: z.string().max(LIMITS.short).optional(),
  /** The caller's ARN (or the AWS service that called), as CloudTrail recorded it. */
  actor: z.string().max(LIMITS.arn).optional(),
  sourceIPAddress: z.string().max(LIMITS.short).optional(),
});
export type CoverageTrigger = z.infer<typeof CoverageTriggerSchema>;

export const CoverageAlertSchema = z.object({
  schemaVersion: z.literal(COVERAGE_ALERT_SCHEMA_VERSION),
  kind: z.literal("coverage"),
  /** Unique per alert: `<cluster>:<state record version>:<time>`; the exactly-once key and Slack's reference. */
  id: z.string().min(1).max(LIMITS.id),
  alert: CoverageAlertKindSchema,
  severity: SeveritySchema,
  cluster: z.string().min(1).max(LIMITS.cluster),
  /** The cluster's AWS account, when the coverage function knows it (always in member stacks). */
  account: z
    .string()
    .regex(/^\d{12}$/)
    .optional(),
  region: z.string().max(LIMITS.short).optional(),
  logGroup: z.string().max(LIMITS.short),
  state: CoverageStateSchema,
  previousState: CoverageStateSchema.optional(),
  /** One sentence: what happened, where. */
  summary: z.string().max(LIMITS.text),
  /** Every problem found (the first one is the state), worst first. */
  problems: z
    .array(z.object({ state: CoverageStateSchema, detail: z.string().max(LIMITS.detail) }))
    .max(LIMITS.problems),
  /** What a human should do now, when anything. */
  action: z.string().max(LIMITS.detail).optional(),
  /** What coverage put right on the subscription in this check. */
  repair: z
    .object({
      reason: z.enum(["create", "redirect", "update-pattern", "update-role"]),
      previousDestination: z.string().max(LIMITS.arn).optional(),
    })
    .optional(),
  /** The newest audit event seen in the log group, when looked up. */
  lastAuditEventAt: z.string().max(LIMITS.short).optional(),
  /** The last check that found the cluster covered: the gap (if any) starts after it. */
  coveredUntil: z.string().max(LIMITS.short).optional(),
  /** When the cluster entered its previous state. */
  previousSince: z.string().max(LIMITS.short).optional(),
  trigger: CoverageTriggerSchema.optional(),
  time: z.string().max(LIMITS.short),
});
export type CoverageAlert = z.infer<typeof CoverageAlertSchema>;

/** `text` within `max` characters, ending with an ellipsis when cut; never splits a surrogate pair. */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = "";
  for (const char of Array.from(text)) {
    if (out.length + char.length > max - 1) break;
    out += char;
  }
  return `${out}…`;
}

function huntHint(cluster: string, start: string | undefined): string {
  return start
    ? `ephemeral-guard hunt --cluster ${cluster} --start ${start}`
    : `ephemeral-guard hunt --cluster ${cluster} --since 7d`;
}

const AUDIT_ON_COMMAND = (cluster: string) =>
  `aws eks update-cluster-config --name ${cluster} --logging '{"clusterLogging":[{"types":["audit"],"enabled":true}]}'`;

/** What to do about an unsubscribed cluster depends on why the filter could not be put. */
const UNSUBSCRIBED_ACTION: Record<
  Exclude<SubscriptionFact["kind"], "in-place">,
  (cluster: string) => string
> = {
  "slots-taken": (cluster) =>
    `Free a subscription filter slot on ${clusterLogGroup(cluster)} (coverage subscribes detect on its next run), or exclude the cluster with the excludedClusters parameter.`,
  "no-log-group": (cluster) =>
    `Check the cluster's logging configuration: EKS creates ${clusterLogGroup(cluster)} when it sends logs. If it was deleted, find who did it in CloudTrail (DeleteLogGroup).`,
  refused: () =>
    "Check the coverage role's permissions and the log group's subscription filter quota; coverage tries again on every run.",
};

/** After a blind spot, what can still be found: audit events exist for some blind states, not for others. */
const GAP_NOTE: Record<BlindState, (cluster: string, from: string | undefined) => string> = {
  "audit-disabled": () =>
    "No audit events exist for the time audit logging was off: writes made then cannot be found afterwards.",
  unsubscribed: (cluster, from) =>
    `Audit events were stored but not analysed while detect was not subscribed: search them with ${huntHint(cluster, from)}`,
  silent: (cluster, from) =>
    `If audit events arrive late, search the quiet period with ${huntHint(cluster, from)}`,
};

export interface AlertInput {
  kind: CoverageAlertKind;
  id: string;
  cluster: string;
  region: string | undefined;
  account?: string | undefined;
  state: CoverageState;
  previousState: CoverageState | undefined;
  previousSince: string | undefined;
  problems: readonly Problem[];
  subscription: SubscriptionFact | undefined;
  repair: { reason: PutReason; previousDestination?: string } | undefined;
  lastAuditEventAt: number | null | undefined;
  coveredUntil: string | undefined;
  trigger: CoverageTrigger | undefined;
  time: string;
}

function actionFor(input: AlertInput): string | undefined {
  const { cluster } = input;
  switch (input.kind) {
    case "audit-disabled":
      return `Switch the audit log type back on (${AUDIT_ON_COMMAND(cluster)}) and find who switched it off in CloudTrail (UpdateClusterConfig).`;
    case "unsubscribed": {
      const fact = input.subscription;
      return fact && fact.kind !== "in-place" ? UNSUBSCRIBED_ACTION[fact.kind](cluster) : undefined;
    }
    case "silent":
      return `Check the control plane and the log group (CloudWatch metric IncomingLogEvents of ${clusterLogGroup(cluster)}); if events are only late, no action is needed.`;
    case "restored":
      return `Find who deleted or changed the filter in CloudTrail (DeleteSubscriptionFilter, PutSubscriptionFilter), and search the gap with ${huntHint(cluster, input.coveredUntil)}`;
    case "recovered": {
      const previous = input.previousState;
      if (previous === undefined || previous === "covered" || previous === "deleted") return undefined;
      return GAP_NOTE[previous](cluster, input.coveredUntil ?? input.previousSince);
    }
    case "deleted":
      return undefined;
  }
}

export function buildCoverageAlert(input: AlertInput): CoverageAlert {
  const text = ALERT_KIND_TEXT[input.kind];
  const place = [input.account, input.region].filter((part) => part !== undefined && part !== "");
  const where = place.length > 0 ? `${input.cluster} (${place.join(", ")})` : input.cluster;
  const action = actionFor(input);
  const alert: CoverageAlert = {
    schemaVersion: COVERAGE_ALERT_SCHEMA_VERSION,
    kind: "coverage",
    id: cut(input.id, LIMITS.id),
    alert: input.kind,
    severity: text.severity,
    cluster: input.cluster,
    ...(input.account ? { account: input.account } : {}),
    ...(input.region ? { region: cut(input.region, LIMITS.short) } : {}),
    logGroup: clusterLogGroup(input.cluster),
    state: input.state,
    ...(input.previousState ? { previousState: input.previousState } : {}),
    summary: cut(`Coverage of cluster ${where}: ${text.headline}. ${text.meaning}`, LIMITS.text),
    problems: input.problems
      .slice(0, LIMITS.problems)
      .map((problem) => ({ state: problem.state, detail: cut(problem.detail, LIMITS.detail) })),
    ...(action ? { action: cut(action, LIMITS.detail) } : {}),
    ...(input.repair
      ? {
          repair: {
            reason: input.repair.reason,
            ...(input.repair.previousDestination
              ? { previousDestination: cut(input.repair.previousDestination, LIMITS.arn) }
              : {}),
          },
        }
      : {}),
    ...(typeof input.lastAuditEventAt === "number"
      ? { lastAuditEventAt: new Date(input.lastAuditEventAt).toISOString() }
      : {}),
    ...(input.coveredUntil ? { coveredUntil: input.coveredUntil } : {}),
    ...(input.previousSince ? { previousSince: input.previousSince } : {}),
    ...(input.trigger ? { trigger: boundedTrigger(input.trigger) } : {}),
    time: input.time,
  };
  return CoverageAlertSchema.parse(alert);
}

function boundedTrigger(trigger: CoverageTrigger): CoverageTrigger {
  return {
    eventName: cut(trigger.eventName, LIMITS.short),
    ...(trigger.eventTime ? { eventTime: cut(trigger.eventTime, LIMITS.short) } : {}),
    ...(trigger.actor ? { actor: cut(trigger.actor, LIMITS.arn) } : {}),
    ...(trigger.sourceIPAddress ? { sourceIPAddress: cut(trigger.sourceIPAddress, LIMITS.short) } : {}),
  };
}
