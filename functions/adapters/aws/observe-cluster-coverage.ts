import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import {
  type CoverageObservation,
  freshnessApplies,
  type Known,
  known,
  type SubscriptionFact,
  unknown,
} from "../../core/cluster-coverage/assess-coverage.ts";
import { clusterLogGroup } from "../../core/cluster-coverage/cluster-scope.ts";
import { type DesiredFilter, planSubscription } from "../../core/cluster-coverage/subscription-plan.ts";
import { lastAuditEventTime } from "./audit-log-freshness.ts";
import type { EksClusters } from "./eks-clusters.ts";
import { putSubscriptionFilter, readSubscriptionFilters } from "./log-group-subscriptions.ts";

/**
 * Everything coverage learns about one cluster, and the one change it makes on the way: detect's subscription
 * filter is put where it is missing (or stale, or redirected) before the state is decided, so "not fixable"
 * means coverage tried. DescribeCluster failing is thrown (nothing can be decided); any later call failing
 * leaves only its own fact unknown.
 */

export interface ObserveOptions {
  clusters: EksClusters;
  logs: CloudWatchLogsClient;
  desiredFilter: DesiredFilter;
  filtersPerLogGroup: number;
  silenceMs: number;
  now: number;
  /** From the UpdateClusterConfig call that triggered this check, if one did. */
  requestedAuditLogging?: boolean;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Statuses whose log group is worth reading: the others are decided from the status alone. */
const STATUSES_CHECKED = new Set(["ACTIVE", "UPDATING"]);

async function subscriptionFact(cluster: string, options: ObserveOptions): Promise<Known<SubscriptionFact>> {
  const logGroup = clusterLogGroup(cluster);
  try {
    const read = await readSubscriptionFilters(options.logs, logGroup);
    if (!read.exists) return known({ kind: "no-log-group" });
    const plan = planSubscription(read.filters, options.desiredFilter, options.filtersPerLogGroup);
    if (plan.action === "keep") return known({ kind: "in-place" });
    if (plan.action === "blocked") return known({ kind: "slots-taken", others: plan.others });
    const result = await putSubscriptionFilter(options.logs, logGroup, options.desiredFilter);
    if (!result.put) {
      return known(
        result.missingLogGroup ? { kind: "no-log-group" } : { kind: "refused", detail: result.refusal },
      );
    }
    return known({
      kind: "in-place",
      repair: {
        reason: plan.reason,
        ...(plan.previousDestination ? { previousDestination: plan.previousDestination } : {}),
      },
    });
  } catch (error) {
    return unknown(describeError(error));
  }
}

export async function observeClusterCoverage(
  cluster: string,
  options: ObserveOptions,
): Promise<CoverageObservation> {
  const described = await options.clusters.describe(cluster);
  const base = {
    cluster,
    status: described.status,
    auditLogging: described.auditLogging,
    ...(options.requestedAuditLogging !== undefined
      ? { requestedAuditLogging: options.requestedAuditLogging }
      : {}),
    ...(described.createdAt !== undefined ? { createdAt: described.createdAt } : {}),
  };
  if (!STATUSES_CHECKED.has(described.status)) {
    return { ...base, subscription: unknown("not checked: the cluster is not ACTIVE or UPDATING") };
  }
  const observation: CoverageObservation = {
    ...base,
    subscription: await subscriptionFact(cluster, options),
  };
  if (!freshnessApplies(observation)) return observation;
  try {
    const last = await lastAuditEventTime(options.logs, clusterLogGroup(cluster), {
      now: options.now,
      windowMs: options.silenceMs,
    });
    return { ...observation, lastAuditEventAt: known(last) };
  } catch (error) {
    return { ...observation, lastAuditEventAt: unknown(describeError(error)) };
  }
}
