import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { decodeDocument } from "../../core/decode-input.ts";
import type { DetectionConfig } from "../../core/detection-config.ts";
import { type Detected, type DetectionStats, Detector } from "../../core/detector.ts";
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
  /** Kinesis records handed back unread because the batch was over its decompression budget. */
  deferred: "RecordsDeferred",
} as const;

/** Publishes findings (exactly once) or prints them (local mode). Throws when some were not published. */
export type FindingSink = (findings: readonly Finding[]) => Promise<PublishOnceResult>;

export interface DetectDeps {
  detection: DetectionConfig;
  sink: FindingSink;
  logger: Logger;
  metrics: Metrics;
  /**
   * The function's own region (AWS_REGION): a same-account subscription's log groups are in it, and its
   * delivery names only their account. A Kinesis record names its own.
   */
  region?: string;
  /**
   * Decompressed bytes one Kinesis batch may read (decode-kinesis.ts); the default suits a 512 MB function.
   * Lower in tests, so that a deferred record costs no 64 MB.
   */
  maxBatchDecompressedBytes?: number;
}

/** One entry of a Kinesis partial batch response: the sequence number of a record to be delivered again. */
export interface BatchItemFailure {
  itemIdentifier: string;
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
  /**
   * A Kinesis batch only: the records Lambda is to deliver again, those whose findings were not all published
   * and those deferred (over the batch's decompression budget). Corrupt records are not among them: they are
   * rejects, retried to no avail. Lambda resumes the shard at the lowest of these.
   */
  batchItemFailures?: BatchItemFailure[];
  deferred?: number;
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

/**
 * What the sink did over all slices. Failures are small records (auditID, stage, reason), not findings;
 * failedBatchItems the stream records (sequence numbers) of the findings that failed.
 */
interface Published {
  result: PublishOnceResult;
  failures: PublishOnceFailure[];
  failedBatchItems: Set<string>;
}

async function publishSlice(
  sink: FindingSink,
  detected: readonly Detected[],
  into: Published,
): Promise<void> {
  let result: PublishOnceResult;
  try {
    result = await sink(detected.map((d) => d.finding));
  } catch (error) {
    if (!(error instanceof PublishOnceError)) throw error;
    result = error.result;
    into.failures.push(...error.failures);
    // A failure names its finding by auditID: every record of the slice with a finding of that auditID is
    // delivered again (a record too many costs a duplicate claim, which the idempotency table absorbs).
    const failed = new Set(error.failures.map((failure) => failure.auditID));
    for (const { finding, batchItem } of detected) {
      if (batchItem !== undefined && failed.has(finding.auditID)) into.failedBatchItems.add(batchItem);
    }
  }
  into.result.published.push(...result.published);
  into.result.duplicates.push(...result.duplicates);
  into.result.unrecorded.push(...result.unrecorded);
  into.result.shortened.push(...result.shortened);
}

export async function detectInvocation(event: unknown, deps: DetectDeps): Promise<InvocationSummary> {
  const { logger, metrics } = deps;
  const detector = new Detector(deps.detection, (problem) => logProblem(logger, problem));
  const decoded = decodeDocument(event, "invocation", {
    ...(deps.region ? { region: deps.region } : {}),
    ...(deps.maxBatchDecompressedBytes ? { maxBatchDecompressedBytes: deps.maxBatchDecompressedBytes } : {}),
  });
  const done: Published = { result: emptyPublishOnceResult(), failures: [], failedBatchItems: new Set() };
  for (const slice of slicesOf(decoded, SLICE)) {
    const detected = detector.ingestTraced(slice);
    for (const { finding } of detected) logFinding(logger, finding);
    if (detected.length > 0) await publishSlice(deps.sink, detected, done);
  }
  const deferred = decoded.deferred ?? [];
  for (const item of deferred) done.failedBatchItems.add(item.batchItem);
  if (deferred.length > 0) {
    logger.warn("records deferred to a later batch: named in the partial batch response", {
      deferredCount: deferred.length,
      deferred: deferred.slice(0, MAX_LOGGED_FAILURES).map((item) => item.position),
      reason: deferred[0]?.reason,
    });
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

  if (decoded.form === "kinesis") {
    summary.deferred = deferred.length;
    metrics.addMetric(METRIC.deferred, MetricUnit.Count, deferred.length);
  }
  recordMetrics(metrics, summary);
  for (const auditID of result.unrecorded.slice(0, MAX_LOGGED_FAILURES)) {
    logger.error("published but not recorded: a redelivery may repeat it", { auditID });
  }
  for (const auditID of result.shortened.slice(0, MAX_LOGGED_FAILURES)) {
    logger.warn("finding shortened to fit one SNS message: its omitted field says what was left out", {
      auditID,
    });
  }
  if (decoded.form === "kinesis")
    return partialBatchResponse(logger, summary, failures, done.failedBatchItems);
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

/**
 * A Kinesis batch does not fail as a whole for some findings: it names their records (ReportBatchItemFailures),
 * so that Lambda delivers again from the lowest of them and the records before it are not read twice.
 */
function partialBatchResponse(
  logger: Logger,
  summary: InvocationSummary,
  failures: readonly PublishOnceFailure[],
  failedBatchItems: ReadonlySet<string>,
): InvocationSummary {
  const batchItemFailures = [...failedBatchItems].map((itemIdentifier) => ({ itemIdentifier }));
  const logged = { ...summary, failedRecords: batchItemFailures.length };
  if (batchItemFailures.length > 0) {
    logger.error(
      "records not done; naming them in the partial batch response so that they are delivered again",
      {
        ...logged,
        notPublished: failures
          .slice(0, MAX_LOGGED_FAILURES)
          .map((f) => ({ auditID: f.auditID, stage: f.stage, reason: f.reason })),
        notPublishedCount: failures.length,
        records: batchItemFailures.slice(0, MAX_LOGGED_FAILURES).map((f) => f.itemIdentifier),
      },
    );
  } else {
    logger.info("invocation summary", logged);
  }
  return { ...summary, batchItemFailures };
}
