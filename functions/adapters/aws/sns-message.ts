import type { Finding } from "../../core/finding.ts";
import type { RemediationOutcome } from "../../core/remediation-outcome.ts";
import { severityRank } from "../../core/severity.ts";
import type { StormNotice } from "../../core/storm.ts";

/**
 * What goes on the alerts topic. Attributes are what subscribers filter on (the pager and remediate
 * subscriptions' filter policies, SIEM forwarders); the body is the JSON object itself.
 */
export interface TopicMessage {
  /** Unique within one batch publish; also useful in logs. */
  id: string;
  body: string;
  attributes: MessageAttributes;
}

export type MessageAttributes = Record<string, { DataType: "String" | "Number"; StringValue: string }>;

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

/**
 * Storm control (storm-budget.ts): a finding past its cluster's budget carries `storm = member`, which the
 * pager's filter policy (infra/paging.yml) excludes and notify-slack rolls into a digest unless it is critical.
 */
export const STORM_MEMBER_ATTRIBUTES: MessageAttributes = Object.freeze({ storm: text("member") });

/** The message with `extra` attributes added (a hook for publishers that decide attributes per finding). */
export function withAttributes(message: TopicMessage, extra: MessageAttributes | undefined): TopicMessage {
  return extra ? { ...message, attributes: { ...message.attributes, ...extra } } : message;
}

/** The one page per storm window: the pager's filter passes every `storm` message. */
export function stormMessage(notice: StormNotice): TopicMessage {
  return {
    id: `${notice.cluster}-storm-${notice.windowStart}`,
    body: JSON.stringify(notice),
    attributes: {
      messageType: text("storm"),
      cluster: text(notice.cluster),
    },
  };
}
