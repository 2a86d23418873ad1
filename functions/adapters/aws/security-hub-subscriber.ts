import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { AwsSecurityFinding, SecurityHubClient } from "@aws-sdk/client-securityhub";
import * as z from "zod";
import { FindingSchema } from "../../core/finding.ts";
import { type SecurityHubTarget, toSecurityHubFinding } from "./security-hub-finding.ts";
import { importFindings, SecurityHubImportError } from "./security-hub-import.ts";
import { SnsDeliverySchema } from "./sns-delivery.ts";

/**
 * security-hub: findings from the alerts topic imported into AWS Security Hub. The subscription's filter
 * policy passes only `messageType: finding`; a record that is not a valid finding is logged and counted, never
 * retried (it would fail the same way forever). Anything Security Hub did not take fails the invocation, so
 * Lambda retries the delivery and then keeps it in the failure queue.
 */

/** The SNS delivery as the other subscribers read it, plus the time SNS received the message. */
const DeliverySchema = z.object({
  Records: z.array(
    SnsDeliverySchema.shape.Records.element.extend({
      Sns: SnsDeliverySchema.shape.Records.element.shape.Sns.extend({ Timestamp: z.string().optional() }),
    }),
  ),
});

export interface SecurityHubSubscriberDeps {
  client: SecurityHubClient;
  /** Where findings go; the time of receipt is each record's own. */
  target: Omit<SecurityHubTarget, "receivedAt">;
  logger: Logger;
  metrics?: Metrics;
}

export interface SecurityHubSummary {
  records: number;
  imported: number;
  /** Records that were not a valid finding: logged, not retried. */
  invalid: number;
  /**
   * Test alerts (`ephemeral-guard test-alert`, `test: true`): logged, not imported. They prove the topic and its
   * subscribers work; in Security Hub they would sit among real findings until someone archived them.
   */
  testAlerts: number;
}

/** security-hub's metric names; alarms select on them. */
export const SECURITY_HUB_METRIC = {
  imported: "SecurityHubImported",
  invalid: "SecurityHubInvalid",
  failed: "SecurityHubFailed",
} as const;

export class NotSnsEventError extends Error {
  constructor(detail: string) {
    super(`security-hub expects an SNS event: ${detail}`);
    this.name = "NotSnsEventError";
  }
}

/** Problems quote attacker text (zod messages): cut for the log. */
const MAX_PROBLEM_CHARS = 2_000;

function recordMetrics(metrics: Metrics | undefined, summary: SecurityHubSummary, failed: number): void {
  if (!metrics) return;
  metrics.addMetric(SECURITY_HUB_METRIC.imported, MetricUnit.Count, summary.imported);
  metrics.addMetric(SECURITY_HUB_METRIC.invalid, MetricUnit.Count, summary.invalid);
  metrics.addMetric(SECURITY_HUB_METRIC.failed, MetricUnit.Count, failed);
}

export async function importToSecurityHub(
  event: unknown,
  deps: SecurityHubSubscriberDeps,
): Promise<SecurityHubSummary> {
  const parsed = DeliverySchema.safeParse(event);
  if (!parsed.success) throw new NotSnsEventError(z.prettifyError(parsed.error));
  const records = parsed.data.Records;
  const summary: SecurityHubSummary = { records: records.length, imported: 0, invalid: 0, testAlerts: 0 };
  const findings: AwsSecurityFinding[] = [];

  records.forEach((record, index) => {
    const position = `Records[${index}]`;
    const messageType = record.Sns.MessageAttributes?.messageType?.Value;
    const reject = (problem: string) => {
      summary.invalid++;
      deps.logger.error("SNS record is not a finding; skipped, not retried", {
        position,
        messageId: record.Sns.MessageId,
        messageType,
        problem: problem.slice(0, MAX_PROBLEM_CHARS),
      });
    };
    if (messageType !== "finding") {
      reject(`messageType attribute is ${messageType === undefined ? "missing" : "not finding"}`);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(record.Sns.Message);
    } catch (error) {
      reject(`message is not JSON: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const finding = FindingSchema.safeParse(value);
    if (!finding.success) {
      reject(`not a valid finding: ${z.prettifyError(finding.error)}`);
      return;
    }
    if (finding.data.test === true) {
      summary.testAlerts++;
      deps.logger.info("test alert received; not imported into Security Hub", {
        position,
        messageId: record.Sns.MessageId,
        auditID: finding.data.auditID,
      });
      return;
    }
    findings.push(
      toSecurityHubFinding(finding.data, {
        ...deps.target,
        receivedAt: record.Sns.Timestamp ?? new Date().toISOString(),
      }),
    );
  });

  if (findings.length === 0) {
    recordMetrics(deps.metrics, summary, 0);
    deps.logger.info("nothing to import into Security Hub", { ...summary });
    return summary;
  }
  try {
    summary.imported = (await importFindings(deps.client, findings)).imported;
  } catch (error) {
    const failed = error instanceof SecurityHubImportError ? error.failed : [];
    recordMetrics(deps.metrics, summary, failed.length || findings.length);
    deps.logger.error("Security Hub did not take every finding; failing the invocation so it is retried", {
      ...summary,
      findings: findings.length,
      failed: failed
        .slice(0, 20)
        .map((item) => ({ id: item.Id, code: item.ErrorCode, message: item.ErrorMessage })),
      error: error instanceof Error ? error.message : String(error),
    });
    throw error;
  }
  recordMetrics(deps.metrics, summary, 0);
  deps.logger.info("imported into Security Hub", { ...summary, ids: findings.map((finding) => finding.Id) });
  return summary;
}
