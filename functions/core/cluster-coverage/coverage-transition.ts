import * as z from "zod";
import type { Assessment } from "./assess-coverage.ts";
import { CoverageAlertSchema } from "./coverage-alert.ts";
import {
  ALERT_ON_ENTERING,
  type CoverageAlertKind,
  type CoverageState,
  CoverageStateSchema,
  isBlind,
} from "./coverage-state.ts";
import type { PutReason } from "./subscription-plan.ts";

/**
 * The per-cluster record kept between runs, and the one decision made from it: given the previous record and
 * this check's state, which alert (if any) goes out and what is stored. The rules are a table read top-down.
 */

export const CoverageRecordSchema = z.object({
  cluster: z.string().min(1),
  state: CoverageStateSchema,
  /** Incremented on every write: concurrent runs write conditionally on the version they read. */
  version: z.number().int().min(1),
  /** When the cluster entered `state` (ISO). */
  since: z.string(),
  /** The last check that reached a state (ISO). */
  checkedAt: z.string(),
  /** The last check that found the cluster covered (ISO): where a gap starts. */
  coveredAt: z.string().optional(),
  /** Since when audit logging is known to be on (ISO); absent while it is off. */
  auditOnSince: z.string().optional(),
  /** An alert decided but not yet known to be published: published before anything else on the next check. */
  pendingAlert: CoverageAlertSchema.optional(),
});
export type CoverageRecord = z.infer<typeof CoverageRecordSchema>;

export interface TransitionInput {
  cluster: string;
  previous: CoverageRecord | undefined;
  assessment: Extract<Assessment, { kind: "state" }>;
  /** The cluster's EKS status in this check. */
  status: string;
  /** What coverage put right on the subscription in this check. */
  repair: { reason: PutReason } | undefined;
  /** Whether audit logging is on (for `auditOnSince`). */
  auditOn: boolean;
  now: Date;
}

export interface Transition {
  /** The alert to publish, if any. */
  alert: CoverageAlertKind | undefined;
  /** The record to store; undefined when nothing is stored (the previous record, if any, stays as it is). */
  record: Omit<CoverageRecord, "pendingAlert"> | undefined;
  /** Which rule decided, for the logs. */
  rule: string;
}

interface Change {
  from: CoverageState | undefined;
  to: CoverageState;
  status: string;
  repair: PutReason | undefined;
}

interface TransitionRule {
  rule: string;
  applies(change: Change): boolean;
  /** The alert; undefined for none. */
  alert(change: Change): CoverageAlertKind | undefined;
  /** false: store nothing (hold the previous record, or keep no record at all). */
  store: boolean;
}

/**
 * Repairs that mean someone tampered with detect's filter. A pattern or role update is a release, not news: the
 * organization destination refuses a put without the role, so nobody can strip it, only a release adds it.
 */
const TAMPER_REPAIRS: readonly PutReason[] = ["create", "redirect"];

const TRANSITION_RULES: readonly TransitionRule[] = [
  {
    rule: "a cluster never watched and already gone: nothing to say, nothing to keep",
    applies: ({ from, to }) => from === undefined && to === "deleted",
    alert: () => undefined,
    store: false,
  },
  {
    rule: "a deleted cluster stays deleted until its record ages out",
    applies: ({ from, to }) => from === "deleted" && to === "deleted",
    alert: () => undefined,
    store: false,
  },
  {
    rule: "first sight of a covered cluster (or one re-created under a deleted one's name) is the baseline, not news",
    applies: ({ from, to }) => (from === undefined || from === "deleted") && to === "covered",
    alert: () => undefined,
    store: true,
  },
  {
    rule: "recovery is announced only once the cluster is ACTIVE again: an update in progress may still flip it",
    applies: ({ from, to, status }) => isBlind(from) && to === "covered" && status !== "ACTIVE",
    alert: () => undefined,
    store: false,
  },
  {
    rule: "same state, but a filter someone removed or redirected was put back",
    applies: ({ from, to, repair }) =>
      from !== undefined && from === to && repair !== undefined && TAMPER_REPAIRS.includes(repair),
    alert: () => "restored",
    store: true,
  },
  {
    rule: "no change",
    applies: ({ from, to }) => from === to,
    alert: () => undefined,
    store: true,
  },
  {
    rule: "a change of state is announced once",
    applies: () => true,
    alert: ({ to }) => ALERT_ON_ENTERING[to],
    store: true,
  },
];

/**
 * A check that could not be completed changes no state, with one exception: a filter someone removed or
 * redirected, which this check put back, must still be announced (the next check finds it in place and could
 * not tell). The state is then kept as it was and the repair decides the alert (`restored`).
 */
export function keepStateForRepair(
  previous: CoverageRecord | undefined,
  repair: { reason: PutReason } | undefined,
): Extract<Assessment, { kind: "state" }> | undefined {
  if (previous === undefined || previous.state === "deleted") return undefined;
  if (repair === undefined || !TAMPER_REPAIRS.includes(repair.reason)) return undefined;
  return { kind: "state", state: previous.state, problems: [] };
}

/** Since when audit logging is known to be on: kept while it stays on, reset when it is off. */
export function auditOnSince(
  previous: CoverageRecord | undefined,
  auditOn: boolean,
  now: Date,
): string | undefined {
  if (!auditOn) return undefined;
  return previous?.auditOnSince ?? now.toISOString();
}

export function decideTransition(input: TransitionInput): Transition {
  const { previous, assessment, now } = input;
  const change: Change = {
    from: previous?.state,
    to: assessment.state,
    status: input.status,
    repair: input.repair?.reason,
  };
  // The last rule applies to everything, so a rule is always found.
  const rule = TRANSITION_RULES.find((candidate) => candidate.applies(change)) as TransitionRule;
  if (!rule.store) return { alert: rule.alert(change), record: undefined, rule: rule.rule };
  const time = now.toISOString();
  const onSince = auditOnSince(previous, input.auditOn, now);
  const record: Omit<CoverageRecord, "pendingAlert"> = {
    cluster: input.cluster,
    state: assessment.state,
    version: (previous?.version ?? 0) + 1,
    since: previous !== undefined && previous.state === assessment.state ? previous.since : time,
    checkedAt: time,
    ...(assessment.state === "covered"
      ? { coveredAt: time }
      : previous?.coveredAt
        ? { coveredAt: previous.coveredAt }
        : {}),
    ...(onSince ? { auditOnSince: onSince } : {}),
  };
  return { alert: rule.alert(change), record, rule: rule.rule };
}
