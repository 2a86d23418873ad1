import type { CoverageAlert } from "../../core/cluster-coverage/coverage-alert.ts";
import { ALERT_KIND_TEXT, type CoverageState } from "../../core/cluster-coverage/coverage-state.ts";
import {
  context,
  fieldsSection,
  header,
  message,
  SLACK_LIMITS,
  type SlackBlock,
  type SlackMessage,
  section,
} from "./slack-block-kit.ts";
import { SEVERITY_STYLE } from "./slack-blocks-finding.ts";
import { joinLinesWithin, mrkdwnCode, mrkdwnText, mrkdwnTime } from "./slack-escape.ts";

/**
 * A coverage alert in Slack: which cluster, what changed (state before and now), what was found, what to do.
 * The same escaping rules as findings: every value from the message is a code span or escaped text, since
 * anyone allowed to publish to the topic wrote it, and CloudTrail's caller ARN is partly chosen by the caller.
 */

const STATE_TEXT: Record<CoverageState, string> = {
  covered: "✅ covered",
  "audit-disabled": "🙈 audit logging off",
  unsubscribed: "🔌 not subscribed",
  silent: "🔇 silent",
  deleted: "🗑️ deleted",
};

const REPAIR_TEXT: Record<NonNullable<CoverageAlert["repair"]>["reason"], string> = {
  create: "detect's subscription filter was missing and has been created again",
  redirect: "detect's subscription filter delivered elsewhere and has been pointed back at detect",
  "update-pattern": "detect's subscription filter had an outdated pattern and has been updated",
  "update-role":
    "detect's subscription filter lacked the role the organization's destination requires and has been updated",
};

function field(label: string, value: string): string {
  return `*${label}*\n${value}`;
}

function stateText(alert: CoverageAlert): string {
  const now = STATE_TEXT[alert.state];
  return alert.previousState && alert.previousState !== alert.state
    ? `${now}\n_was ${STATE_TEXT[alert.previousState]}_`
    : now;
}

function summaryFields(alert: CoverageAlert): string[] {
  const style = SEVERITY_STYLE[alert.severity];
  const fields = [
    field("Severity", `${style.emoji} ${alert.severity}`),
    field("State", stateText(alert)),
    field("Cluster", mrkdwnCode(alert.cluster, { max: 200 })),
    field("Region", alert.region ? mrkdwnCode(alert.region, { max: 100 }) : "_unknown_"),
    field("Log group", mrkdwnCode(alert.logGroup, { max: 300 })),
    field("Checked", mrkdwnTime(alert.time)),
  ];
  if (alert.lastAuditEventAt) fields.push(field("Last audit event", mrkdwnTime(alert.lastAuditEventAt)));
  if (alert.coveredUntil) fields.push(field("Last seen covered", mrkdwnTime(alert.coveredUntil)));
  return fields;
}

function problemsBlock(alert: CoverageAlert): SlackBlock | undefined {
  if (alert.problems.length === 0) return undefined;
  const title = "*What coverage found*";
  const lines = alert.problems.map((problem) => `• ${mrkdwnText(problem.detail, { max: 1_200 })}`);
  const body = joinLinesWithin(
    lines,
    SLACK_LIMITS.sectionText - title.length - 1,
    (hidden) => `_…and ${hidden} more, see the coverage function's logs_`,
  );
  return section(`${title}\n${body}`);
}

function repairBlock(alert: CoverageAlert): SlackBlock | undefined {
  if (!alert.repair) return undefined;
  const previous = alert.repair.previousDestination
    ? `\nIt delivered to ${mrkdwnCode(alert.repair.previousDestination, { max: 1_500 })}`
    : "";
  return section(`*Subscription* ${REPAIR_TEXT[alert.repair.reason]}.${previous}`);
}

function triggerElement(alert: CoverageAlert): string | undefined {
  const trigger = alert.trigger;
  if (!trigger) return undefined;
  const parts = [`Checked at once after ${mrkdwnCode(trigger.eventName, { max: 100 })}`];
  if (trigger.actor) parts.push(`by ${mrkdwnCode(trigger.actor, { max: 1_200 })}`);
  if (trigger.sourceIPAddress) parts.push(`from ${mrkdwnCode(trigger.sourceIPAddress, { max: 150 })}`);
  if (trigger.eventTime) parts.push(`at ${mrkdwnTime(trigger.eventTime)}`);
  return `${parts.join(" ")} (CloudTrail)`;
}

/** The notification line, and the plain fallback when the detailed message cannot be built or is refused. */
export function coverageNotificationText(alert: CoverageAlert): string {
  const style = SEVERITY_STYLE[alert.severity];
  const region = alert.region ? ` (${mrkdwnCode(alert.region, { max: 60 })})` : "";
  return `${style.emoji} ${style.label}: coverage of ${mrkdwnCode(alert.cluster, { max: 200 })}${region}: ${ALERT_KIND_TEXT[alert.alert].headline}`;
}

export function coverageSlackMessage(alert: CoverageAlert): SlackMessage {
  const style = SEVERITY_STYLE[alert.severity];
  const text = ALERT_KIND_TEXT[alert.alert];
  const details: SlackBlock[] = [
    fieldsSection(summaryFields(alert)),
    section(mrkdwnText(text.meaning, { max: 1_000 })),
  ];
  const problems = problemsBlock(alert);
  if (problems) details.push(problems);
  const repair = repairBlock(alert);
  if (repair) details.push(repair);
  if (alert.action) details.push(section(`*What to do*\n${mrkdwnText(alert.action, { max: 2_500 })}`));
  const trigger = triggerElement(alert);
  details.push(
    context([
      ...(trigger ? [trigger] : []),
      `ephemeral-guard coverage alert v${alert.schemaVersion} · ${mrkdwnCode(alert.id, { max: 300 })}`,
    ]),
  );
  return message({
    text: coverageNotificationText(alert),
    headline: [header(`${style.emoji} ${style.label}: coverage: ${text.headline}`)],
    color: style.color,
    details,
  });
}
