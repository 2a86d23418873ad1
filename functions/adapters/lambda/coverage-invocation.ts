import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import type { SNSClient } from "@aws-sdk/client-sns";
import { assessCoverage, auditLoggingOff } from "../../core/cluster-coverage/assess-coverage.ts";
import { type ClusterScope, clustersToCheck, inScope } from "../../core/cluster-coverage/cluster-scope.ts";
import {
  buildCoverageAlert,
  type CoverageAlert,
  type CoverageTrigger,
} from "../../core/cluster-coverage/coverage-alert.ts";
import {
  COVERAGE_ALERT_KINDS,
  type CoverageAlertKind,
  type CoverageState,
  isBlind,
} from "../../core/cluster-coverage/coverage-state.ts";
import {
  auditOnSince,
  type CoverageRecord,
  decideTransition,
  keepStateForRepair,
} from "../../core/cluster-coverage/coverage-transition.ts";
import { type CoverageRequest, readCoverageRequest } from "../../core/cluster-coverage/coverage-trigger.ts";
import type { DesiredFilter, PutReason } from "../../core/cluster-coverage/subscription-plan.ts";
import { runBounded } from "../../core/run-bounded.ts";
import { actOnce, describeError, type IdempotencyStore } from "../aws/act-once.ts";
import { coverageMessage } from "../aws/coverage-message.ts";
import type { CoverageStateStore } from "../aws/coverage-state-store.ts";
import type { EksClusters } from "../aws/eks-clusters.ts";
import { observeClusterCoverage } from "../aws/observe-cluster-coverage.ts";
import { publishMessages } from "../aws/sns-publisher.ts";

/**
 * One run of the coverage function: read what the event asks (every cluster, or the one a CloudTrail call
 * names), check each cluster, store its state, and publish an alert per change of state exactly once.
 *
 * Per cluster: (1) an alert decided earlier but not known to be published goes out first; (2) observe (this
 * puts detect's filter back where it is missing); (3) assess and decide the transition in the core; (4) store
 * the new record with the alert in it, conditionally on the version read, so of two concurrent runs only one
 * announces a change; (5) publish the alert exactly once (act-once on its id) and clear it from the record.
 */

/** Metric names; infra/coverage.yml alarms on some of them, so they change only together. */
export const COVERAGE_METRIC = {
  checked: "CoverageClustersChecked",
  checkFailures: "CoverageCheckFailures",
  notChecked: "CoverageClustersNotChecked",
  alerts: "CoverageAlerts",
  publishFailures: "CoveragePublishFailures",
  filtersPut: "CoverageFiltersPut",
  blind: "CoverageBlindClusters",
} as const;

/** Idempotency records of coverage alerts, apart from detect's and remediate's (the IAM policy says so too). */
export const COVERAGE_KEY_PREFIX = "ephemeral-guard.coverage";

/** A cluster check is not started with less than this left: a cut-off check would leave nothing useful. */
export const START_MARGIN_MS = 15_000;

export interface CoverageSettings {
  region: string;
  /** The account the clusters are in, named in alerts when known. */
  account?: string | undefined;
  topicArn: string;
  scope: ClusterScope;
  desiredFilter: DesiredFilter;
  filtersPerLogGroup: number;
  silenceMs: number;
  recordTtlSeconds: number;
  concurrency: number;
}

export interface CoverageDeps {
  settings: CoverageSettings;
  clusters: EksClusters;
  logs: CloudWatchLogsClient;
  sns: SNSClient;
  state: CoverageStateStore;
  idempotency: IdempotencyStore;
  logger: Logger;
  metrics?: Metrics;
  now?: () => Date;
}

export const CHECK_OUTCOMES = [
  "unchanged",
  "alerted",
  "held",
  "not-ready",
  "inconclusive",
  "superseded",
  "publish-failed",
  "out-of-time",
] as const;
export type CheckOutcome = (typeof CHECK_OUTCOMES)[number];

export interface CheckResult {
  cluster: string;
  outcome: CheckOutcome;
  state?: CoverageState;
  alert?: CoverageAlertKind;
  filterPut?: PutReason;
  reasons?: string[];
}

export interface CoverageSummary {
  request: CoverageRequest["kind"];
  clusters: number;
  outcomes: Record<CheckOutcome, number>;
  /** Alerts published in this run (including ones left pending by an earlier run). */
  alerts: Record<CoverageAlertKind, number>;
  filtersPut: number;
  /** Clusters in a blind state after a full check (absent when only one cluster was checked). */
  blind?: number;
}

/** Publishing failed: the alert stays in the cluster's record and the run fails so that Lambda retries it. */
export class CoveragePublishError extends Error {
  constructor(
    message: string,
    readonly clusters: string[],
  ) {
    super(message);
    this.name = "CoveragePublishError";
  }
}

type Published = "sent" | "elsewhere" | "failed";

async function publishOnce(
  alert: CoverageAlert,
  deps: CoverageDeps,
  remainingMs: () => number,
): Promise<Published> {
  const result = await actOnce(deps.idempotency, `coverage:${alert.id}`, remainingMs(), () =>
    publishMessages(deps.sns, deps.settings.topicArn, [coverageMessage(alert)]),
  );
  switch (result.kind) {
    case "acted":
    case "duplicate":
      return "sent";
    case "in-progress":
      return "elsewhere";
    case "claim-failed":
      deps.logger.error("coverage alert not published: the idempotency table refused the claim", {
        cluster: alert.cluster,
        alertId: alert.id,
        reason: result.reason,
      });
      return "failed";
    case "act-failed":
      deps.logger.error("coverage alert not published: SNS refused it", {
        cluster: alert.cluster,
        alertId: alert.id,
        error: describeError(result.error),
      });
      return "failed";
  }
}

interface CheckContext {
  trigger?: CoverageTrigger;
  requestedAuditLogging?: boolean;
}

/** Publishes what an earlier check decided but could not publish. false: it is still not published. */
async function publishPending(
  record: CoverageRecord,
  deps: CoverageDeps,
  remainingMs: () => number,
  published: CoverageAlertKind[],
): Promise<boolean> {
  const pending = record.pendingAlert;
  if (!pending) return true;
  const result = await publishOnce(pending, deps, remainingMs);
  if (result === "failed") return false;
  if (result === "sent") {
    published.push(pending.alert);
    await deps.state.clearPendingAlert(record.cluster, record.version);
  }
  return true;
}

async function checkCluster(
  cluster: string,
  context: CheckContext,
  deps: CoverageDeps,
  remainingMs: () => number,
  published: CoverageAlertKind[],
): Promise<CheckResult> {
  const { settings, logger } = deps;
  const nowDate = (deps.now ?? (() => new Date()))();
  const now = nowDate.getTime();
  const stored = await deps.state.get(cluster);
  if (stored.unreadable) {
    logger.warn("coverage record unreadable: the cluster is checked as if first seen", {
      cluster,
      problem: stored.unreadable,
    });
  }
  const previous = stored.record;
  if (previous && !(await publishPending(previous, deps, remainingMs, published))) {
    return { cluster, outcome: "publish-failed", reasons: ["an earlier alert is still not published"] };
  }

  const observation = await observeClusterCoverage(cluster, {
    clusters: deps.clusters,
    logs: deps.logs,
    desiredFilter: settings.desiredFilter,
    filtersPerLogGroup: settings.filtersPerLogGroup,
    silenceMs: settings.silenceMs,
    now,
    ...(context.requestedAuditLogging !== undefined
      ? { requestedAuditLogging: context.requestedAuditLogging }
      : {}),
  });
  const subscription = observation.subscription.known ? observation.subscription.value : undefined;
  const repair = subscription?.kind === "in-place" ? subscription.repair : undefined;
  const filterPut = repair?.reason;
  if (repair) {
    logger.info("detect's subscription filter put", {
      cluster,
      reason: repair.reason,
      previousDestination: repair.previousDestination,
    });
  }
  const auditOn = !auditLoggingOff(observation);
  const onSince = auditOnSince(previous, auditOn, nowDate);
  const assessed = assessCoverage(observation, {
    now,
    silenceMs: settings.silenceMs,
    auditOnSince: onSince === undefined ? now : Date.parse(onSince),
  });
  const kept = assessed.kind === "inconclusive" ? keepStateForRepair(previous, repair) : undefined;
  if (kept && assessed.kind === "inconclusive") {
    logger.warn("check incomplete, but a tampered filter was put back: announcing that, state unchanged", {
      cluster,
      reasons: assessed.reasons,
    });
  }
  const assessment = kept ?? assessed;
  if (assessment.kind === "not-ready") {
    return {
      cluster,
      outcome: "not-ready",
      reasons: [`status ${assessment.status}`],
      ...(filterPut ? { filterPut } : {}),
    };
  }
  if (assessment.kind === "inconclusive") {
    return {
      cluster,
      outcome: "inconclusive",
      reasons: assessment.reasons,
      ...(filterPut ? { filterPut } : {}),
    };
  }

  const transition = decideTransition({
    cluster,
    previous,
    assessment,
    status: observation.status,
    repair,
    auditOn,
    now: nowDate,
  });
  const base = { cluster, state: assessment.state, ...(filterPut ? { filterPut } : {}) };
  if (!transition.record) return { ...base, outcome: "held", reasons: [transition.rule] };

  const alert = transition.alert
    ? buildCoverageAlert({
        kind: transition.alert,
        id: `${cluster}:${transition.record.version}:${transition.record.checkedAt}`,
        cluster,
        region: settings.region,
        account: settings.account,
        state: assessment.state,
        previousState: previous?.state,
        previousSince: previous?.since,
        problems: assessment.problems,
        subscription,
        repair,
        lastAuditEventAt:
          observation.lastAuditEventAt?.known === true ? observation.lastAuditEventAt.value : undefined,
        coveredUntil: previous?.coveredAt,
        trigger: context.trigger,
        time: nowDate.toISOString(),
      })
    : undefined;
  const record: CoverageRecord = { ...transition.record, ...(alert ? { pendingAlert: alert } : {}) };
  const expiresAt = Math.floor(now / 1000) + settings.recordTtlSeconds;
  if ((await deps.state.write(record, stored.version, expiresAt)) === "superseded") {
    logger.info("another run recorded this cluster first; its decision stands", { cluster });
    return { ...base, outcome: "superseded" };
  }
  if (!alert) return { ...base, outcome: "unchanged" };
  logger.warn("coverage changed", {
    cluster,
    alert: alert.alert,
    severity: alert.severity,
    from: previous?.state,
    to: assessment.state,
    rule: transition.rule,
    problems: assessment.problems,
  });
  const result = await publishOnce(alert, deps, remainingMs);
  if (result === "failed") return { ...base, alert: alert.alert, outcome: "publish-failed" };
  if (result === "sent") {
    published.push(alert.alert);
    await deps.state.clearPendingAlert(cluster, record.version);
  }
  return { ...base, alert: alert.alert, outcome: "alerted" };
}

/** The clusters a full check covers: in scope and existing, listed but missing, and known ones now gone. */
async function sweepTargets(deps: CoverageDeps): Promise<string[]> {
  const existing = await deps.clusters.list();
  const { records, unreadable } = await deps.state.scan();
  for (const item of unreadable) {
    deps.logger.warn("coverage record unreadable", { cluster: item.cluster, problem: item.problem });
  }
  const scope = deps.settings.scope;
  const listedMissing = scope.clusters.filter((name) => inScope(scope, name) && !existing.includes(name));
  if (listedMissing.length > 0) {
    // Checked anyway (a known one is then recorded as deleted), but a typo in `clusters` watches nothing.
    deps.logger.warn("clusters listed in the clusters parameter do not exist in this region", {
      clusters: listedMissing,
      region: deps.settings.region,
    });
  }
  const gone = records
    .filter((record) => inScope(scope, record.cluster) && !existing.includes(record.cluster))
    .filter((record) => record.state !== "deleted" || record.pendingAlert !== undefined)
    .map((record) => record.cluster);
  return [...new Set([...clustersToCheck(scope, existing), ...gone])].sort();
}

function emptySummary(request: CoverageRequest["kind"]): CoverageSummary {
  return {
    request,
    clusters: 0,
    outcomes: Object.fromEntries(CHECK_OUTCOMES.map((outcome) => [outcome, 0])) as Record<
      CheckOutcome,
      number
    >,
    alerts: Object.fromEntries(COVERAGE_ALERT_KINDS.map((kind) => [kind, 0])) as Record<
      CoverageAlertKind,
      number
    >,
    filtersPut: 0,
  };
}

function recordMetrics(metrics: Metrics | undefined, summary: CoverageSummary): void {
  if (!metrics) return;
  const { outcomes } = summary;
  metrics.addMetric(COVERAGE_METRIC.checked, MetricUnit.Count, summary.clusters - outcomes["out-of-time"]);
  metrics.addMetric(COVERAGE_METRIC.checkFailures, MetricUnit.Count, outcomes.inconclusive);
  metrics.addMetric(COVERAGE_METRIC.notChecked, MetricUnit.Count, outcomes["out-of-time"]);
  metrics.addMetric(COVERAGE_METRIC.publishFailures, MetricUnit.Count, outcomes["publish-failed"]);
  metrics.addMetric(COVERAGE_METRIC.filtersPut, MetricUnit.Count, summary.filtersPut);
  if (summary.blind !== undefined) metrics.addMetric(COVERAGE_METRIC.blind, MetricUnit.Count, summary.blind);
  for (const kind of COVERAGE_ALERT_KINDS) {
    const count = summary.alerts[kind];
    if (count === 0) continue;
    const metric = metrics.singleMetric();
    metric.addDimension("alert", kind);
    metric.addMetric(COVERAGE_METRIC.alerts, MetricUnit.Count, count);
  }
}

export async function runCoverage(
  event: unknown,
  deps: CoverageDeps,
  remainingMs: () => number,
): Promise<CoverageSummary> {
  const { logger, settings } = deps;
  const request = readCoverageRequest(event);
  const summary = emptySummary(request.kind);
  let targets: string[];
  let context: CheckContext = {};
  switch (request.kind) {
    case "ignore":
      logger.info("nothing to check", { reason: request.reason });
      return summary;
    case "cluster":
      if (!inScope(settings.scope, request.cluster)) {
        logger.info("the event names a cluster outside the watched scope", {
          cluster: request.cluster,
          eventName: request.trigger.eventName,
        });
        return summary;
      }
      targets = [request.cluster];
      // A failed call changed nothing: the check runs, but no alert is pinned on it.
      context = request.failedWith
        ? {}
        : {
            trigger: request.trigger,
            ...(request.requestedAuditLogging !== undefined
              ? { requestedAuditLogging: request.requestedAuditLogging }
              : {}),
          };
      if (request.failedWith) {
        logger.info("the triggering call failed; checking the cluster anyway", {
          cluster: request.cluster,
          eventName: request.trigger.eventName,
          errorCode: request.failedWith,
        });
      }
      break;
    case "sweep":
      if (request.reason !== "schedule")
        logger.info("not a schedule or CloudTrail event: checking every cluster");
      targets = await sweepTargets(deps);
      break;
  }

  const published: CoverageAlertKind[] = [];
  const results = await runBounded(targets, settings.concurrency, async (cluster): Promise<CheckResult> => {
    if (remainingMs() < START_MARGIN_MS) return { cluster, outcome: "out-of-time" };
    return checkCluster(cluster, context, deps, remainingMs, published);
  });

  summary.clusters = targets.length;
  const failedPublishing: string[] = [];
  let blind = 0;
  results.forEach((settled, index) => {
    const cluster = targets[index] ?? "";
    const result: CheckResult = settled.ok
      ? settled.value
      : { cluster, outcome: "inconclusive", reasons: [describeError(settled.error)] };
    summary.outcomes[result.outcome]++;
    if (result.filterPut) summary.filtersPut++;
    if (isBlind(result.state)) blind++;
    if (result.outcome === "publish-failed") failedPublishing.push(cluster);
    if (result.outcome === "inconclusive" || result.outcome === "out-of-time") {
      logger.warn("cluster not decided in this run; its state is unchanged", { ...result });
    }
  });
  for (const kind of published) summary.alerts[kind]++;
  if (request.kind === "sweep") summary.blind = blind;
  recordMetrics(deps.metrics, summary);
  logger.info("coverage summary", { ...summary });
  if (failedPublishing.length > 0) {
    throw new CoveragePublishError(
      `coverage alerts for ${failedPublishing.join(", ")} are not published yet; they are kept and retried`,
      failedPublishing,
    );
  }
  return summary;
}
