import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { decodeDocument } from "../../core/decode-input.ts";
import type { DetectionConfig } from "../../core/detection-config.ts";
import { type DetectionStats, Detector } from "../../core/detector.ts";
import type { Finding } from "../../core/finding.ts";
import type { DecodedInput, InputProblem } from "../../core/log-record.ts";
import { SEVERITIES } from "../../core/severity.ts";
import {
  IN_PROGRESS_ELSEWHERE,
  PublishOnceError,
  type PublishOnceResult,
} from "../aws/publish-findings-once.ts";

/**
 * One detect invocation: decode whatever arrived, detect, publish, account for everything. Shared by the
 * Lambda handler and `npm run replay` so both behave the same.
 */

/** detect's metric names; dashboards and alarms depend on them, so they change only with infra/alarms.yml. */
export const METRIC = {
  eventsSeen: "EventsSeen",
  skipped: "Skipped",
  findings: "Findings",
  rejects: "Rejects",
  controlMessages: "ControlMessages",
  published: "Published",
  duplicates: "DuplicatesSuppressed",
  publishFailures: "PublishFailures",
  idempotencyFailures: "IdempotencyFailures",
} as const;

/** Publishes findings (exactly once) or prints them (local mode). Throws when some were not published. */
export type FindingSink = (findings: readonly Finding[]) => Promise<PublishOnceResult>;

export interface DetectDeps {
  detection: DetectionConfig;
  sink: FindingSink;
  logger: Logger;
  metrics: Metrics;
}

/** The detector's own counts (its `problems` reported as `rejects`), plus what publishing did. */
export type InvocationSummary = Pick<
  DetectionStats,
  "records" | "findings" | "findingsBySeverity" | "skipped" | "controlMessages"
> & {
  form: DecodedInput["form"];
  rejects: number;
  published: number;
  duplicates: number;
  unrecorded: number;
  publishFailures: number;
  idempotencyFailures: number;
};

/** Problem messages can quote input (JSON parse errors do): bounded so a log line never carries a body. */
const MAX_PROBLEM_MESSAGE = 200;
/** A failed invocation lists this many of its unpublished findings; the count says how many there were. */
const MAX_LOGGED_FAILURES = 20;

function logProblem(logger: Logger, problem: InputProblem): void {
  const message =
    problem.message.length > MAX_PROBLEM_MESSAGE
      ? `${problem.message.slice(0, MAX_PROBLEM_MESSAGE)}…`
      : problem.message;
  logger.warn("input rejected", { position: problem.position, kind: problem.kind, reason: message });
}

/** Enough to find the alert and the audit event; the finding itself (commands, images, env) goes to SNS only. */
function logFinding(logger: Logger, finding: Finding): void {
  logger.info("finding", {
    auditID: finding.auditID,
    severity: finding.severity,
    pod: `${finding.pod.namespace}/${finding.pod.name}`,
    actor: finding.actor.username,
  });
}

function recordMetrics(metrics: Metrics, summary: InvocationSummary): void {
  metrics.addMetric(METRIC.eventsSeen, MetricUnit.Count, summary.records);
  metrics.addMetric(METRIC.rejects, MetricUnit.Count, summary.rejects);
  metrics.addMetric(METRIC.controlMessages, MetricUnit.Count, summary.controlMessages);
  metrics.addMetric(METRIC.published, MetricUnit.Count, summary.published);
  metrics.addMetric(METRIC.duplicates, MetricUnit.Count, summary.duplicates);
  metrics.addMetric(METRIC.publishFailures, MetricUnit.Count, summary.publishFailures);
  metrics.addMetric(METRIC.idempotencyFailures, MetricUnit.Count, summary.idempotencyFailures);
  for (const [reason, count] of Object.entries(summary.skipped)) {
    if (count === 0) continue;
    const metric = metrics.singleMetric();
    metric.addDimension("reason", reason);
    metric.addMetric(METRIC.skipped, MetricUnit.Count, count);
  }
  for (const severity of SEVERITIES) {
    const count = summary.findingsBySeverity[severity] ?? 0;
    if (count === 0) continue;
    const metric = metrics.singleMetric();
    metric.addDimension("severity", severity);
    metric.addMetric(METRIC.findings, MetricUnit.Count, count);
  }
}

export async function detectInvocation(event: unknown, deps: DetectDeps): Promise<InvocationSummary> {
  const { logger, metrics } = deps;
  const detector = new Detector(deps.detection, (problem) => logProblem(logger, problem));
  const decoded = decodeDocument(event, "invocation");
  const findings = detector.ingest(decoded);
  for (const finding of findings) logFinding(logger, finding);

  const stats = detector.stats;
  const summary: InvocationSummary = {
    form: decoded.form,
    records: stats.records,
    findings: stats.findings,
    findingsBySeverity: { ...stats.findingsBySeverity },
    skipped: { ...stats.skipped },
    rejects: stats.problems,
    controlMessages: stats.controlMessages,
    published: 0,
    duplicates: 0,
    unrecorded: 0,
    publishFailures: 0,
    idempotencyFailures: 0,
  };

  let failure: PublishOnceError | undefined;
  let result: PublishOnceResult | undefined;
  try {
    if (findings.length > 0) result = await deps.sink(findings);
  } catch (error) {
    if (!(error instanceof PublishOnceError)) throw error;
    failure = error;
    result = error.result;
  }
  const failures = failure?.failures ?? [];
  summary.published = result?.published.length ?? 0;
  summary.duplicates = result?.duplicates.length ?? 0;
  summary.unrecorded = result?.unrecorded.length ?? 0;
  summary.publishFailures = failures.filter((f) => f.stage === "publish").length;
  // A claim that found another invocation's live record is contention, not a failing table.
  summary.idempotencyFailures =
    summary.unrecorded +
    failures.filter((f) => f.stage === "claim" && f.reason !== IN_PROGRESS_ELSEWHERE).length;

  recordMetrics(metrics, summary);
  for (const finding of result?.unrecorded ?? []) {
    logger.error("published but not recorded: a redelivery may repeat it", { auditID: finding.auditID });
  }
  if (failure) {
    logger.error("findings not published; failing the invocation so that it is retried", {
      ...summary,
      notPublished: failure.failures
        .slice(0, MAX_LOGGED_FAILURES)
        .map((f) => ({ auditID: f.finding.auditID, stage: f.stage, reason: f.reason })),
      notPublishedCount: failure.failures.length,
    });
    throw failure;
  }
  logger.info("invocation summary", { ...summary });
  return summary;
}
