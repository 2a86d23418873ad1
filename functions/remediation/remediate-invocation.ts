import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { SNSClient } from "@aws-sdk/client-sns";
import * as z from "zod";
import { SnsDeliverySchema } from "../adapters/aws/sns-delivery.ts";
import { remediationMessage } from "../adapters/aws/sns-message.ts";
import { publishMessages } from "../adapters/aws/sns-publisher.ts";
import { type Finding, FindingSchema } from "../core/finding.ts";
import { REMEDIATION_SCHEMA_VERSION, type RemediationOutcome } from "../core/remediation-outcome.ts";
import { type RemediationDeps, remediateFinding } from "./remediate-finding.ts";

export interface RemediateSummary {
  records: number;
  outcomes: Record<RemediationOutcome["result"], number>;
  /** Deliveries that were not findings we can act on, by reason. Each is also logged. */
  ignored: Record<"not-a-finding" | "invalid-finding" | "mode-off", number>;
}

export interface HandlerDeps {
  /** Undefined when the mode is `off`: deliveries are then counted and ignored. */
  remediation: RemediationDeps | undefined;
  sns: SNSClient;
  topicArn: string;
  logger: Logger;
  /** CloudWatch EMF metrics; infra/remediate.yml alarms on RemediationFailed. */
  metrics?: Metrics;
}

/** Metric per result; names are what dashboards and infra/remediate.yml alarms select on. */
export const RESULT_METRIC: Record<RemediationOutcome["result"], string> = {
  deleted: "RemediationDeleted",
  "would-delete": "RemediationWouldDelete",
  skipped: "RemediationSkipped",
  failed: "RemediationFailed",
};
export const IGNORED_METRIC = "RemediationIgnored";

function parseFinding(message: string): { ok: true; finding: Finding } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch (error) {
    return { ok: false, error: `not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  const parsed = FindingSchema.safeParse(value);
  return parsed.success
    ? { ok: true, finding: parsed.data }
    : { ok: false, error: z.prettifyError(parsed.error) };
}

/**
 * One SNS delivery → one outcome per finding, all published to the alerts topic with the finding's auditID.
 * Throws only when the event is not an SNS event or outcomes could not be published, so Lambda retries;
 * a retry is safe because deletes carry the pod's uid (a second attempt answers 404 or 409).
 */
export function createRemediateHandler(deps: HandlerDeps) {
  return async (event: unknown): Promise<RemediateSummary> => {
    const { logger } = deps;
    const summary: RemediateSummary = {
      records: 0,
      outcomes: { deleted: 0, "would-delete": 0, skipped: 0, failed: 0 },
      ignored: { "not-a-finding": 0, "invalid-finding": 0, "mode-off": 0 },
    };
    const envelope = SnsDeliverySchema.safeParse(event);
    if (!envelope.success) {
      logger.error("not an SNS event", { error: z.prettifyError(envelope.error) });
      throw new Error(`remediate expects an SNS event: ${z.prettifyError(envelope.error)}`);
    }
    const outcomes: RemediationOutcome[] = [];
    for (const [index, record] of envelope.data.Records.entries()) {
      summary.records++;
      const messageType = record.Sns.MessageAttributes?.messageType?.Value;
      if (messageType !== undefined && messageType !== "finding") {
        summary.ignored["not-a-finding"]++;
        logger.warn("ignoring a message that is not a finding", { index, messageType });
        continue;
      }
      const parsed = parseFinding(record.Sns.Message);
      if (!parsed.ok) {
        summary.ignored["invalid-finding"]++;
        logger.error("invalid finding: skipped", {
          index,
          messageId: record.Sns.MessageId,
          error: parsed.error,
        });
        continue;
      }
      const { finding } = parsed;
      if (deps.remediation === undefined) {
        summary.ignored["mode-off"]++;
        logger.warn("remediation mode is off: finding ignored", { auditID: finding.auditID });
        continue;
      }
      let outcome: RemediationOutcome;
      try {
        outcome = await remediateFinding(finding, deps.remediation);
      } catch (error) {
        // remediateFinding reports its own failures; reaching here is a bug, still worth an outcome.
        logger.error("remediation crashed", { auditID: finding.auditID, error: String(error) });
        outcome = {
          schemaVersion: REMEDIATION_SCHEMA_VERSION,
          kind: "remediation",
          auditID: finding.auditID,
          ...(finding.cluster ? { cluster: finding.cluster } : {}),
          pod: { namespace: finding.pod.namespace, name: finding.pod.name },
          mode: deps.remediation.policy.mode,
          result: "failed",
          reason: "internal-error",
          detail: `Remediation crashed (${error instanceof Error ? error.message : String(error)}): a human must check ${finding.pod.namespace}/${finding.pod.name}.`,
          time: new Date().toISOString(),
        };
      }
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
      outcomes.push(outcome);
    }
    if (deps.metrics) {
      for (const [result, count] of Object.entries(summary.outcomes) as [
        RemediationOutcome["result"],
        number,
      ][]) {
        deps.metrics.addMetric(RESULT_METRIC[result], MetricUnit.Count, count);
      }
      const ignored = Object.values(summary.ignored).reduce((total, count) => total + count, 0);
      deps.metrics.addMetric(IGNORED_METRIC, MetricUnit.Count, ignored);
    }
    if (outcomes.length > 0) await publishMessages(deps.sns, deps.topicArn, outcomes.map(remediationMessage));
    logger.info("remediate summary", { ...summary });
    return summary;
  };
}
