/**
 * Rendering attacker-controlled strings (everything copied from an audit event) into Slack so that they show
 * as the text they are. Slack's mrkdwn has no escape for its formatting characters, only for `&`, `<`, `>`;
 * so identifiers go into inline code spans (where formatting, mentions and auto-links do not apply) and free
 * text gets look-alike substitutes only where a character could change the rendering.
 *
 * Two evasions get visible marks rather than silent fixes, so a reader sees that someone tried:
 * - invisible characters (zero-width spaces and joiners, word joiner, BOM, soft hyphen, variation selectors,
 *   tag characters, Hangul fillers…), which make `jane​.doe` look like `jane.doe`, are shown as `[U+200B]`
 *   in identifiers and free text alike;
 * - in free text, where clients auto-link bare domains and e-mail addresses, the dots of a host name (a dotted
 *   name whose last label is a top-level domain in IANA's list, or a special-use name such as `example`) are
 *   defanged (`evil[.]example/login`, `a@evil[.]example`) and URL schemes lose their `://` (`https[:]//…`).
 *   Other dotted words keep their dots, so the field paths reasons name read as they are
 *   (`securityContext.privileged`). Identifiers keep their dots: code spans are never linked, and a pod or
 *   image name must stay copyable.
 *
 * Lengths are measured after escaping, in UTF-16 code units (never fewer than the characters Slack counts),
 * and a cut never splits an entity, a surrogate pair or a code span.
 */

import tlds from "tlds" with { type: "json" };

export const ELLIPSIS = "…";

/**
 * C0/C1 controls, DEL, bidirectional overrides and isolates (which can make text read backwards), line and
 * paragraph separators. Line breaks and tabs are not here: kept in multi-line text, spaces elsewhere.
 */
const CONTROL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const LINE_BREAKS = /\r\n|\r|\n|\t/g;

/** Slack's three reserved characters; must be escaped everywhere in mrkdwn, including inside code spans. */
const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };

/**
 * Formatting characters (bold, italic, strike, code) and look-alikes that do not format. Used in free text
 * only where the character is not between two word characters, because Slack only treats it as a delimiter
 * at a word boundary: `snake_case` stays as it is, `_x_` and `*bold*` do not format.
 */
const FORMATTING_LOOKALIKES: Record<string, string> = {
  "*": "\u2217", // ∗ asterisk operator
  _: "\u02CD", // ˍ modifier letter low macron
  "~": "\u223C", // ∼ tilde operator
  "`": "\u02CB", // ˋ modifier letter grave accent
};

/**
 * Characters that render as nothing (or as a blank) in Slack's clients: Unicode's default-ignorable code
 * points that are not already removed as controls, plus the Hangul fillers that render blank. Matched one
 * code point at a time (the `u` flag), so astral ones (tags, variation selectors supplement) are whole.
 */
const INVISIBLE =
  // biome-ignore lint/suspicious/noMisleadingCharacterClass: tested one code point at a time, combining ones included.
  /[\u00AD\u034F\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200D\u2060-\u2064\u206A-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\u{1BCA0}-\u{1BCA3}\u{1D173}-\u{1D17A}\u{E0000}-\u{E0FFF}]/u;

/** How an invisible character is shown: its code point, e.g. `[U+200B]`. */
export function visibleCodePoint(char: string): string {
  return `[U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}]`;
}

function showInvisible(char: string): string {
  return INVISIBLE.test(char) ? visibleCodePoint(char) : char;
}

/**
 * `@here`, `@channel`, `@everyone` only notify with `link_names`, but a full-width at sign costs nothing and,
 * unlike a zero-width joiner, is visible.
 */
const BROADCAST_WORDS = /@(here|channel|everyone)\b/gi;
const FULLWIDTH_AT = "\uFF20";
/** Bare URLs are auto-linked in mrkdwn; `[:]` after the scheme (the usual defanging) keeps them as text. */
const URL_SCHEME = /:\/\//g;
/** Dots that separate domain labels, including the ideographic and full-width ones IDNA also accepts. */
const DOTS = new Set([".", "\u3002", "\uFF0E", "\uFF61"]);

/**
 * The names a client may take for the end of a host name: IANA's top-level domains (the `tlds` package, a copy
 * of IANA's list) and the special-use names of RFC 6761 and friends, which link in some clients too.
 */
const TOP_LEVEL_NAMES: ReadonlySet<string> = new Set([
  ...tlds,
  "example",
  "test",
  "invalid",
  "localhost",
  "local",
  "internal",
  "onion",
  "home",
  "lan",
]);
/** A dotted name: labels of letters, digits and hyphens joined by any of the dots in DOTS. */
const DOTTED_NAME = /[\p{L}\p{N}-]+(?:[.\u3002\uFF0E\uFF61][\p{L}\p{N}-]+)+/gu;
const LABEL_SEPARATOR = /[.\u3002\uFF0E\uFF61]/u;

/**
 * The character indexes (in code points) of the dots to defang: every dot of a dotted name that ends in a
 * top-level name, as `evil.example` → `evil[.]example`, `www.evil.co.uk` → `www[.]evil[.]co[.]uk`.
 */
function hostDots(chars: readonly string[]): Set<number> {
  const text = chars.join("");
  const dots = new Set<number>();
  for (const match of text.matchAll(DOTTED_NAME)) {
    const labels = match[0].split(LABEL_SEPARATOR);
    if (!TOP_LEVEL_NAMES.has((labels[labels.length - 1] ?? "").toLowerCase())) continue;
    // Code-point index of the match's start: the text is made of `chars`, so count them.
    let at = Array.from(text.slice(0, match.index)).length;
    for (const char of Array.from(match[0])) {
      if (DOTS.has(char)) dots.add(at);
      at++;
    }
  }
  return dots;
}

export interface CutOptions {
  /** Maximum length of the result, in UTF-16 code units, ellipsis included. */
  max: number;
}

/** Removes what must never reach Slack: controls, bidi overrides, unpaired surrogates. */
export function stripControlCharacters(value: string, keepNewlines = false): string {
  const cleaned = value.replace(LONE_SURROGATE, "\uFFFD").replace(CONTROL, "");
  return keepNewlines
    ? cleaned.replace(/\r\n?/g, "\n").replace(/\t/g, " ")
    : cleaned.replace(LINE_BREAKS, " ");
}

/**
 * Joins escaped pieces (one per code point of the input) up to `max`, ending with an ellipsis when cut.
 * Working on pieces rather than the escaped string keeps `&amp;` and surrogate pairs whole.
 */
function joinWithin(pieces: readonly string[], max: number): string {
  const full = pieces.join("");
  if (full.length <= max) return full;
  const budget = Math.max(0, max - ELLIPSIS.length);
  let out = "";
  for (const piece of pieces) {
    if (out.length + piece.length > budget) break;
    out += piece;
  }
  return out + ELLIPSIS;
}

function isWordCharacter(char: string | undefined): boolean {
  return char !== undefined && /[\p{L}\p{N}]/u.test(char);
}

function escapeEntities(char: string): string {
  return ENTITIES[char] ?? char;
}

/** Cuts plain text (for `plain_text` objects, which Slack does not parse) to `max` with an ellipsis. */
export function plainText(value: string, { max }: CutOptions): string {
  return joinWithin(Array.from(stripControlCharacters(value)), max);
}

/**
 * An identifier (name, image, username, ARN, IP, user agent…) as an inline code span, `max` including the
 * backticks. Nothing inside a code span formats, mentions or links; a backtick in the value would end the
 * span early, so it becomes a look-alike. Invisible characters are shown as their code point.
 */
export function mrkdwnCode(value: string, { max }: CutOptions): string {
  const chars = Array.from(stripControlCharacters(value));
  if (chars.length === 0) return "_(empty)_";
  const pieces = chars.map((char) =>
    char === "`" ? (FORMATTING_LOOKALIKES["`"] ?? char) : escapeEntities(showInvisible(char)),
  );
  return `\`${joinWithin(pieces, Math.max(1, max - 2))}\``;
}

export interface MrkdwnTextOptions extends CutOptions {
  /** Keep line breaks (multi-line section text); otherwise they become spaces. */
  multiline?: boolean;
}

/**
 * Free text (reasons, API server messages, remediation details) as mrkdwn that renders literally:
 * reserved characters escaped, formatting characters at word boundaries replaced by look-alikes, broadcast
 * words given a full-width at sign, URL schemes and domain dots defanged, invisible characters shown.
 */
export function mrkdwnText(value: string, { max, multiline = false }: MrkdwnTextOptions): string {
  const cleaned = stripControlCharacters(value, multiline)
    .replace(BROADCAST_WORDS, `${FULLWIDTH_AT}$1`)
    .replace(URL_SCHEME, "[:]//");
  const chars = Array.from(cleaned);
  const defang = hostDots(chars);
  const pieces = chars.map((char, index) => {
    const lookalike = FORMATTING_LOOKALIKES[char];
    if (lookalike !== undefined) {
      const inWord = isWordCharacter(chars[index - 1]) && isWordCharacter(chars[index + 1]);
      return inWord && char !== "`" ? char : lookalike;
    }
    if (defang.has(index)) return `[${char}]`;
    return escapeEntities(showInvisible(char));
  });
  return joinWithin(pieces, max);
}

/**
 * Joins already-rendered lines up to `max`, ending with a summary line for what did not fit, so a list that
 * is cut still says how much is missing. `more(n)` renders that summary.
 */
export function joinLinesWithin(
  lines: readonly string[],
  max: number,
  more: (hidden: number) => string,
): string {
  const all = lines.join("\n");
  if (all.length <= max) return all;
  const kept: string[] = [];
  let length = 0;
  for (const [index, line] of lines.entries()) {
    const withLine = length + (kept.length > 0 ? 1 : 0) + line.length;
    const hiddenAfter = lines.length - index - 1;
    const needed = withLine + (hiddenAfter > 0 ? 1 + more(hiddenAfter).length : 0);
    if (needed > max) break;
    kept.push(line);
    length = withLine;
  }
  return [...kept, more(lines.length - kept.length)].join("\n");
}

/**
 * A time shown in each reader's own time zone (Slack's date token), falling back to UTC ISO text in clients
 * that cannot render it. Unparseable times are shown as code.
 */
export function mrkdwnTime(time: string): string {
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) return mrkdwnCode(time, { max: 100 });
  const iso = new Date(ms).toISOString();
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${iso}> (\`${iso}\`)`;
}

/**
 * Several identifiers as code spans, `a`, `b` and N more, within `max` in total; each one cut to `maxEach`.
 */
export function mrkdwnCodeList(
  values: readonly string[],
  { max, maxEach }: { max: number; maxEach: number },
): string {
  if (values.length === 0) return "_none_";
  const rendered = values.map((value) => mrkdwnCode(value, { max: maxEach }));
  const kept: string[] = [];
  let length = 0;
  for (const [index, item] of rendered.entries()) {
    const hiddenAfter = rendered.length - index - 1;
    const next = length + (kept.length > 0 ? 2 : 0) + item.length;
    const tail = hiddenAfter > 0 ? ` and ${hiddenAfter} more`.length : 0;
    if (next + tail > max) break;
    kept.push(item);
    length = next;
  }
  const hidden = rendered.length - kept.length;
  return kept.join(", ") + (hidden > 0 ? `${kept.length > 0 ? " and " : ""}${hidden} more` : "");
}
