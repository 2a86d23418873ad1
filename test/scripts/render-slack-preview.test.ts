import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { SlackMessage } from "../../functions/adapters/slack/slack-block-kit.ts";
import { findingSlackMessage } from "../../functions/adapters/slack/slack-blocks-finding.ts";
import { mrkdwnText } from "../../functions/adapters/slack/slack-escape.ts";
import {
  buildPreviews,
  findingFromSample,
  mrkdwnToHtml,
  type Preview,
  pageHtml,
  previewHtml,
  safeColor,
} from "../../scripts/render-slack-preview.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" };

/** What a reader of the page sees: the text without the stylesheet and tags, HTML entities decoded. */
function visibleText(html: string): string {
  return html
    .replace(/<style>[\s\S]*?<\/style>/g, "")
    .replace(/<[^>]*>/g, "")
    .replace(/&(amp|lt|gt|quot|#39);/g, (_, name: string) => ENTITIES[name] ?? "");
}

/** The only markup the renderer writes inside message text, with the only attributes it writes. */
const ALLOWED_TAGS =
  /<(?:\/?(?:b|i|s|code|pre)|\/a|a href="[^"]*" rel="noopener noreferrer"|\/span|span class="mention"|\/time|time datetime="[^"]*")>/g;

function withoutAllowedTags(html: string): string {
  return html.replace(ALLOWED_TAGS, "");
}

/** How deep bold, italic and strike tags nest. */
function nestingDepth(html: string): number {
  let depth = 0;
  let deepest = 0;
  for (const [tag] of html.matchAll(/<\/?(b|i|s)>/g)) {
    depth += tag.startsWith("</") ? -1 : 1;
    deepest = Math.max(deepest, depth);
  }
  return deepest;
}

function pageOf(message: SlackMessage): string {
  return pageHtml("test", "alerts", [{ message, postedAt: "2026-11-20T09:33:49.000Z" }]);
}

describe("mrkdwnToHtml", () => {
  it("renders bold, italic, strike, inline code and code blocks as Slack does", () => {
    expect(mrkdwnToHtml("*bold* _italic_ ~strike~ `code`")).toBe(
      "<b>bold</b> <i>italic</i> <s>strike</s> <code>code</code>",
    );
    expect(mrkdwnToHtml("```\nkubectl debug\n-it pod```")).toBe("<pre>kubectl debug\n-it pod</pre>");
    expect(mrkdwnToHtml("*Why this severity*\n• a _(high, raise)_")).toBe(
      "<b>Why this severity</b>\n• a <i>(high, raise)</i>",
    );
    expect(mrkdwnToHtml("*bold with _italic_ inside*")).toBe("<b>bold with <i>italic</i> inside</b>");
  });

  it("leaves formatting characters inside words as typed (snake_case, SYS_ADMIN, 2*3*4)", () => {
    expect(mrkdwnToHtml("snake_case_name SYS_ADMIN 2*3*4")).toBe("snake_case_name SYS_ADMIN 2*3*4");
    expect(mrkdwnToHtml("* not bold *")).toBe("* not bold *");
  });

  it("links http(s) URLs with their label, and shows Slack's date token as a date", () => {
    expect(mrkdwnToHtml("🔎 <https://console.example/logs?a=1&amp;b=2|Open in Logs Insights>")).toBe(
      '🔎 <a href="https://console.example/logs?a=1&amp;b=2" rel="noopener noreferrer">Open in Logs Insights</a>',
    );
    expect(mrkdwnToHtml("<!date^1795167227^{date_short_pretty} {time_secs}|2026-11-20T09:33:47.000Z>")).toBe(
      '<time datetime="2026-11-20T09:33:47.000Z">Nov 20, 2026 9:33:47 AM</time>',
    );
    expect(mrkdwnToHtml("<!date^not-a-time^{date}|fallback &lt;text&gt;>")).toBe("fallback &lt;text&gt;");
  });

  it("shows Slack's escaped entities as the characters they stand for, and nothing more", () => {
    expect(visibleText(mrkdwnToHtml("&lt;!channel&gt; &amp;lt; &quot;"))).toBe("<!channel> &lt; &quot;");
  });

  it("shows a raw <script> tag as text: the renderer never passes markup through", () => {
    const html = mrkdwnToHtml("<script>alert(1)</script> <img src=x onerror=alert(1)>");
    expect(html).not.toMatch(/<script|<img/i);
    expect(visibleText(html)).toBe("<script>alert(1)</script> <img src=x onerror=alert(1)>");
  });

  it("does not link javascript: or data: URLs", () => {
    for (const url of ["javascript:alert(1)", "data:text/html,<b>x</b>", "JaVaScRiPt:alert(1)"]) {
      const html = mrkdwnToHtml(`<${url}|click me>`);
      expect(html).not.toContain("<a ");
      expect(visibleText(html)).toBe(`<${url}|click me>`);
    }
  });

  it("keeps a quote in a link URL inside the href: it cannot add an event-handler attribute", () => {
    const html = mrkdwnToHtml('<https://x.example/" onmouseover="alert(1)|label>');
    expect(html).toBe(
      '<a href="https://x.example/&quot; onmouseover=&quot;alert(1)" rel="noopener noreferrer">label</a>',
    );
  });

  it("shows an unescaped broadcast as the mention Slack would make of it, so a picture shows an escaping bug", () => {
    expect(mrkdwnToHtml("<!channel> <@U0ADMIN>")).toBe(
      '<span class="mention">@channel</span> <span class="mention">@U0ADMIN</span>',
    );
  });

  it("writes no tag or attribute of its own choosing for any input (arbitrary mrkdwn)", () => {
    const pieces = fc.constantFrom(
      "*",
      "_",
      "~",
      "`",
      "```",
      "<",
      ">",
      "|",
      "&",
      '"',
      "'",
      "\n",
      " ",
      "a",
      "<!",
      "http://",
      "javascript:",
      "&lt;",
      "!date^1^{date}",
      "<script>",
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(pieces, fc.string({ maxLength: 4 })), { maxLength: 40 }), (parts) => {
        const html = mrkdwnToHtml(parts.join(""));
        expect(withoutAllowedTags(html)).not.toMatch(/[<>]/);
      }),
      { numRuns: 400 },
    );
  });

  it("shows any text escaped by notify-slack as that text, unformatted and unlinked (arbitrary text)", () => {
    // notify-slack swaps formatting characters for look-alikes, gives @here a full-width at sign and defangs URL
    // schemes (`[:]//`): the page shows exactly that, nothing formatted or linked.
    const LOOKALIKES: Record<string, string> = { "\u2217": "*", "\u02CD": "_", "\u223C": "~", "\u02CB": "`" };
    const asTyped = (text: string) =>
      text.replace(/[\u2217\u02CD\u223C\u02CB]/g, (char) => LOOKALIKES[char] ?? char);
    const defanged = (text: string) =>
      text.replace(/@(here|channel|everyone)\b/gi, "\uFF20$1").replace(/:\/\//g, "[:]//");
    const printable = fc.string({
      unit: fc.constantFrom(..." abc_*~`<>&|!@:/#\"'hereps".split("")),
      maxLength: 60,
    });
    fc.assert(
      fc.property(printable, (text) => {
        const html = mrkdwnToHtml(mrkdwnText(text, { max: 3_000 }));
        expect(html).not.toMatch(/<(b|i|s|code|pre|a|span|time)[ >]/);
        expect(asTyped(visibleText(html))).toBe(defanged(text));
      }),
      // The two inputs that once slipped past random runs are always tried.
      { numRuns: 400, examples: [["://"], ["@here"], ["a://b @channel"]] },
    );
  });

  it("stays fast and shallow on deeply nested delimiters (a 6,000-character emphasis bomb)", () => {
    const bomb = `${"*_~".repeat(1_000)}x${"~_*".repeat(1_000)}`;
    const html = mrkdwnToHtml(bomb);
    expect(nestingDepth(html)).toBeLessThanOrEqual(3);
    expect(visibleText(html).replace(/[*_~]/g, "")).toBe("x");
  });
});

describe("Block Kit page", () => {
  it("takes only a hex colour for the colour bar, so a colour cannot carry CSS", () => {
    expect(safeColor("#A30D1F")).toBe("#A30D1F");
    expect(safeColor("red; background: url(https://evil.example/x)")).toBe("#DDDDDD");
    const html = pageOf({
      text: "x",
      attachments: [{ color: "#fff;background:url(//evil.example)", fallback: "x", blocks: [] }],
      unfurl_links: false,
      unfurl_media: false,
    });
    expect(html).not.toContain("evil.example");
  });

  it("forbids scripts and every fetch in the page (CSP), and escapes header text", () => {
    const html = pageOf({
      text: "x",
      blocks: [
        { type: "header", text: { type: "plain_text", text: "<script>alert(1)</script> *not bold*" } },
      ],
      unfurl_links: false,
      unfurl_media: false,
    });
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
    expect(html).not.toMatch(/<script/i);
    expect(visibleText(html)).toContain("<script>alert(1)</script> *not bold*");
  });

  it("shows the notification text when a message has no top-level blocks (the remediation follow-up)", () => {
    const html = pageOf({ text: "↳ *Remediation of alert* `id`", unfurl_links: false, unfurl_media: false });
    expect(html).toContain("<b>Remediation of alert</b> <code>id</code>");
  });
});

describe("the alert pictures (npm run render:alerts)", () => {
  let previews: Preview[];
  beforeAll(async () => {
    previews = await buildPreviews();
  });

  function preview(name: string): Preview {
    const found = previews.find((candidate) => candidate.name === name);
    if (!found) throw new Error(`no preview ${name}`);
    return found;
  }

  it("shows the real critical finding: severity, pod, actor, every reason, and the deletion follow-up", () => {
    const finding = findingFromSample("privileged-sysadmin-profile.json");
    expect(finding.severity).toBe("critical");
    const text = visibleText(previewHtml(preview("alert-critical")));
    expect(text).toContain("🚨 CRITICAL: ephemeral container added to a pod");
    expect(text).toContain(`critical (score ${finding.score})`);
    expect(text).toContain(`${finding.pod.namespace}/${finding.pod.name}`);
    expect(text).toContain(finding.actor.username);
    expect(finding.reasons.length).toBeGreaterThan(0);
    for (const reason of finding.reasons) expect(text).toContain(reason.text);
    expect(text).toContain("Remediation of alert");
    expect(text).toContain("pod deleted");
    expect(text).toContain(`Deleted ${finding.pod.namespace}/${finding.pod.name} (uid ${finding.pod.uid})`);
  });

  it("shows a real medium finding in a picture of its own", () => {
    const text = visibleText(previewHtml(preview("alert-medium")));
    expect(text).toContain("🟠 MEDIUM: ephemeral container added to a pod");
    expect(text).toContain("NET_ADMIN");
  });

  it("shows attacker text from an audit event as text: <!channel> is no mention and a disguised link no link", () => {
    const finding = findingFromSample("slack-injection-strings.json");
    const html = pageOf(findingSlackMessage(finding, { region: "eu-west-1" }));
    const text = visibleText(html);
    expect(text).toContain("<!channel>");
    expect(text).toContain("<!here>");
    expect(html).not.toContain('class="mention"');
    expect(html).not.toMatch(/<a href="https:\/\/evil/);
    expect(html).not.toMatch(/<script/i);
  });
});

describe("docs/slack.md pictures", () => {
  it("shows only committed images, each under 400 KB (the README loads them)", () => {
    const doc = readFileSync(join(ROOT, "docs", "slack.md"), "utf8");
    const images = [...doc.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((match) => match[1] ?? "");
    expect(images).toEqual(["images/alert-critical.png", "images/alert-medium.png"]);
    for (const image of images) {
      const size = statSync(join(ROOT, "docs", image)).size;
      expect(size).toBeGreaterThan(10_000);
      expect(size).toBeLessThan(400_000);
    }
  });
});
