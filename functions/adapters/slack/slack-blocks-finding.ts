import { techniqueUrl } from "../../core/attack-techniques.ts";
import type { Finding, FindingContainer } from "../../core/finding.ts";
import { findingTechniques } from "../../core/finding-techniques.ts";
import type { Outcome } from "../../core/outcome.ts";
import { ruleById } from "../../core/rule-by-id.ts";
import type { Severity } from "../../core/severity.ts";
import { logsInsightsUrl } from "../aws/logs-insights-link.ts";
import {
  context,
  divider,
  fieldsSection,
  header,
  message,
  SLACK_LIMITS,
  type SlackBlock,
  type SlackMessage,
  section,
} from "./slack-block-kit.ts";
import { joinLinesWithin, mrkdwnCode, mrkdwnCodeList, mrkdwnText, mrkdwnTime } from "./slack-escape.ts";

/** Severity at a glance: the attachment's colour bar and an emoji in the header and notification. */
export const SEVERITY_STYLE: Record<Severity, { emoji: string; color: string; label: string }> = {
  critical: { emoji: "🚨", color: "#A30D1F", label: "CRITICAL" },
  high: { emoji: "🔴", color: "#E01E5A", label: "HIGH" },
  medium: { emoji: "🟠", color: "#F2952F", label: "MEDIUM" },
  low: { emoji: "🟡", color: "#ECB22E", label: "LOW" },
  info: { emoji: "🔵", color: "#8D99AE", label: "INFO" },
};

/** What the API server did, in the responder's words: whether a container now exists is the first question. */
const OUTCOME_TEXT: Record<Outcome, { headline: string; field: string }> = {
  created: {
    headline: "ephemeral container added to a pod",
    field: "*created*: the container was added and cannot be removed without deleting the pod",
  },
  forbidden: {
    headline: "ephemeral container attempt forbidden",
    field: "*forbidden* by authorization: nothing was added, but someone tried",
  },
  denied: {
    headline: "ephemeral container attempt denied",
    field: "*denied* by admission (e.g. Pod Security): nothing was added",
  },
  failed: {
    headline: "ephemeral container attempt failed",
    field: "*failed*: nothing was added",
  },
};

const PROFILE_TEXT: Record<FindingContainer["profile"], string> = {
  "legacy-or-baseline": "kubectl debug, legacy or baseline profile (no securityContext)",
  general: "kubectl debug `--profile=general` (SYS_PTRACE)",
  restricted: "kubectl debug `--profile=restricted`",
  netadmin: "kubectl debug `--profile=netadmin` (NET_ADMIN, NET_RAW)",
  sysadmin: "kubectl debug `--profile=sysadmin` (privileged)",
  none: "hand-crafted request (no kubectl debug profile)",
};

/**
 * Containers shown one section each; the rest are named in one line. Keeps the message far below 50 blocks
 * and its total size modest (Slack has no documented total, but very large messages get refused).
 */
export const MAX_CONTAINER_SECTIONS = 5;

export interface FindingMessageOptions {
  /** The Lambda's region, for the Logs Insights link. */
  region: string | undefined;
}

function field(label: string, value: string): string {
  return `*${label}*\n${value}`;
}

function podText(finding: Finding): string {
  const lines = [mrkdwnCode(`${finding.pod.namespace}/${finding.pod.name}`, { max: 600 })];
  const owner = finding.pod.owner;
  if (owner) lines.push(`owned by ${mrkdwnCode(`${owner.kind}/${owner.name}`, { max: 500 })}`);
  if (finding.pod.static) lines.push("static (mirror) pod");
  if (finding.pod.serviceAccountName) {
    lines.push(`service account ${mrkdwnCode(finding.pod.serviceAccountName, { max: 300 })}`);
  }
  return lines.join("\n");
}

function actorText(finding: Finding): string {
  const { actor } = finding;
  const lines = [`${mrkdwnCode(actor.username, { max: 700 })} (${actor.kind})`];
  if (actor.impersonatedUser) {
    lines.push(`impersonating ${mrkdwnCode(actor.impersonatedUser.username, { max: 500 })}`);
  }
  if (actor.groups.length > 0) {
    lines.push(`groups ${mrkdwnCodeList(actor.groups, { max: 600, maxEach: 200 })}`);
  }
  return lines.join("\n");
}

function arnText(finding: Finding): string {
  const { arn, sessionName } = finding.actor;
  if (!arn) return "_not an IAM identity_";
  const session = sessionName ? `\nsession ${mrkdwnCode(sessionName, { max: 300 })}` : "";
  return mrkdwnCode(arn, { max: 1_500 }) + session;
}

/** All but the last source IP come from X-Forwarded-For and can be forged; the last one connected. */
function sourceIpText(ips: readonly string[]): string {
  if (ips.length === 0) return "_not recorded_";
  const last = ips[ips.length - 1] ?? "";
  const connected = `${mrkdwnCode(last, { max: 100 })}${ips.length > 1 ? " (connecting address)" : ""}`;
  if (ips.length === 1) return connected;
  return `${connected}\nforwarded for ${mrkdwnCodeList(ips.slice(0, -1), { max: 800, maxEach: 100 })}`;
}

/**
 * Account and region, when the finding names them (organization deployments): cluster names repeat across
 * accounts, so the name alone does not say which `prod` to look at. In the Cluster field, as a section holds
 * at most 10 fields.
 */
function whereText(finding: Finding): string | undefined {
  const parts = [finding.account && `account ${finding.account}`, finding.region].filter(Boolean);
  return parts.length > 0 ? parts.join(", ") : undefined;
}

function clusterText(finding: Finding): string {
  const name = finding.cluster ? mrkdwnCode(finding.cluster, { max: 300 }) : "_unknown_";
  const where = whereText(finding);
  // Account ids and regions are checked shapes (digits, letters, dashes): nothing to escape.
  return where ? `${name}\n${where}` : name;
}

function outcomeText(finding: Finding): string {
  const code = finding.responseCode !== undefined ? ` (HTTP ${finding.responseCode})` : "";
  return `${OUTCOME_TEXT[finding.outcome].field}${code}`;
}

function summaryFields(finding: Finding): string[] {
  const style = SEVERITY_STYLE[finding.severity];
  return [
    field("Severity", `${style.emoji} ${finding.severity} (score ${finding.score})`),
    field("Outcome", outcomeText(finding)),
    field("Cluster", clusterText(finding)),
    field("Namespace/pod", podText(finding)),
    field("Actor", actorText(finding)),
    field("IAM ARN", arnText(finding)),
    field("Source IP", sourceIpText(finding.actor.sourceIPs)),
    field(
      "User agent",
      finding.actor.userAgent ? mrkdwnCode(finding.actor.userAgent, { max: 600 }) : "_none_",
    ),
    field("Time", mrkdwnTime(finding.time)),
    field("Audit ID", mrkdwnCode(finding.auditID, { max: 300 })),
  ];
}

/** One container: what it runs, how it was made, and which securityContext fields make it dangerous. */
function containerSection(container: FindingContainer, index: number, total: number): SlackBlock {
  const target = container.targetContainerName
    ? ` → targets ${mrkdwnCode(container.targetContainerName, { max: 150 })}`
    : "";
  const lines = [
    `*Container ${index + 1}/${total}* ${mrkdwnCode(container.name, { max: 150 })}${target}`,
    `*Image* ${container.image !== undefined ? mrkdwnCode(container.image, { max: 500 }) : "_not recorded_"}`,
    `*Profile* ${PROFILE_TEXT[container.profile]}`,
    `*Risky securityContext* ${mrkdwnCodeList(container.riskyFields, { max: 600, maxEach: 150 })}`,
  ];
  if (container.command && container.command.length > 0) {
    lines.push(`*Command* ${mrkdwnCode(container.command.join(" "), { max: 300 })}`);
  }
  if (container.volumeMounts && container.volumeMounts.length > 0) {
    lines.push(`*Mounts* ${mrkdwnCodeList(container.volumeMounts, { max: 200, maxEach: 80 })}`);
  }
  return section(lines.join("\n"));
}

function containerBlocks(finding: Finding): SlackBlock[] {
  const { containers } = finding;
  if (containers.length === 0) {
    return [
      section(
        finding.bodyLogged
          ? "*Containers* _none found in the request body_"
          : "*Containers* _unknown: the audit policy did not record the request body (or it was truncated)_",
      ),
    ];
  }
  // Containers the finding did not copy (OmittedSchema) still count: an attacker who adds hundreds must not
  // read as "5 of 20" in the channel.
  const notCopied = finding.omitted?.containers ?? 0;
  const total = containers.length + notCopied;
  const shown = containers
    .slice(0, MAX_CONTAINER_SECTIONS)
    .map((container, index) => containerSection(container, index, total));
  const listed = containers.slice(MAX_CONTAINER_SECTIONS).map((container) => container.name);
  const hidden = total - Math.min(containers.length, MAX_CONTAINER_SECTIONS);
  if (hidden > 0) {
    const names = listed.length > 0 ? ` ${mrkdwnCodeList(listed, { max: 2_000, maxEach: 100 })}` : "";
    const uncopied = notCopied > 0 ? ` (${notCopied} not copied into the finding)` : "";
    shown.push(
      section(`*…and ${hidden} more container(s)*${uncopied}${names}: see the audit event for details`),
    );
  }
  return shown;
}

function reasonsBlock(finding: Finding): SlackBlock {
  const title = "*Why this severity*";
  if (finding.reasons.length === 0) return section(`${title}\n_no reasons recorded_`);
  const lines = finding.reasons.map(
    (reason) =>
      `• ${mrkdwnText(reason.text, { max: 600 })} _(${SEVERITY_STYLE[reason.severity].label.toLowerCase()}, ${reason.effect})_`,
  );
  const body = joinLinesWithin(
    lines,
    SLACK_LIMITS.sectionText - title.length - 1,
    (hidden) => `_…and ${hidden} more reason(s), see the finding in the logs_`,
  );
  return section(`${title}\n${body}`);
}

/**
 * The ATT&CK techniques, linked to their pages, and the runbook of the strongest rule (the headline reason):
 * what the responder does first. Both come from the rules table, not from the finding's text: techniques
 * outside the catalogue are left out and a reason id that names no rule gives no runbook.
 */
function responseBlock(finding: Finding): SlackBlock | undefined {
  const lines: string[] = [];
  const techniques = findingTechniques(finding);
  if (techniques.length > 0) {
    const links = techniques.map(
      (t) => `<${techniqueUrl(t.id)}|${t.id} ${mrkdwnText(t.name, { max: 100 })}>`,
    );
    lines.push(`*ATT&amp;CK* ${links.join(" · ")}`);
  }
  const headline = finding.reasons[0];
  const rule = headline ? ruleById(headline.id) : undefined;
  if (rule) {
    lines.push(
      `*Runbook* (${mrkdwnCode(rule.id, { max: 100 })}) ${mrkdwnText(rule.runbook, { max: 1_000 })}`,
    );
  }
  return lines.length > 0 ? section(lines.join("\n")) : undefined;
}

/** What the API server and its authorizers said, when there is anything to say. */
function serverBlock(finding: Finding): SlackBlock | undefined {
  const lines: string[] = [];
  if (finding.responseMessage) {
    lines.push(`*API server response* ${mrkdwnText(finding.responseMessage, { max: 1_200 })}`);
  }
  if (finding.authorizationReason) {
    lines.push(`*Authorized by* ${mrkdwnText(finding.authorizationReason, { max: 700 })}`);
  }
  if (finding.podSecurity?.enforcePolicy) {
    lines.push(`*Pod Security enforce* ${mrkdwnCode(finding.podSecurity.enforcePolicy, { max: 200 })}`);
  }
  if (finding.podSecurity?.auditViolations) {
    lines.push(`*Pod Security audit* ${mrkdwnText(finding.podSecurity.auditViolations, { max: 700 })}`);
  }
  return lines.length > 0 ? section(lines.join("\n")) : undefined;
}

/** What the finding did not copy and why (its limits), so a shortened alert never reads as the whole story. */
function omittedBlock(finding: Finding): SlackBlock | undefined {
  const omitted = finding.omitted;
  if (!omitted || omitted.why.length === 0) return undefined;
  const why = omitted.why.map((line) => mrkdwnText(line, { max: 300 })).join("; ");
  return section(`*Left out of this alert* ${why}. The audit event has everything.`);
}

/** The link is a section of its own (full-size text); where the event lives goes in small print below. */
function linkBlocks(finding: Finding, options: FindingMessageOptions): SlackBlock[] {
  const url = logsInsightsUrl({
    region: options.region,
    logGroup: finding.logGroup,
    auditID: finding.auditID,
    time: finding.time,
  });
  // The URL is built from validated parts and contains none of `<>|`; `&` is still escaped as Slack asks.
  const link = url
    ? `🔎 <${url.replace(/&/g, "&amp;")}|Open this audit event in CloudWatch Logs Insights>`
    : "🔎 _No Logs Insights link: the log group or region is unknown, or the audit ID is unusual_";
  const logGroup = finding.logGroup
    ? `Log group ${mrkdwnCode(finding.logGroup, { max: 600 })}`
    : "Log group _unknown_";
  return [
    section(link),
    context([
      logGroup,
      `ephemeral-guard finding v${finding.schemaVersion} · verb ${mrkdwnCode(finding.verb, { max: 50 })}`,
    ]),
  ];
}

/**
 * A test alert (`ephemeral-guard test-alert`, `test: true`) says so before anything else, in the notification,
 * the header and a first section, so nobody on call mistakes it for an incident.
 */
const TEST_PREFIX = "🧪 TEST ALERT";
const TEST_NOTE =
  "*🧪 This is a test alert*, sent with `ephemeral-guard test-alert` to check that alerts reach this channel. " +
  "Nothing happened on any cluster and nothing needs doing.";

/** One line naming severity, outcome, pod, cluster and actor: the notification, and the plain fallback. */
export function findingNotificationText(finding: Finding): string {
  const style = SEVERITY_STYLE[finding.severity];
  const pod = mrkdwnCode(`${finding.pod.namespace}/${finding.pod.name}`, { max: 300 });
  const where = whereText(finding);
  const cluster = finding.cluster
    ? ` on ${mrkdwnCode(finding.cluster, { max: 200 })}${where ? ` (${where})` : ""}`
    : "";
  const actor = mrkdwnCode(finding.actor.username, { max: 300 });
  const line = `${style.emoji} ${style.label}: ${OUTCOME_TEXT[finding.outcome].headline}: ${pod}${cluster} by ${actor}`;
  return finding.test === true ? `${TEST_PREFIX} (not a real finding): ${line}` : line;
}

/**
 * The alert for one finding: header, summary fields, one section per container, reasons, techniques and
 * runbook, link.
 */
export function findingSlackMessage(finding: Finding, options: FindingMessageOptions): SlackMessage {
  const style = SEVERITY_STYLE[finding.severity];
  const details: SlackBlock[] = [
    ...(finding.test === true ? [section(TEST_NOTE)] : []),
    fieldsSection(summaryFields(finding)),
    ...containerBlocks(finding),
    divider,
    reasonsBlock(finding),
  ];
  const response = responseBlock(finding);
  if (response) details.push(response);
  const server = serverBlock(finding);
  if (server) details.push(server);
  const left = omittedBlock(finding);
  if (left) details.push(left);
  details.push(...linkBlocks(finding, options));
  return message({
    text: findingNotificationText(finding),
    headline: [
      header(
        `${finding.test === true ? `${TEST_PREFIX} · ` : ""}${style.emoji} ${style.label}: ${OUTCOME_TEXT[finding.outcome].headline}`,
      ),
    ],
    color: style.color,
    details,
  });
}
