import { Buffer } from "node:buffer";
import type { Finding } from "../../core/finding.ts";
import { findingJson } from "../../core/finding-json.ts";
import { cutText } from "../../core/finding-limits.ts";
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

/**
 * SNS takes 256 KB per message, attributes included, and refuses a larger one on every retry. A finding
 * message stays under this (body and attributes counted as SNS counts them), leaving room below SNS's limit;
 * sns-publisher.ts keeps each PublishBatch request under SNS's 256 KB total.
 */
export const MAX_FINDING_MESSAGE_BYTES = 240 * 1024;

/** Attribute values are for filter policies: short, and never more than this. */
const MAX_ATTRIBUTE_CHARS = 256;

/**
 * Characters SNS refuses in a message or attribute (it allows XML 1.0 characters only): C0 controls other
 * than tab, LF and CR, unpaired surrogates, U+FFFE and U+FFFF. Attribute values come partly from the audit
 * event (the namespace of a refused request is whatever its URL said).
 */
const REFUSED_BY_SNS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function text(value: string) {
  const safe = cutText(value, MAX_ATTRIBUTE_CHARS).replace(REFUSED_BY_SNS, "\ufffd");
  return { DataType: "String" as const, StringValue: safe === "" ? "(none)" : safe };
}

/** The bytes SNS counts for a message: its body, and each attribute's name, data type and value. */
export function messageBytes(message: Pick<TopicMessage, "body" | "attributes">): number {
  let size = Buffer.byteLength(message.body);
  for (const [name, value] of Object.entries(message.attributes)) {
    size +=
      Buffer.byteLength(name) + Buffer.byteLength(value.DataType) + Buffer.byteLength(value.StringValue);
  }
  return size;
}

export interface FindingMessage extends TopicMessage {
  /** The finding the body holds: shrunk, with `omitted` saying so, when the whole one did not fit. */
  finding: Finding;
}

/**
 * The message for one finding: at most MAX_FINDING_MESSAGE_BYTES whatever the finding holds (finding-json.ts
 * shrinks the finding when it must). Never throws.
 */
export function findingMessage(finding: Finding): FindingMessage {
  const attributes: TopicMessage["attributes"] = {
    messageType: text("finding"),
    severity: text(finding.severity),
    severityRank: { DataType: "Number", StringValue: String(severityRank(finding.severity)) },
    outcome: text(finding.outcome),
    cluster: text(finding.cluster ?? "unknown"),
    namespace: text(finding.pod.namespace),
    actorKind: text(finding.actor.kind),
    // Organization deployments: subscribers' filter policies can route by the cluster's account and region.
    // With storm's, these make SNS's limit of 10 attributes.
    ...(finding.account ? { account: text(finding.account) } : {}),
    ...(finding.region ? { region: text(finding.region) } : {}),
  };
  const json = findingJson(finding, MAX_FINDING_MESSAGE_BYTES - messageBytes({ body: "", attributes }));
  return { id: finding.auditID, body: json.text, attributes, finding: json.finding };
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
export function withAttributes<M extends TopicMessage>(message: M, extra: MessageAttributes | undefined): M {
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
