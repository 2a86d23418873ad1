import type { RemediationOutcome, RemediationResult } from "../../core/remediation-outcome.ts";
import { context, fieldsSection, message, type SlackMessage, section } from "./slack-block-kit.ts";
import { mrkdwnCode, mrkdwnText, mrkdwnTime } from "./slack-escape.ts";

/**
 * Incoming webhooks cannot edit or thread a message, so the remediation result is a compact follow-up that
 * names the original alert by audit ID, pod and cluster.
 */
export const RESULT_STYLE: Record<RemediationResult, { emoji: string; color: string; text: string }> = {
  deleted: { emoji: "🗑️", color: "#2EB67D", text: "pod deleted" },
  "would-delete": { emoji: "🧪", color: "#5B6C8F", text: "would delete (dry run: nothing was deleted)" },
  skipped: { emoji: "⏭️", color: "#ECB22E", text: "skipped: the pod was not deleted" },
  failed: { emoji: "⚠️", color: "#E01E5A", text: "FAILED: the pod was not deleted, act manually" },
};

function parts(outcome: RemediationOutcome) {
  return {
    style: RESULT_STYLE[outcome.result],
    auditID: mrkdwnCode(outcome.auditID, { max: 300 }),
    pod: mrkdwnCode(`${outcome.pod.namespace}/${outcome.pod.name}`, { max: 600 }),
    cluster: outcome.cluster ? mrkdwnCode(outcome.cluster, { max: 300 }) : "_unknown_",
  };
}

/** The follow-up's one line: which alert (audit ID, pod, cluster) and what remediation did. */
export function remediationNotificationText(outcome: RemediationOutcome): string {
  const { style, auditID, pod, cluster } = parts(outcome);
  return `↳ ${style.emoji} *Remediation of alert* ${auditID}: *${style.text}* · ${pod} on ${cluster}`;
}

export function remediationSlackMessage(outcome: RemediationOutcome): SlackMessage {
  const { style, auditID, pod, cluster } = parts(outcome);
  const reason = outcome.reason ? ` (${mrkdwnCode(outcome.reason, { max: 200 })})` : "";
  const owner = outcome.pod.owner
    ? `\nowned by ${mrkdwnCode(`${outcome.pod.owner.kind}/${outcome.pod.owner.name}`, { max: 500 })}`
    : "";
  const details = [
    fieldsSection([
      `*Result*\n${style.emoji} ${style.text}${reason}`,
      `*Namespace/pod*\n${pod}${owner}`,
      `*Cluster*\n${cluster}`,
      `*Mode*\n${outcome.mode}`,
      `*Time*\n${mrkdwnTime(outcome.time)}`,
    ]),
    section(outcome.detail.trim() ? mrkdwnText(outcome.detail, { max: 2_900 }) : "_no detail given_"),
    context([`Follow-up to the ephemeral-guard alert with audit ID ${auditID}`]),
  ];
  // No headline blocks: the text line is shown as the message, right above the coloured details.
  return message({ text: remediationNotificationText(outcome), color: style.color, details });
}
