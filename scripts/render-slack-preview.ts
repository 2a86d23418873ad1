/**
 * Renders the Slack messages notify-slack posts for real findings as HTML that looks like Slack shows them,
 * and (with Chromium) as PNGs for the docs: `npm run render:alerts` rewrites docs/images/alert-*.png.
 *
 * The findings are sample audit events from events/audit run through the core Detector; the messages are
 * built by the same functions notify-slack uses (findingSlackMessage, remediationSlackMessage), and the
 * remediation follow-up comes from remediateFinding with the Kubernetes API's answer fixed to "accepted".
 *
 * The HTML renderer treats every text as untrusted: it parses only the mrkdwn Slack parses, HTML-escapes
 * every piece of text it outputs, links only http(s) and mailto URLs, and the page's CSP allows no script.
 * So the picture shows what Slack would show, including an escaping bug if there ever is one.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type {
  SlackAttachment,
  SlackBlock,
  SlackMessage,
  TextObject,
} from "../functions/adapters/slack/slack-block-kit.ts";
import { findingSlackMessage } from "../functions/adapters/slack/slack-blocks-finding.ts";
import { remediationSlackMessage } from "../functions/adapters/slack/slack-blocks-remediation.ts";
import { decodeDocument } from "../functions/core/decode-input.ts";
import { detectionConfig } from "../functions/core/detection-config.ts";
import { Detector } from "../functions/core/detector.ts";
import type { Finding } from "../functions/core/finding.ts";
import { remediationPolicy } from "../functions/core/remediation/policy.ts";
import { remediateFinding } from "../functions/remediation/remediate-finding.ts";
import { screenshotHtml } from "./chromium-screenshot.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const DEFAULT_OUT_DIR = join(ROOT, "docs", "images");

// ---------------------------------------------------------------------------------------------------------
// mrkdwn → HTML (pure)

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text (or an attribute value) as HTML that shows exactly that text. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

/** Slack's three entities, and only those: any other `&…;` is shown as typed. */
export function decodeSlackEntities(text: string): string {
  return text.replace(/&(amp|lt|gt);/g, (_, name: string) => ({ amp: "&", lt: "<", gt: ">" })[name] ?? "");
}

/** Mrkdwn source text to HTML text: Slack entities decoded, then everything HTML-escaped. */
function textHtml(source: string): string {
  return escapeHtml(decodeSlackEntities(source));
}

/** Code blocks, inline code and `<…>` tokens: inside them nothing else is parsed. */
const TOKENS = /```([\s\S]*?)```|`([^`\n]+)`|<([^<>\n]*)>/g;

/**
 * Bold, italic, strike: the delimiter opens after a non-word character (or at the start), is followed by a
 * non-space, closes after a non-space before a non-word character, and does not cross a line: as Slack does,
 * so `snake_case` stays as it is.
 */
const EMPHASIS = /(^|[^\p{L}\p{N}])([*_~])(?=\S)([^\n]*?\S)\2(?![\p{L}\p{N}])/u;
const EMPHASIS_TAGS: Record<string, string> = { "*": "b", _: "i", "~": "s" };

/** A style already open is not opened again, so nesting is at most three deep whatever the input. */
function emphasisHtml(run: string, open: ReadonlySet<string> = new Set()): string {
  let html = "";
  let rest = run;
  for (;;) {
    const match = EMPHASIS.exec(rest);
    const delimiter = match?.[2];
    if (!match || delimiter === undefined || open.has(delimiter)) {
      // A nested repeat of an open style is shown as typed, delimiters included.
      return html + textHtml(rest);
    }
    const [whole, before = "", , inner = ""] = match;
    const tag = EMPHASIS_TAGS[delimiter] ?? "span";
    html += textHtml(rest.slice(0, match.index) + before);
    html += `<${tag}>${emphasisHtml(inner, new Set([...open, delimiter]))}</${tag}>`;
    rest = rest.slice(match.index + whole.length);
  }
}

const LINKABLE = /^(https?:\/\/|mailto:)/i;

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function twelveHour(date: Date, seconds: boolean): string {
  const hours = date.getUTCHours();
  const pad = (value: number) => String(value).padStart(2, "0");
  const time = `${hours % 12 === 0 ? 12 : hours % 12}:${pad(date.getUTCMinutes())}`;
  return `${time}${seconds ? `:${pad(date.getUTCSeconds())}` : ""} ${hours < 12 ? "AM" : "PM"}`;
}

/** The date tokens notify-slack uses, in UTC (a picture has no reader's time zone); others stay as typed. */
const DATE_TOKENS: Record<string, (date: Date) => string> = {
  date_num: (date) => date.toISOString().slice(0, 10),
  date_short: (date) => `${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()}, ${date.getUTCFullYear()}`,
  date_short_pretty: (date) => `${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()}, ${date.getUTCFullYear()}`,
  time: (date) => twelveHour(date, false),
  time_secs: (date) => twelveHour(date, true),
};

/** `<!date^1700000000^{date_short} {time}|fallback>` (the part after `!date^`). */
function dateHtml(spec: string): string {
  const [head = "", ...fallbackParts] = spec.split("|");
  const fallback = fallbackParts.join("|");
  const [seconds = "", format = ""] = head.split("^");
  const date = new Date(Number(seconds) * 1000);
  if (!/^\d{1,12}$/.test(seconds) || Number.isNaN(date.getTime())) return textHtml(fallback);
  const text = format.replace(/\{(\w+)\}/g, (token, name: string) => DATE_TOKENS[name]?.(date) ?? token);
  return `<time datetime="${escapeHtml(date.toISOString())}">${textHtml(text)}</time>`;
}

function mentionHtml(label: string): string {
  return `<span class="mention">${textHtml(label)}</span>`;
}

/** `<…>`: a date, a mention (rendered as Slack would, so an unescaped one is visible), or a link. */
function angleHtml(content: string): string {
  const [target = "", ...labelParts] = content.split("|");
  const label = labelParts.length > 0 ? labelParts.join("|") : undefined;
  if (target.startsWith("!date^")) return dateHtml(content.slice("!date^".length));
  if (/^!(here|channel|everyone)$/.test(target)) return mentionHtml(`@${target.slice(1)}`);
  if (target.startsWith("!subteam^")) return mentionHtml(label ?? `@${target.slice("!subteam^".length)}`);
  if (target.startsWith("@")) return mentionHtml(label ? `@${label}` : target);
  if (target.startsWith("#")) return mentionHtml(`#${label ?? target.slice(1)}`);
  const url = decodeSlackEntities(target);
  if (LINKABLE.test(url)) {
    return `<a href="${escapeHtml(url)}" rel="noopener noreferrer">${textHtml(label ?? target)}</a>`;
  }
  // Not something Slack links or mentions: shown as typed.
  return textHtml(`<${content}>`);
}

/**
 * Slack mrkdwn (as sent, with `&amp;`, `&lt;`, `&gt;`) as HTML. Line breaks are kept by the stylesheet
 * (`white-space: pre-wrap`), so the output contains them as they are.
 */
export function mrkdwnToHtml(mrkdwn: string): string {
  let html = "";
  let last = 0;
  for (const match of mrkdwn.matchAll(TOKENS)) {
    html += emphasisHtml(mrkdwn.slice(last, match.index));
    const [, pre, code, angle] = match;
    if (pre !== undefined) html += `<pre>${textHtml(pre.replace(/^\n/, ""))}</pre>`;
    else if (code !== undefined) html += `<code>${textHtml(code)}</code>`;
    else html += angleHtml(angle ?? "");
    last = match.index + match[0].length;
  }
  return html + emphasisHtml(mrkdwn.slice(last));
}

// ---------------------------------------------------------------------------------------------------------
// Block Kit → HTML (pure)

function textObjectHtml(text: TextObject): string {
  return text.type === "mrkdwn" ? mrkdwnToHtml(text.text) : escapeHtml(text.text);
}

export function blockHtml(block: SlackBlock): string {
  switch (block.type) {
    case "header":
      return `<div class="header">${escapeHtml(block.text.text)}</div>`;
    case "section": {
      const text = block.text ? `<div class="text">${textObjectHtml(block.text)}</div>` : "";
      const fields = block.fields
        ? `<div class="fields">${block.fields.map((field) => `<div class="field">${textObjectHtml(field)}</div>`).join("")}</div>`
        : "";
      return `<div class="section">${text}${fields}</div>`;
    }
    case "context":
      return `<div class="context">${block.elements.map((element) => `<span>${textObjectHtml(element)}</span>`).join("")}</div>`;
    case "divider":
      return `<hr class="divider">`;
  }
}

/** The colour bar takes only `#rgb`/`#rrggbb`: anything else could carry CSS, so it becomes grey. */
export function safeColor(color: string): string {
  return /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(color) ? color : "#DDDDDD";
}

function attachmentHtml(attachment: SlackAttachment): string {
  return `<div class="attachment" style="border-left-color: ${safeColor(attachment.color)}">${attachment.blocks.map(blockHtml).join("")}</div>`;
}

export interface PostedMessage {
  message: SlackMessage;
  /** When it was posted (ISO 8601): Slack shows the time next to the sender. */
  postedAt: string;
}

/** One message as Slack lays it out: top-level blocks (or the text when there are none), then attachments. */
export function messageHtml({ message, postedAt }: PostedMessage, first: boolean): string {
  const time = Number.isNaN(Date.parse(postedAt)) ? "" : twelveHour(new Date(postedAt), false);
  const body =
    message.blocks && message.blocks.length > 0
      ? message.blocks.map(blockHtml).join("")
      : `<div class="section"><div class="text">${mrkdwnToHtml(message.text)}</div></div>`;
  const attachments = (message.attachments ?? []).map(attachmentHtml).join("");
  // Slack groups messages from one sender: only the first shows the avatar and name.
  const meta = first
    ? `<div class="meta"><span class="sender">ephemeral-guard</span><span class="badge">APP</span><span class="time">${escapeHtml(time)}</span></div>`
    : "";
  const avatar = first ? `<div class="avatar">eg</div>` : `<div class="gutter">${escapeHtml(time)}</div>`;
  return `<div class="message${first ? "" : " grouped"}">${avatar}<div class="body">${meta}${body}${attachments}</div></div>`;
}

const STYLE = `
* { box-sizing: border-box; }
html, body { margin: 0; background: #fff; }
body { font: 15px/1.46668 Lato, "Noto Sans", "DejaVu Sans", "Helvetica Neue", Arial, sans-serif, "Noto Color Emoji";
  color: #1d1c1d; width: 780px; padding: 12px 0; }
.channel-name { font-weight: 900; font-size: 16px; padding: 0 20px 10px; border-bottom: 1px solid #e8e8e8; margin-bottom: 8px; }
.message { display: flex; gap: 8px; padding: 8px 20px; }
.message.grouped { padding-top: 2px; }
.avatar { flex: 0 0 36px; height: 36px; border-radius: 6px; background: #4a154b; color: #fff; font-weight: 900;
  font-size: 15px; display: flex; align-items: center; justify-content: center; letter-spacing: -0.5px; }
.gutter { flex: 0 0 36px; font-size: 11px; color: #fff; }
.body { flex: 1; min-width: 0; }
.meta { display: flex; align-items: baseline; gap: 6px; }
.sender { font-weight: 900; }
.badge { font-size: 10px; font-weight: 700; color: #616061; background: rgba(29,28,29,.08); border-radius: 2px; padding: 0 3px; }
.time { font-size: 12px; color: #616061; }
.header { font-size: 18px; font-weight: 900; line-height: 1.33; margin: 4px 0; }
.section { margin: 4px 0; }
.text, .field, .context span { white-space: pre-wrap; overflow-wrap: break-word; }
.fields { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); column-gap: 16px; row-gap: 8px; }
.context { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12px; color: #616061; margin: 6px 0 2px; }
.divider { border: 0; border-top: 1px solid #ddd; margin: 8px 0; }
.attachment { border-left: 4px solid #ddd; border-radius: 4px 0 0 4px; padding: 2px 0 2px 12px; margin: 4px 0; }
code { font: 12px/1.5 Monaco, Menlo, Consolas, "DejaVu Sans Mono", "Courier New", monospace; color: #e01e5a;
  background: rgba(29,28,29,.04); border: 1px solid rgba(29,28,29,.13); border-radius: 3px; padding: 1px 3px; }
pre { font: 12px/1.5 Monaco, Menlo, Consolas, "DejaVu Sans Mono", monospace; background: rgba(29,28,29,.04);
  border: 1px solid rgba(29,28,29,.13); border-radius: 4px; padding: 8px; margin: 4px 0; white-space: pre-wrap; }
a { color: #1264a3; text-decoration: none; }
.mention { color: #1264a3; background: rgba(29,155,209,.1); border-radius: 3px; padding: 0 2px; }
time { white-space: nowrap; }
`;

/** A whole page: a channel with the messages in order. No script can run (CSP), no resource is fetched. */
export function pageHtml(title: string, channel: string, messages: readonly PostedMessage[]): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<div class="channel-name"># ${escapeHtml(channel)}</div>
${messages.map((message, index) => messageHtml(message, index === 0)).join("\n")}
</body>
</html>
`;
}

// ---------------------------------------------------------------------------------------------------------
// The samples: real findings, the real messages

/** As in the CloudWatch samples (events/cloudwatch): the cluster name comes from the log group. */
const LOG_GROUP = "/aws/eks/prod-eu1/cluster";
const REGION = "eu-west-1";
const CHANNEL = "security-alerts";

export interface Preview {
  /** File name without extension, in docs/images. */
  name: string;
  title: string;
  messages: PostedMessage[];
}

/** A sample audit event through the core Detector, as detect sees it from the subscription. */
export function findingFromSample(file: string): Finding {
  const event: unknown = JSON.parse(readFileSync(join(ROOT, "events", "audit", file), "utf8"));
  const detector = new Detector(detectionConfig({}));
  const [finding, ...rest] = detector.ingest(decodeDocument(event, file, { logGroup: LOG_GROUP }));
  if (!finding || rest.length > 0) {
    throw new Error(`events/audit/${file}: expected one finding, got ${detector.stats.findings}`);
  }
  return finding;
}

function secondsAfter(time: string, seconds: number): string {
  return new Date(Date.parse(time) + seconds * 1000).toISOString();
}

/**
 * What remediate publishes for this finding in enforce mode when the API server accepts the delete: the real
 * guard rails and outcome text; only the cluster's answers are fixed, since there is no cluster here.
 */
export async function deletedOutcomeFor(finding: Finding) {
  return remediateFinding(finding, {
    policy: { ...remediationPolicy({ mode: "enforce" }), mode: "enforce" },
    describeCluster: async (name) => ({
      name,
      endpoint: "https://EXAMPLE0123456789.gr7.eu-west-1.eks.amazonaws.com",
      certificateAuthorityData: "",
    }),
    podsFor: () => ({
      // The live pod as the API server would return it: the one the finding names, with its container.
      getPod: async () => ({
        kind: "found" as const,
        pod: {
          uid: finding.pod.uid ?? "",
          owner: finding.pod.owner,
          static: false,
          beingDeleted: false,
          ephemeralContainers: finding.containers.map((container) => ({
            name: container.name,
            image: container.image,
            targetContainerName: container.targetContainerName,
          })),
        },
      }),
      deletePod: async () => ({ kind: "accepted" }),
    }),
    rateLimit: {
      acquire: async (cluster) => ({ granted: true, key: `${cluster}#preview`, count: 1 }),
      release: async () => {},
    },
    now: () => new Date(secondsAfter(finding.time, 3)),
    warn: (text, context) => process.stderr.write(`${text} ${JSON.stringify(context)}\n`),
  });
}

export async function buildPreviews(): Promise<Preview[]> {
  const critical = findingFromSample("privileged-sysadmin-profile.json");
  const medium = findingFromSample("kubectl-debug-netadmin-profile.json");
  const options = { region: REGION };
  return [
    {
      name: "alert-critical",
      title: "ephemeral-guard: a critical alert and its remediation follow-up",
      messages: [
        { message: findingSlackMessage(critical, options), postedAt: secondsAfter(critical.time, 2) },
        {
          message: remediationSlackMessage(await deletedOutcomeFor(critical)),
          postedAt: secondsAfter(critical.time, 4),
        },
      ],
    },
    {
      name: "alert-medium",
      title: "ephemeral-guard: a medium alert",
      messages: [{ message: findingSlackMessage(medium, options), postedAt: secondsAfter(medium.time, 2) }],
    },
  ];
}

export function previewHtml(preview: Preview): string {
  return pageHtml(preview.title, CHANNEL, preview.messages);
}

// ---------------------------------------------------------------------------------------------------------
// Command line

const USAGE = `Usage: npm run render:alerts -- [--out-dir docs/images] [--chromium /usr/bin/chromium] [--html-only]

Writes <out-dir>/alert-*.html, the Slack messages notify-slack posts for sample findings, and with Chromium
(Debian: apt-get install chromium) a PNG of each. Without Chromium only the HTML is written.`;

/** Where Chromium usually is; `--chromium` or CHROMIUM overrides. */
const CHROMIUM_CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

const OPTIONS = {
  "out-dir": { type: "string" },
  chromium: { type: "string" },
  "html-only": { type: "boolean" },
  help: { type: "boolean" },
} as const;

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let args: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>;
  try {
    args = parseArgs({ args: argv, options: OPTIONS, strict: true });
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    return 1;
  }
  if (args.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const outDir = resolve(args.values["out-dir"] ?? DEFAULT_OUT_DIR);
  const explicit = args.values.chromium ?? env.CHROMIUM;
  const chromium = args.values["html-only"]
    ? undefined
    : (explicit ?? CHROMIUM_CANDIDATES.find((path) => existsSync(path)));
  mkdirSync(outDir, { recursive: true });
  for (const preview of await buildPreviews()) {
    const htmlPath = join(outDir, `${preview.name}.html`);
    writeFileSync(htmlPath, previewHtml(preview));
    process.stdout.write(`wrote ${htmlPath}\n`);
    if (!chromium) continue;
    const pngPath = join(outDir, `${preview.name}.png`);
    try {
      const shot = await screenshotHtml({ chromium, htmlPath, pngPath });
      process.stdout.write(`wrote ${pngPath} (${shot.width}x${shot.height}, ${shot.bytes} bytes)\n`);
    } catch (error) {
      process.stderr.write(`${pngPath}: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
  }
  if (!chromium && !args.values["html-only"]) {
    process.stderr.write(
      "No Chromium found: wrote the HTML only. Install it (Debian: apt-get install chromium) or pass --chromium.\n",
    );
  }
  return 0;
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(resolve(invokedPath)).href) {
  process.exitCode = await main(process.argv.slice(2), process.env);
}
