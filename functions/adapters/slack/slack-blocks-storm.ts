import { SEVERITIES, type Severity } from "../../core/severity.ts";
import { digestRange, type Ranked, type StormDigest, type StormNotice } from "../../core/storm.ts";
import { logsInsightsRangeUrl } from "../aws/logs-insights-link.ts";
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
import { joinLinesWithin, mrkdwnCode, mrkdwnTime } from "./slack-escape.ts";

/**
 * Storm control in Slack (core/storm.ts): the notice detect publishes when a cluster goes past its budget,
 * and the digest notify-slack posts for each window that held findings back.
 */

const STORM_EMOJI = "🌀";
const STORM_COLOR = "#5B2A86";

/** EKS cluster names; only such a name is put into a command for people to paste into a shell. */
const EKS_CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;
/**
 * An organization deployment counts storms per cluster ARN (core/aws-origin.ts clusterKeyOf): its parts give
 * the name, account and region that the link and the command need. Only this exact shape is taken apart.
 */
const CLUSTER_ARN =
  /^arn:(aws(?:-[a-z]+)*):eks:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):(\d{12}):cluster\/([0-9A-Za-z][A-Za-z0-9_-]{0,99})$/;

interface StormCluster {
  name: string;
  account?: string;
  region?: string;
}

function stormCluster(cluster: string): StormCluster {
  const parts = CLUSTER_ARN.exec(cluster);
  if (!parts) return { name: cluster };
  return { name: parts[4] as string, account: parts[3] as string, region: parts[2] as string };
}

export interface StormMessageOptions {
  /** The Lambda's region, for the Logs Insights link. */
  region: string | undefined;
}

function field(label: string, value: string): string {
  return `*${label}*\n${value}`;
}

/** The cluster's name, with its account and region when the storm is counted per cluster ARN. */
function clusterCode(cluster: string): string {
  const { name, account, region } = stormCluster(cluster);
  const where =
    account && region
      ? ` (account ${mrkdwnCode(account, { max: 20 })}, ${mrkdwnCode(region, { max: 30 })})`
      : "";
  return `${mrkdwnCode(name, { max: 200 })}${where}`;
}

function windowText(start: string, end: string): string {
  return `${mrkdwnTime(start)}\nto ${mrkdwnTime(end)}`;
}

export function stormNoticeText(notice: StormNotice): string {
  return (
    `${STORM_EMOJI} Alert storm on ${clusterCode(notice.cluster)}: more than ${notice.budget} findings ` +
    `in ${notice.windowMinutes} minutes`
  );
}

/** "Storm started": what the pager also gets, once per cluster and window. */
export function stormNoticeSlackMessage(notice: StormNotice): SlackMessage {
  const minutes = notice.windowMinutes;
  const details: SlackBlock[] = [
    fieldsSection([
      field("Cluster", clusterCode(notice.cluster)),
      field("Window", windowText(notice.windowStart, notice.windowEnd)),
      field("Budget", `${notice.budget} findings per ${minutes} minutes`),
      field("Counted", `${notice.count} findings in this window when the storm began`),
    ]),
    section(
      `Findings of this cluster past the budget are not posted one by one any more. *Critical findings still ` +
        `are.* The others are rolled into one digest per ${minutes}-minute window, posted shortly after the ` +
        "window ends, with counts by severity, the top actors and pods, and how to list them all.",
    ),
    context([
      "The on-call pager gets this notice instead of one page per finding (every finding is still on the " +
        "alerts topic).",
    ]),
  ];
  return message({
    text: stormNoticeText(notice),
    headline: [header(`${STORM_EMOJI} Alert storm: findings past the budget go to a digest`)],
    color: STORM_COLOR,
    details,
  });
}

function countsBySeverity(counts: Record<Severity, number>): string {
  const lines = [...SEVERITIES]
    .reverse()
    .filter((severity) => counts[severity] > 0)
    .map((severity) => `${SEVERITY_STYLE[severity].emoji} ${severity}: ${counts[severity]}`);
  return lines.length > 0 ? lines.join("\n") : "_none_";
}

function outcomesText(digest: StormDigest): string {
  const parts = Object.entries(digest.byOutcome)
    .filter(([, count]) => count > 0)
    .map(([outcome, count]) => `${outcome}: ${count}`);
  return parts.length > 0 ? parts.join("\n") : "_none_";
}

function rankedBlock(title: string, ranked: readonly Ranked[]): SlackBlock {
  const lines = ranked.map((entry) => `• ${mrkdwnCode(entry.name, { max: 300 })}: ${entry.count}`);
  const body = joinLinesWithin(
    lines,
    SLACK_LIMITS.sectionText - title.length - 1,
    (hidden) => `_…and ${hidden} more_`,
  );
  return section(`${title}\n${lines.length > 0 ? body : "_none_"}`);
}

/** Where the storm's audit events are: the members' log group, else the cluster's standard EKS log group. */
function logGroupOf(digest: StormDigest): string | undefined {
  if (digest.logGroup) return digest.logGroup;
  const { name } = stormCluster(digest.cluster);
  return EKS_CLUSTER_NAME.test(name) ? `/aws/eks/${name}/cluster` : undefined;
}

/** Lists every write to ephemeral containers in the range, cut events included (they are still text). */
export const STORM_WINDOW_QUERY =
  "fields @timestamp, auditID, user.username, objectRef.namespace, objectRef.name, verb, responseStatus.code" +
  " | filter @message like /ephemeralcontainers/ | sort @timestamp asc | limit 10000";

function listBlock(digest: StormDigest, options: StormMessageOptions): SlackBlock {
  const { start, end } = digestRange(digest);
  const cluster = stormCluster(digest.cluster);
  // A member account's cluster: its log group is in that account and region, where the link and the hunt go.
  const region = cluster.region ?? options.region;
  const url = logsInsightsRangeUrl({
    region,
    logGroup: logGroupOf(digest),
    query: STORM_WINDOW_QUERY,
    start,
    end,
  });
  const lines = ["*List them all*"];
  const inAccount = cluster.account ? ` (in account ${mrkdwnCode(cluster.account, { max: 20 })})` : "";
  // The URL is built from validated parts and contains none of `<>|`; `&` is still escaped as Slack asks.
  lines.push(
    url
      ? `🔎 <${url.replace(/&/g, "&amp;")}|Open the storm window in CloudWatch Logs Insights>${inAccount}`
      : "🔎 _No Logs Insights link: the log group or region is unknown_",
  );
  if (EKS_CLUSTER_NAME.test(cluster.name)) {
    const regionOption = cluster.region ? ` --region ${cluster.region}` : "";
    const credentials = cluster.account ? `with credentials for account ${cluster.account}: ` : "";
    lines.push(
      `${credentials ? `_${credentials}_\n` : ""}\`\`\`ephemeral-guard hunt --cluster ${cluster.name}${regionOption} --start ${start} --end ${end}\`\`\``,
    );
  } else {
    lines.push(`_The cluster name ${clusterCode(digest.cluster)} is not an EKS name: no command to paste._`);
  }
  return section(lines.join("\n"));
}

function heldColor(digest: StormDigest): string {
  const worst = [...SEVERITIES].reverse().find((severity) => digest.heldBySeverity[severity] > 0);
  return worst ? SEVERITY_STYLE[worst].color : STORM_COLOR;
}

export function stormDigestText(digest: StormDigest): string {
  const atLeast = digest.complete ? "" : "at least ";
  return (
    `${STORM_EMOJI} Storm digest for ${clusterCode(digest.cluster)}: ${atLeast}${digest.held} finding(s) ` +
    `held back; ${atLeast}${digest.postedAlone} critical past the budget posted on their own`
  );
}

/** One digest per (cluster, window): what was held back, who and where, and how to list it all. */
export function stormDigestSlackMessage(
  digest: StormDigest,
  budget: number,
  windowMinutes: number,
  options: StormMessageOptions,
): SlackMessage {
  const start = new Date(digest.window.start).toISOString();
  const end = new Date(digest.window.end).toISOString();
  const incomplete = digest.complete
    ? []
    : [
        context([
          "_More findings were held than one digest reads: counts are lower bounds. List them all below._",
        ]),
      ];
  const details: SlackBlock[] = [
    fieldsSection([
      field("Cluster", clusterCode(digest.cluster)),
      field("Held back during", windowText(start, end)),
      field("Held back, by severity", countsBySeverity(digest.heldBySeverity)),
      field(
        "Past the budget, posted on their own",
        digest.postedAlone > 0 ? `🚨 critical: ${digest.postedAlone}` : "_none_",
      ),
      field("Outcomes past the budget", outcomesText(digest)),
    ]),
    ...incomplete,
    rankedBlock("*Top actors*", digest.topActors),
    rankedBlock("*Top pods*", digest.topPods),
    listBlock(digest, options),
    context([
      `Past the storm budget of ${budget} findings per ${windowMinutes} minutes, findings are held for a ` +
        "digest like this one; critical findings always post on their own.",
    ]),
  ];
  return message({
    text: stormDigestText(digest),
    headline: [header(`${STORM_EMOJI} Alert storm digest: ${digest.held} finding(s) held back`)],
    color: heldColor(digest),
    details,
  });
}
