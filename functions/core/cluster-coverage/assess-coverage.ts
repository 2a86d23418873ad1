import { clusterLogGroup } from "./cluster-scope.ts";
import type { BlindState, CoverageState } from "./coverage-state.ts";
import type { PutReason } from "./subscription-plan.ts";

/**
 * From what the AWS APIs said about one cluster to its coverage state. The checks are a table in priority
 * order; a problem is reported only when known, and `covered` only when every check is known to pass, so a
 * throttled or refused call never turns into a false alarm or a false all-clear.
 */

/** EKS cluster statuses, and NOT_FOUND when DescribeCluster says the cluster does not exist. */
export const EKS_CLUSTER_STATUSES = [
  "CREATING",
  "ACTIVE",
  "DELETING",
  "FAILED",
  "UPDATING",
  "PENDING",
] as const;
export type ClusterStatus = (typeof EKS_CLUSTER_STATUSES)[number] | "NOT_FOUND";

export type Known<T> = { known: true; value: T } | { known: false; error: string };

export function known<T>(value: T): Known<T> {
  return { known: true, value };
}

export function unknown<T>(error: string): Known<T> {
  return { known: false, error };
}

/** detect's subscription on the cluster's log group after coverage did what it could. */
export type SubscriptionFact =
  /** In place; `repair` says what coverage had to put right this run. */
  | { kind: "in-place"; repair?: { reason: PutReason; previousDestination?: string } }
  /** Missing, and both slots are taken by filters coverage does not own. */
  | { kind: "slots-taken"; others: string[] }
  /** The log group `/aws/eks/<cluster>/cluster` does not exist. */
  | { kind: "no-log-group" }
  /** Missing, and CloudWatch Logs refused to put it (access denied, limit reached, invalid). */
  | { kind: "refused"; detail: string };

export interface CoverageObservation {
  cluster: string;
  /** A ClusterStatus; a status this code does not know yet counts as not ready. */
  status: string;
  /** DescribeCluster's `logging.clusterLogging`: is the `audit` type enabled? */
  auditLogging: boolean;
  /**
   * What an UpdateClusterConfig call that triggered this run asked for the `audit` type, when it asked. While
   * the update is in progress (status UPDATING) DescribeCluster still shows the old setting.
   */
  requestedAuditLogging?: boolean;
  /** When the cluster was created (epoch ms), when known. */
  createdAt?: number;
  subscription: Known<SubscriptionFact>;
  /** Time of the newest audit event (epoch ms), null for none at all; absent when freshness was not checked. */
  lastAuditEventAt?: Known<number | null>;
}

export interface AssessOptions {
  now: number;
  /** An ACTIVE cluster with no audit event for longer than this is silent. */
  silenceMs: number;
  /**
   * Since when audit logging is known to be on (epoch ms; the caller keeps it between runs). Silence is
   * counted from the newest of this, the cluster's creation and its last audit event, so a cluster whose
   * logging was just switched on is not called silent before it had the chance to speak.
   */
  auditOnSince: number;
}

export interface Problem {
  state: BlindState;
  detail: string;
}

export type Assessment =
  | { kind: "state"; state: CoverageState; problems: Problem[] }
  /** CREATING, PENDING, FAILED (or a status this code does not know): nothing to check, nothing to change. */
  | { kind: "not-ready"; status: string }
  /** A check could not be made (an API call failed): the state is left as it was. */
  | { kind: "inconclusive"; reasons: string[] };

type Verdict =
  | { present: true; detail: string }
  | { present: false }
  | { present: "unknown"; reason: string };

const absent: Verdict = { present: false };

/** Whether the audit log type is off now, or being switched off by an update in progress. */
export function auditLoggingOff(observation: CoverageObservation): boolean {
  if (observation.status === "UPDATING" && observation.requestedAuditLogging === false) return true;
  return !observation.auditLogging;
}

/** Freshness is checked only where silence would mean something: an ACTIVE cluster logging into its group. */
export function freshnessApplies(observation: Omit<CoverageObservation, "lastAuditEventAt">): boolean {
  return (
    observation.status === "ACTIVE" &&
    !auditLoggingOff(observation) &&
    observation.subscription.known &&
    observation.subscription.value.kind !== "no-log-group"
  );
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function minutes(ms: number): string {
  const value = Math.round(ms / 60_000);
  return `${value} minute${value === 1 ? "" : "s"}`;
}

const SUBSCRIPTION_DETAIL: Record<
  Exclude<SubscriptionFact["kind"], "in-place">,
  (fact: SubscriptionFact, logGroup: string) => string
> = {
  "slots-taken": (fact, logGroup) =>
    `both subscription filter slots of ${logGroup} are taken by other filters (${
      fact.kind === "slots-taken" ? fact.others.join(", ") : ""
    }); coverage never removes a filter it does not own`,
  "no-log-group": (_fact, logGroup) => `the log group ${logGroup} does not exist`,
  refused: (fact, logGroup) =>
    `CloudWatch Logs refused to put detect's subscription filter on ${logGroup}: ${
      fact.kind === "refused" ? fact.detail : ""
    }`,
};

interface Check {
  state: BlindState;
  verdict(observation: CoverageObservation, options: AssessOptions): Verdict;
}

/** In priority order: the first problem present is the state; all present ones are listed. */
const CHECKS: readonly Check[] = [
  {
    state: "audit-disabled",
    verdict: (observation) => {
      if (!auditLoggingOff(observation)) return absent;
      return {
        present: true,
        detail: observation.auditLogging
          ? "an UpdateClusterConfig call is switching the audit log type off (update in progress)"
          : "the audit log type is disabled in the cluster's logging configuration",
      };
    },
  },
  {
    state: "unsubscribed",
    verdict: (observation) => {
      const { subscription } = observation;
      if (!subscription.known) return { present: "unknown", reason: subscription.error };
      const fact = subscription.value;
      if (fact.kind === "in-place") return absent;
      // A cluster that never logged has no log group yet: that is the audit problem above, not this one.
      if (fact.kind === "no-log-group" && auditLoggingOff(observation)) return absent;
      return {
        present: true,
        detail: SUBSCRIPTION_DETAIL[fact.kind](fact, clusterLogGroup(observation.cluster)),
      };
    },
  },
  {
    state: "silent",
    verdict: (observation, options) => {
      if (!freshnessApplies(observation)) return absent;
      const last = observation.lastAuditEventAt;
      if (last === undefined) return { present: "unknown", reason: "freshness was not checked" };
      if (!last.known) return { present: "unknown", reason: last.error };
      const reference = Math.max(last.value ?? 0, observation.createdAt ?? 0, options.auditOnSince);
      if (options.now - reference <= options.silenceMs) return absent;
      const since =
        last.value === null ? "no audit event at all" : `the last audit event is from ${iso(last.value)}`;
      return {
        present: true,
        detail: `${since} in ${clusterLogGroup(observation.cluster)}: quiet for longer than ${minutes(options.silenceMs)}`,
      };
    },
  },
];

/** What each EKS status means for coverage before any check runs. */
const STATUS_MEANING: Record<ClusterStatus, "check" | "deleted" | "not-ready"> = {
  ACTIVE: "check",
  UPDATING: "check",
  CREATING: "not-ready",
  PENDING: "not-ready",
  FAILED: "not-ready",
  DELETING: "deleted",
  NOT_FOUND: "deleted",
};

export function assessCoverage(observation: CoverageObservation, options: AssessOptions): Assessment {
  const meaning = Object.hasOwn(STATUS_MEANING, observation.status)
    ? STATUS_MEANING[observation.status as ClusterStatus]
    : "not-ready";
  if (meaning === "deleted") return { kind: "state", state: "deleted", problems: [] };
  if (meaning === "not-ready") return { kind: "not-ready", status: observation.status };
  const problems: Problem[] = [];
  const unknowns: string[] = [];
  let state: BlindState | undefined;
  for (const check of CHECKS) {
    const verdict = check.verdict(observation, options);
    if (verdict.present === "unknown") {
      unknowns.push(`${check.state}: ${verdict.reason}`);
    } else if (verdict.present) {
      problems.push({ state: check.state, detail: verdict.detail });
      // A higher-priority check that could not be made leaves the state undecided.
      if (state === undefined && unknowns.length === 0) state = check.state;
    }
  }
  if (state !== undefined) return { kind: "state", state, problems };
  if (unknowns.length > 0) return { kind: "inconclusive", reasons: unknowns };
  return { kind: "state", state: "covered", problems: [] };
}
