import type { Finding } from "../../core/finding.ts";
import type { RemediationOutcome } from "../../core/remediation-outcome.ts";
import { severityRank } from "../../core/severity.ts";

/**
 * What goes on the alerts topic. Attributes are what subscribers filter on (the pager and remediate
 * subscriptions' filter policies, SIEM forwarders); the body is the JSON object itself.
 */
export interface TopicMessage {
  /** Unique within one batch publish; also useful in logs. */
  id: string;
  body: string;
  attributes: Record<string, { DataType: "String" | "Number"; StringValue: string }>;
}

function text(value: string) {
  return { DataType: "String" as const, StringValue: value === "" ? "(none)" : value };
}

export function findingMessage(finding: Finding): TopicMessage {
  return {
    id: finding.auditID,
    body: JSON.stringify(finding),
    attributes: {
      messageType: text("finding"),
      severity: text(finding.severity),
      severityRank: { DataType: "Number", StringValue: String(severityRank(finding.severity)) },
      outcome: text(finding.outcome),
      cluster: text(finding.cluster ?? "unknown"),
      namespace: text(finding.pod.namespace),
      actorKind: text(finding.actor.kind),
    },
  };
}

export function remediationMessage(outcome: RemediationOutcome): TopicMessage {
  return {
    id: `${outcome.auditID}-remediation`,
    body: JSON.stringify(outcome),
    attributes: {
      messageType: text("remediation"),
      result: text(outcome.result),
      cluster: text(outcome.cluster ?? "unknown"),
      namespace: text(outcome.pod.namespace),
    },
  };
}
