/**
 * A CloudWatch console link that opens Logs Insights with the query for one audit event, so the responder
 * lands on the raw event (bodies included) in one click.
 *
 * The console keeps its state in the fragment: `#logsV2:logs-insights` + `?queryDetail=` + a JSURL value,
 * where the `?`/`=` (and any `%` escapes) of the fragment are written with `$` instead of `%`, and JSURL
 * strings are `'` + the text with every character outside `[A-Za-z0-9_.-]` written `*hh` (or `**hhhh` above
 * U+00FF) and `$` written `!`. Example the console produces:
 * `#logsV2:logs-insights$3FqueryDetail$3D~(end~'2026-11-20T10*3a14*3a03.000Z~start~'…~timeType~'ABSOLUTE~tz~'UTC~editorString~'fields*20…~source~(~'*2faws*2feks*2fprod*2fcluster))`
 */

/** How far either side of the event time the query looks; CloudWatch delivery of audit logs takes minutes. */
export const QUERY_WINDOW_MS = 60 * 60 * 1000;

/** Audit IDs are UUIDs; anything else is not put into a query string (it could break out of the quotes). */
const SAFE_AUDIT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** CloudWatch log group names: 1–512 characters of `[\w./#-]`. */
const LOG_GROUP = /^[\w./#-]{1,512}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** Console host per partition; the commercial partition uses the regional host. */
const CONSOLE_HOSTS: ReadonlyArray<{ prefix: string; host: (region: string) => string }> = [
  { prefix: "cn-", host: (region) => `${region}.console.amazonaws.cn` },
  { prefix: "us-gov-", host: (region) => `${region}.console.amazonaws-us-gov.com` },
  { prefix: "", host: (region) => `${region}.console.aws.amazon.com` },
];

export interface LogsInsightsLinkInput {
  region: string | undefined;
  logGroup: string | undefined;
  auditID: string;
  /** Event time (ISO 8601); the query window is centred on it. */
  time: string;
}

/** JSURL string encoding as the console writes it (lower-case hex). */
export function jsurlString(value: string): string {
  let out = "'";
  for (let index = 0; index < value.length; index++) {
    const char = value.charAt(index);
    if (/[A-Za-z0-9_.-]/.test(char)) out += char;
    else if (char === "$") out += "!";
    else {
      const code = value.charCodeAt(index);
      out +=
        code < 0x100 ? `*${code.toString(16).padStart(2, "0")}` : `**${code.toString(16).padStart(4, "0")}`;
    }
  }
  return out;
}

/** Second precision with `.000Z`, as the console writes absolute times. */
function consoleTime(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 19)}.000Z`;
}

export function logsInsightsQuery(auditID: string): string {
  return `fields @timestamp, @message | filter auditID = "${auditID}"`;
}

function timeRange(time: string): string {
  const at = Date.parse(time);
  if (Number.isNaN(at)) return "end~0~start~-604800~timeType~'RELATIVE~unit~'seconds";
  const start = jsurlString(consoleTime(at - QUERY_WINDOW_MS));
  const end = jsurlString(consoleTime(at + QUERY_WINDOW_MS));
  return `end~${end}~start~${start}~timeType~'ABSOLUTE~tz~'UTC`;
}

/**
 * The console URL, or undefined when it cannot be built safely (no region or log group, or an audit ID or
 * log group that is not of the expected shape). Callers show the audit ID either way.
 */
export function logsInsightsUrl({
  region,
  logGroup,
  auditID,
  time,
}: LogsInsightsLinkInput): string | undefined {
  if (!region || !REGION.test(region)) return undefined;
  if (!logGroup || !LOG_GROUP.test(logGroup)) return undefined;
  if (!SAFE_AUDIT_ID.test(auditID)) return undefined;
  const detail =
    `~(${timeRange(time)}~editorString~${jsurlString(logsInsightsQuery(auditID))}` +
    `~source~(~${jsurlString(logGroup)}))`;
  const fragment = encodeURIComponent(`?queryDetail=${detail}`).replace(/%/g, "$");
  const console = CONSOLE_HOSTS.find((entry) => region.startsWith(entry.prefix));
  if (!console) return undefined;
  return `https://${console.host(region)}/cloudwatch/home?region=${region}#logsV2:logs-insights${fragment}`;
}

export interface LogsInsightsRangeInput {
  region: string | undefined;
  logGroup: string | undefined;
  /** A query the caller built from validated parts (it is put into the link as it is). */
  query: string;
  /** ISO 8601 bounds of the query. */
  start: string;
  end: string;
}

/** A console URL running `query` on `logGroup` from `start` to `end`; undefined when it cannot be built safely. */
export function logsInsightsRangeUrl({
  region,
  logGroup,
  query,
  start,
  end,
}: LogsInsightsRangeInput): string | undefined {
  if (!region || !REGION.test(region)) return undefined;
  if (!logGroup || !LOG_GROUP.test(logGroup)) return undefined;
  const from = Date.parse(start);
  const to = Date.parse(end);
  if (Number.isNaN(from) || Number.isNaN(to) || to < from) return undefined;
  const range = `end~${jsurlString(consoleTime(to))}~start~${jsurlString(consoleTime(from))}~timeType~'ABSOLUTE~tz~'UTC`;
  const detail = `~(${range}~editorString~${jsurlString(query)}~source~(~${jsurlString(logGroup)}))`;
  const fragment = encodeURIComponent(`?queryDetail=${detail}`).replace(/%/g, "$");
  const console = CONSOLE_HOSTS.find((entry) => region.startsWith(entry.prefix));
  if (!console) return undefined;
  return `https://${console.host(region)}/cloudwatch/home?region=${region}#logsV2:logs-insights${fragment}`;
}
