import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { SNSClient } from "@aws-sdk/client-sns";
import * as z from "zod";
import {
  actOnce,
  describeError,
  type IdempotencyStore,
  IN_PROGRESS_ELSEWHERE,
} from "../adapters/aws/act-once.ts";
import { SnsDeliverySchema } from "../adapters/aws/sns-delivery.ts";
import { remediationMessage } from "../adapters/aws/sns-message.ts";
import { publishMessages } from "../adapters/aws/sns-publisher.ts";
import { type Finding, findingKey } from "../core/finding.ts";
import { clusterIdentity } from "../core/remediation/cluster-placement.ts";
import { clusterOf } from "../core/remediation/guard-rails.ts";
import type { RemediationOutcome } from "../core/remediation-outcome.ts";
import { type IgnoreReason, readFindingMessage } from "./read-finding-message.ts";
import { notRemediated, type RemediationDeps, remediateFinding } from "./remediate-finding.ts";

export interface RemediateSummary {
  records: number;
  outcomes: Record<RemediationOutcome["result"], number>;
  /** Deliveries that were not acted on, by reason. Each is also logged. */
  ignored: Record<IgnoreReason | "mode-off" | "duplicate", number>;
  /** Findings left for Lambda's retry (held by another invocation, or the outcome was not published). */
  retried: number;
}

export interface HandlerDeps {
  /** Undefined when the mode is `off`: deliveries are then counted and ignored. */
  remediation: RemediationDeps | undefined;
  /** One record per (cluster, eventKey, "remediation"): a redelivered finding is acted on and reported once. */
  idempotency: IdempotencyStore;
  sns: SNSClient;
  topicArn: string;
  logger: Logger;
  /** CloudWatch EMF metrics; infra/remediate.yml alarms on RemediationFailed. */
  metrics?: Metrics;
}

/** What the handler needs from the Lambda context. */
export interface Invocation {
  /** Bounds a claim's in-progress life, so a crashed attempt never blocks its retry for long. */
  remainingTimeInMillis(): number;
}

/** Metric per result; names are what dashboards and infra/remediate.yml alarms select on. */
export const RESULT_METRIC: Record<RemediationOutcome["result"], string> = {
  deleted: "RemediationDeleted",
  "would-delete": "RemediationWouldDelete",
  skipped: "RemediationSkipped",
  failed: "RemediationFailed",
};
export const IGNORED_METRIC = "RemediationIgnored";
export const DUPLICATE_METRIC = "RemediationDuplicates";

/** Fixed: the remediate role's IAM policy allows only keys under it (infra/remediate.yml). */
export const REMEDIATION_KEY_PREFIX = "ephemeral-guard.remediate";

/**
 * The idempotency key of remediating one finding. The message kind keeps it apart from detect's records; the
 * cluster's account and region (when the finding names them) keep two accounts' clusters of one name apart.
 */
export function remediationKey(finding: Finding): string {
  return `${clusterIdentity(finding, clusterOf(finding)) ?? "unknown"}:${findingKey(finding)}:remediation`;
}

/** Some findings were not settled; the invocation fails so that Lambda retries them (the rest are done). */
export class RemediateRetryError extends Error {
  constructor(readonly pending: { auditID: string; reason: string }[]) {
    super(
      `${pending.length} finding(s) left for a retry: ${pending
        .map(({ auditID, reason }) => `${auditID} (${reason})`)
        .join("; ")
        .slice(0, 2_000)}`,
    );
    this.name = "RemediateRetryError";
  }
}

/**
 * One SNS delivery → at most one remediation and one published outcome per finding, however often SNS
 * delivers it. Each finding is claimed first (act-once.ts): a finding already settled is skipped as a
 * duplicate, so it neither deletes again nor takes a second rate-limit slot. The claim covers deciding,
 * deleting and publishing the outcome; when publishing fails the claim is given back and the invocation
 * fails, so Lambda's retry decides again from the live pod (which is by then gone or being deleted).
 *
 * When the claim itself cannot be made (the table is unreachable) nothing is done to the pod: a duplicate
 * could not be told from a first delivery, and a second deletion attempt or rate-limit slot is a worse
 * failure than a pod a human deletes. The finding gets a `failed` outcome (`idempotency-unavailable`) and is
 * not retried.
 */
export function createRemediateHandler(deps: HandlerDeps) {
  return async (event: unknown, invocation: Invocation): Promise<RemediateSummary> => {
    const { logger } = deps;
    const summary: RemediateSummary = {
      records: 0,
      outcomes: { deleted: 0, "would-delete": 0, skipped: 0, failed: 0 },
      ignored: {
        "not-a-finding": 0,
        "test-finding": 0,
        "invalid-finding": 0,
        "mode-off": 0,
        duplicate: 0,
      },
      retried: 0,
    };
    const envelope = SnsDeliverySchema.safeParse(event);
    if (!envelope.success) {
      logger.error("not an SNS event", { error: z.prettifyError(envelope.error) });
      throw new Error(`remediate expects an SNS event: ${z.prettifyError(envelope.error)}`);
    }
    const pending: { auditID: string; reason: string }[] = [];

    const record = (outcome: RemediationOutcome) => {
      summary.outcomes[outcome.result]++;
      logger.info("remediation outcome", {
        auditID: outcome.auditID,
        cluster: outcome.cluster,
        pod: `${outcome.pod.namespace}/${outcome.pod.name}`,
        uid: outcome.pod.uid,
        result: outcome.result,
        reason: outcome.reason,
        detail: outcome.detail,
      });
    };
    const publish = (outcome: RemediationOutcome) =>
      publishMessages(deps.sns, deps.topicArn, [remediationMessage(outcome)]);

    for (const [index, delivery] of envelope.data.Records.entries()) {
      summary.records++;
      const read = readFindingMessage(delivery);
      if (read.kind === "ignored") {
        summary.ignored[read.reason]++;
        const log = read.reason === "invalid-finding" ? logger.error : logger.warn;
        log.call(logger, "not a finding to act on: ignored", {
          index,
          messageId: delivery.Sns.MessageId,
          reason: read.reason,
          problem: read.problem,
        });
        continue;
      }
      const { finding } = read;
      const remediation = deps.remediation;
      if (remediation === undefined) {
        summary.ignored["mode-off"]++;
        logger.warn("remediation mode is off: finding ignored", { auditID: finding.auditID });
        continue;
      }
      const key = remediationKey(finding);
      const once = await actOnce(deps.idempotency, key, invocation.remainingTimeInMillis(), async () => {
        const outcome = await decide(finding, remediation, logger);
        // Recorded before publishing: a pod deleted is counted and logged even if its outcome is not sent.
        record(outcome);
        await publish(outcome);
        return outcome;
      });
      switch (once.kind) {
        case "acted":
          if (!once.recorded) {
            logger.warn("remediated, but the idempotency record could not be completed", { key });
          }
          break;
        case "duplicate":
          summary.ignored.duplicate++;
          logger.info("finding already remediated: duplicate delivery ignored", {
            auditID: finding.auditID,
            key,
          });
          break;
        case "in-progress":
          pending.push({ auditID: finding.auditID, reason: IN_PROGRESS_ELSEWHERE });
          break;
        case "act-failed":
          pending.push({ auditID: finding.auditID, reason: describeError(once.error) });
          break;
        case "claim-failed": {
          logger.error("could not claim the finding: not remediated", { key, error: once.reason });
          const outcome = notRemediated(
            finding,
            remediation,
            "idempotency-unavailable",
            `The idempotency table that stops a redelivered finding from being acted on twice could not be used (${once.reason}), so nothing was done to ${finding.pod.namespace}/${finding.pod.name}: a human must check it and delete it if needed.`,
          );
          record(outcome);
          await publish(outcome).catch((error: unknown) => {
            pending.push({ auditID: finding.auditID, reason: describeError(error) });
          });
          break;
        }
      }
    }
    summary.retried = pending.length;
    if (deps.metrics) {
      for (const [result, count] of Object.entries(summary.outcomes) as [
        RemediationOutcome["result"],
        number,
      ][]) {
        deps.metrics.addMetric(RESULT_METRIC[result], MetricUnit.Count, count);
      }
      const ignored = Object.values(summary.ignored).reduce((total, count) => total + count, 0);
      deps.metrics.addMetric(IGNORED_METRIC, MetricUnit.Count, ignored);
      deps.metrics.addMetric(DUPLICATE_METRIC, MetricUnit.Count, summary.ignored.duplicate);
    }
    logger.info("remediate summary", { ...summary });
    if (pending.length > 0) {
      logger.error("findings left for a retry", { pending });
      throw new RemediateRetryError(pending);
    }
    return summary;
  };
}

/** remediateFinding reports its own failures; reaching the catch is a bug, still worth an outcome. */
async function decide(
  finding: Finding,
  remediation: RemediationDeps,
  logger: Logger,
): Promise<RemediationOutcome> {
  try {
    return await remediateFinding(finding, remediation);
  } catch (error) {
    logger.error("remediation crashed", { auditID: finding.auditID, error: String(error) });
    return notRemediated(
      finding,
      remediation,
      "internal-error",
      `Remediation crashed (${error instanceof Error ? error.message : String(error)}): a human must check ${finding.pod.namespace}/${finding.pod.name}.`,
    );
  }
}
