import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ELLIPSIS,
  joinLinesWithin,
  mrkdwnCode,
  mrkdwnCodeList,
  mrkdwnText,
  plainText,
  stripControlCharacters,
} from "../../../functions/adapters/slack/slack-escape.ts";

/** What Slack would parse as a control sequence (mention, link, date) or an entity we did not write. */
const RAW_ANGLE = /[<>]/;
const BARE_AMPERSAND = /&(?!amp;|lt;|gt;)/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence.
const CONTROL = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;

describe("mrkdwnCode", () => {
  it("renders mentions and links as text inside a code span", () => {
    expect(mrkdwnCode("<!channel>", { max: 100 })).toBe("`&lt;!channel&gt;`");
    expect(mrkdwnCode("<https://evil|click>", { max: 100 })).toBe("`&lt;https://evil|click&gt;`");
    expect(mrkdwnCode("<@U012ABC>", { max: 100 })).toBe("`&lt;@U012ABC&gt;`");
    expect(mrkdwnCode("a&b", { max: 100 })).toBe("`a&amp;b`");
  });

  it("keeps formatting characters (inert in code) but cannot be closed early by a backtick", () => {
    expect(mrkdwnCode("*bold* _it_ ~s~", { max: 100 })).toBe("`*bold* _it_ ~s~`");
    expect(mrkdwnCode("a`b", { max: 100 })).toBe("`a\u02CBb`");
  });

  it("strips control and bidi characters and flattens line breaks", () => {
    expect(mrkdwnCode("de\u0007bug\u202Egnp\u202C\r\nx\u0000", { max: 100 })).toBe("`debuggnp x`");
  });

  it("cuts a 5,000-character value to the limit with an ellipsis, never inside an entity", () => {
    const out = mrkdwnCode(`${"<".repeat(10)}${"a".repeat(4990)}`, { max: 40 });
    expect(out.length).toBeLessThanOrEqual(40);
    expect(out.endsWith(`${ELLIPSIS}\``)).toBe(true);
    expect(out).toBe(`\`${"&lt;".repeat(9)}${ELLIPSIS}\``);
  });

  it("shows an empty value as such", () => {
    expect(mrkdwnCode("", { max: 20 })).toBe("_(empty)_");
  });
});

describe("mrkdwnText", () => {
  it("escapes reserved characters and neutralises mentions, links and broadcasts", () => {
    const out = mrkdwnText("<!channel> <https://evil|click> @here @Channel", { max: 200 });
    expect(out).not.toMatch(RAW_ANGLE);
    expect(out).toContain("&lt;!channel&gt;");
    expect(out).not.toMatch(/@here|@Channel/);
    expect(out).toContain("https:\u2060//evil");
  });

  it("replaces formatting characters only where they could format", () => {
    expect(mrkdwnText("*bold* _it_ ~s~ `c`", { max: 100 })).toBe(
      "\u2217bold\u2217 \u02CDit\u02CD \u223Cs\u223C \u02CBc\u02CB",
    );
    expect(mrkdwnText("snake_case and a*b", { max: 100 })).toBe("snake_case and a*b");
  });

  it("keeps line breaks only when asked", () => {
    expect(mrkdwnText("a\nb", { max: 10 })).toBe("a b");
    expect(mrkdwnText("a\r\nb", { max: 10, multiline: true })).toBe("a\nb");
    expect(mrkdwnText("a\rb\tc", { max: 10, multiline: true })).toBe("a\nb c");
    expect(mrkdwnCode("a\rb", { max: 10 })).toBe("`a b`");
  });
});

describe("plainText", () => {
  it("cuts and strips but does not escape (Slack does not parse plain_text)", () => {
    expect(plainText("<!here>\u0007", { max: 150 })).toBe("<!here>");
    expect(plainText("x".repeat(200), { max: 150 })).toHaveLength(150);
  });
});

describe("lists", () => {
  it("counts the items that did not fit", () => {
    const out = mrkdwnCodeList(["alpha", "beta", "gamma", "delta"], { max: 26, maxEach: 10 });
    expect(out).toBe("`alpha`, `beta` and 2 more");
    expect(mrkdwnCodeList([], { max: 20, maxEach: 10 })).toBe("_none_");
  });

  it("joins lines within a limit with a summary of what was left out", () => {
    const lines = Array.from({ length: 100 }, (_, index) => `line ${index}`);
    const out = joinLinesWithin(lines, 60, (hidden) => `…${hidden} more`);
    expect(out.length).toBeLessThanOrEqual(60);
    const kept = out.split("\n");
    expect(kept.at(-1)).toBe(`…${100 - (kept.length - 1)} more`);
  });
});

describe("properties", () => {
  const anyText = fc.string({ unit: "binary", maxLength: 400 });
  const limit = fc.integer({ min: 3, max: 300 });

  it("code spans: within the limit, no raw angle brackets, no bare ampersands, no controls", () => {
    fc.assert(
      fc.property(anyText, limit, (value, max) => {
        const out = mrkdwnCode(value, { max });
        if (out === "_(empty)_") return;
        expect(out.length).toBeLessThanOrEqual(max);
        expect(out).not.toMatch(RAW_ANGLE);
        expect(out).not.toMatch(BARE_AMPERSAND);
        expect(out).not.toMatch(CONTROL);
        expect(out.slice(1, -1)).not.toContain("`");
      }),
    );
  });

  it("free text: within the limit, no raw angle brackets, no bare ampersands, no controls, well-formed", () => {
    fc.assert(
      fc.property(anyText, limit, fc.boolean(), (value, max, multiline) => {
        const out = mrkdwnText(value, { max, multiline });
        expect(out.length).toBeLessThanOrEqual(max);
        expect(out).not.toMatch(RAW_ANGLE);
        expect(out).not.toMatch(BARE_AMPERSAND);
        expect(out).not.toMatch(CONTROL);
        expect(out).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
      }),
    );
  });

  it("text that fits is kept whole (apart from removed controls)", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9 .:/-]{0,80}$/), (value) => {
        expect(mrkdwnCode(value || "x", { max: 200 })).toBe(`\`${value || "x"}\``);
        expect(stripControlCharacters(value)).toBe(value);
      }),
    );
  });
});
