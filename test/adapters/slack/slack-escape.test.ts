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
/** Characters that render as nothing: what makes one username look like another. */
const INVISIBLE =
  // biome-ignore lint/suspicious/noMisleadingCharacterClass: tested one code point at a time, combining ones included.
  /[\u00AD\u034F\u115F\u1160\u180B-\u180F\u200B-\u200D\u2060-\u2064\u3164\uFE00-\uFE0F\uFEFF\uFFA0\u{E0000}-\u{E007F}]/u;
/** A host name a client could auto-link: a label, a dot (or an IDNA dot), a letter. */
const BARE_DOMAIN = /[\p{L}\p{N}_-][.\u3002\uFF0E\uFF61]\p{L}/u;

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
    expect(out).toContain("\uFF20here \uFF20Channel");
    expect(out).toContain("https[:]//evil");
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

describe("look-alike usernames", () => {
  it("shows zero-width characters as their code points, so jane\u200B.doe does not pass for jane.doe", () => {
    for (const [invisible, shown] of [
      ["\u200B", "[U+200B]"],
      ["\u200C", "[U+200C]"],
      ["\u200D", "[U+200D]"],
      ["\u2060", "[U+2060]"],
      ["\uFEFF", "[U+FEFF]"],
    ] as const) {
      expect(mrkdwnCode(`jane${invisible}.doe`, { max: 100 })).toBe(`\`jane${shown}.doe\``);
      expect(mrkdwnText(`made by jane${invisible}`, { max: 100 })).toBe(`made by jane${shown}`);
    }
  });

  it("shows the other invisible fillers too: soft hyphen, variation selector, tag characters, Hangul filler", () => {
    expect(mrkdwnCode("ad\u00ADmin\uFE0F\u{E0041}\u3164", { max: 100 })).toBe(
      "`ad[U+00AD]min[U+FE0F][U+E0041][U+3164]`",
    );
  });

  it("never cuts a shown code point in half", () => {
    const out = mrkdwnCode(`${"\u200B".repeat(10)}`, { max: 22 });
    expect(out).toBe(`\`[U+200B][U+200B]${ELLIPSIS}\``);
  });
});

describe("auto-linked domains", () => {
  it("defangs bare domains, e-mail addresses and URL schemes in free text", () => {
    expect(mrkdwnText("see evil.example/login now", { max: 100 })).toBe("see evil[.]example/login now");
    expect(mrkdwnText("mail ops@evil.example.", { max: 100 })).toBe("mail ops@evil[.]example.");
    expect(mrkdwnText("https://www.evil.example/x", { max: 100 })).toBe("https[:]//www[.]evil[.]example/x");
    expect(mrkdwnText("evil\u3002example evil\uFF0Eexample", { max: 100 })).toBe(
      "evil[\u3002]example evil[\uFF0E]example",
    );
  });

  it("defangs names under any real top-level domain, and keeps the field paths reasons name readable", () => {
    expect(mrkdwnText("pulled from attacker.io and evil.co.uk", { max: 100 })).toBe(
      "pulled from attacker[.]io and evil[.]co[.]uk",
    );
    expect(mrkdwnText("EVIL.COM/x", { max: 100 })).toBe("EVIL[.]COM/x");
    expect(
      mrkdwnText("sets securityContext.privileged: true and capabilities.add: SYS_ADMIN", { max: 200 }),
    ).toBe("sets securityContext.privileged: true and capabilities.add: SYS_ADMIN");
  });

  it("keeps dots that cannot be a host name: sentence ends, versions, IP addresses", () => {
    expect(mrkdwnText("Done. kubectl/v1.34.2 from 10.0.0.1.", { max: 100 })).toBe(
      "Done. kubectl/v1.34.2 from 10.0.0.1.",
    );
  });

  it("leaves identifiers copyable: code spans are never linked", () => {
    expect(mrkdwnCode("registry.evil.example/img:1", { max: 100 })).toBe("`registry.evil.example/img:1`");
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
        expect(out).not.toMatch(INVISIBLE);
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
        expect(out).not.toMatch(INVISIBLE);
        expect(out).not.toMatch(BARE_DOMAIN);
        expect(out).not.toMatch(/[a-z]:\/\//i);
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
