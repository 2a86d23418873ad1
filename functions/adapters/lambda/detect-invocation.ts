import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { decodeDocument } from "../../core/decode-input.ts";
import type { DetectionConfig } from "../../core/detection-config.ts";
import { type DetectionStats, Detector } from "../../core/detector.ts";
import type { Finding } from "../../core/finding.ts";
import type { DecodedInput, InputProblem } from "../../core/log-record.ts";
import { SEVERITIES } from "../../core/severity.ts";
import { type SliceLimits, slicesOf } from "../../core/slice-input.ts";
import {
  emptyPublishOnceResult,
  PublishOnceError,
  type PublishOnceFailure,
  type PublishOnceResult,
} from "../aws/publish-once-result.ts";

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
  /** Published in a shorter form than built, to fit one SNS message. */
  shortened: number;
  /** Not published for any reason other than the idempotency claim (message, publish, deadline). */
  publishFailures: number;
  idempotencyFailures: number;
};

/** Problem messages can quote input (JSON parse errors do): bounded so a log line never carries a body. */
const MAX_PROBLEM_MESSAGE = 200;
/** A failed invocation lists this many of its unpublished findings (and logs this many shortened or
 * unrecorded ones); the counts say how many there were. */
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

/**
 * Records detected, and their findings published, per slice: each slice's findings are published (and let go)
 * before the next slice is read, so memory holds one slice's findings whatever the delivery holds.
 */
export const SLICE: SliceLimits = { records: 1_000, chars: 4 * 1024 * 1024 };

/** What the sink did over all slices. Failures are small records (auditID, stage, reason), not findings. */
interface Published {
  result: PublishOnceResult;
  failures: PublishOnceFailure[];
}

async function publishSlice(sink: FindingSink, findings: readonly Finding[], into: Published): Promise<void> {
  let result: PublishOnceResult;
  try {
    result = await sink(findings);
  } catch (error) {
    if (!(error instanceof PublishOnceError)) throw error;
    result = error.result;
    into.failures.push(...error.failures);
  }
  into.result.published.push(...result.published);
  into.result.duplicates.push(...result.duplicates);
  into.result.unrecorded.push(...result.unrecorded);
  into.result.shortened.push(...result.shortened);
}

export async function detectInvocation(event: unknown, deps: DetectDeps): Promise<InvocationSummary> {
  const { logger, metrics } = deps;
  const detector = new Detector(deps.detection, (problem) => logProblem(logger, problem));
  const decoded = decodeDocument(event, "invocation");
  const done: Published = { result: emptyPublishOnceResult(), failures: [] };
  for (const slice of slicesOf(decoded, SLICE)) {
    const findings = detector.ingest(slice);
    for (const finding of findings) logFinding(logger, finding);
    if (findings.length > 0) await publishSlice(deps.sink, findings, done);
  }

  const stats = detector.stats;
  const { result, failures } = done;
  const summary: InvocationSummary = {
    form: decoded.form,
    records: stats.records,
    findings: stats.findings,
    findingsBySeverity: { ...stats.findingsBySeverity },
    skipped: { ...stats.skipped },
    rejects: stats.problems,
    controlMessages: stats.controlMessages,
    published: result.published.length,
    duplicates: result.duplicates.length,
    unrecorded: result.unrecorded.length,
    shortened: result.shortened.length,
    publishFailures: failures.filter((f) => f.stage !== "claim").length,
    // A claim that found another invocation's live record is contention, not a failing table.
    idempotencyFailures:
      result.unrecorded.length + failures.filter((f) => f.stage === "claim" && !f.elsewhere).length,
  };

  recordMetrics(metrics, summary);
  for (const auditID of result.unrecorded.slice(0, MAX_LOGGED_FAILURES)) {
    logger.error("published but not recorded: a redelivery may repeat it", { auditID });
  }
  for (const auditID of result.shortened.slice(0, MAX_LOGGED_FAILURES)) {
    logger.warn("finding shortened to fit one SNS message: its omitted field says what was left out", {
      auditID,
    });
  }
  if (failures.length > 0) {
    const failure = new PublishOnceError(failures, result);
    logger.error("findings not published; failing the invocation so that it is retried", {
      ...summary,
      notPublished: failures
        .slice(0, MAX_LOGGED_FAILURES)
        .map((f) => ({ auditID: f.auditID, stage: f.stage, reason: f.reason })),
      notPublishedCount: failures.length,
    });
    throw failure;
  }
  logger.info("invocation summary", { ...summary });
  return summary;
}
