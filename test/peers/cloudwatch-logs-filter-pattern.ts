/**
 * The part of the CloudWatch Logs filter pattern language the loopback peer evaluates, as the service does:
 *
 * - empty: every event;
 * - terms: `ephemeralcontainers`, `"pods/ephemeralcontainers"`, several (all must appear) or several `?term`
 *   (any may appear). A term matches whole words: case-sensitively, delimited by non-alphanumeric characters
 *   or the ends of the message, so it matches text that is not JSON too (a cut event);
 * - JSON: `{ $.a.b = "x" && ($.c = "y" || $.c = "z") }`, which matches only messages that parse as a JSON
 *   object, comparing string values exactly.
 *
 * Everything else the service accepts (regular expressions `%…%`, space-delimited `[…]`, `-term`, numeric
 * comparisons, `!=`, wildcards, `IS NULL`, `EXISTS`, arrays, unquoted values) is refused with
 * UnsupportedFilterPatternError: the peer says it cannot evaluate a pattern rather than evaluate it wrongly.
 */

export type FilterPatternMatcher = (message: string) => boolean;

export class UnsupportedFilterPatternError extends Error {
  override name = "UnsupportedFilterPatternError";
  constructor(
    readonly pattern: string,
    reason: string,
  ) {
    super(`the cloudwatch-logs peer cannot evaluate filter pattern ${JSON.stringify(pattern)}: ${reason}`);
  }
}

const WORD_CHAR = /[A-Za-z0-9]/;
const BARE_TERM = /^[A-Za-z0-9_]+$/;

function isWordChar(char: string | undefined): boolean {
  return char !== undefined && WORD_CHAR.test(char);
}

/** Whether `term` occurs in `message` as a whole word (not inside a longer run of letters and digits). */
export function containsTerm(message: string, term: string): boolean {
  for (let at = message.indexOf(term); at !== -1; at = message.indexOf(term, at + 1)) {
    const before = at === 0 ? undefined : message[at - 1];
    const after = message[at + term.length];
    const boundedBefore = !isWordChar(term[0]) || !isWordChar(before);
    const boundedAfter = !isWordChar(term[term.length - 1]) || !isWordChar(after);
    if (boundedBefore && boundedAfter) return true;
  }
  return false;
}

function compileTerms(pattern: string): FilterPatternMatcher {
  const tokens = pattern.match(/\?*"[^"]*"|\S+/g) ?? [];
  const optional = tokens.map((token) => token.startsWith("?"));
  if (optional.some((flag) => flag) && !optional.every((flag) => flag)) {
    throw new UnsupportedFilterPatternError(pattern, "mixing ?terms with plain terms");
  }
  const terms = tokens.map((token) => {
    const bare = token.replace(/^\?/, "");
    if (bare.startsWith("-")) throw new UnsupportedFilterPatternError(pattern, `exclusion ${token}`);
    if (bare.startsWith('"')) {
      if (!bare.endsWith('"') || bare.length < 3 || bare.includes("\\")) {
        throw new UnsupportedFilterPatternError(pattern, `quoted term ${token}`);
      }
      return bare.slice(1, -1);
    }
    if (!BARE_TERM.test(bare)) {
      throw new UnsupportedFilterPatternError(pattern, `term ${token} (quote terms with other characters)`);
    }
    return bare;
  });
  if (optional[0]) return (message) => terms.some((term) => containsTerm(message, term));
  return (message) => terms.every((term) => containsTerm(message, term));
}

type JsonExpression =
  | { kind: "equals"; path: string[]; value: string }
  | { kind: "and" | "or"; left: JsonExpression; right: JsonExpression };

/** A recursive-descent parser for `$.path = "value"` joined by `&&`, `||` and parentheses. */
class JsonPatternParser {
  private at = 0;

  constructor(
    private readonly pattern: string,
    private readonly text: string,
  ) {}

  parse(): JsonExpression {
    const expression = this.or();
    this.skipSpace();
    if (this.at !== this.text.length) this.fail(`unexpected ${JSON.stringify(this.text.slice(this.at))}`);
    return expression;
  }

  private or(): JsonExpression {
    let left = this.and();
    while (this.take("||")) left = { kind: "or", left, right: this.and() };
    return left;
  }

  private and(): JsonExpression {
    let left = this.atom();
    while (this.take("&&")) left = { kind: "and", left, right: this.atom() };
    return left;
  }

  private atom(): JsonExpression {
    if (this.take("(")) {
      const inner = this.or();
      if (!this.take(")")) this.fail("missing )");
      return inner;
    }
    const path = this.path();
    if (!this.take("=")) this.fail(`only = on a quoted string is supported after $.${path.join(".")}`);
    return { kind: "equals", path, value: this.string() };
  }

  private path(): string[] {
    this.skipSpace();
    const match = /^\$((?:\.[A-Za-z_][A-Za-z0-9_-]*)+)/.exec(this.text.slice(this.at));
    if (!match?.[1]) this.fail(`expected a $.path at ${JSON.stringify(this.text.slice(this.at))}`);
    this.at += match[0].length;
    if (this.text[this.at] === "[") this.fail("array selectors");
    return match[1].slice(1).split(".");
  }

  private string(): string {
    this.skipSpace();
    const match = /^"([^"\\]*)"/.exec(this.text.slice(this.at));
    if (!match || match[1] === undefined) this.fail("values must be quoted strings without escapes");
    if (match[1].includes("*")) this.fail("wildcards in values");
    this.at += match[0].length;
    return match[1];
  }

  private take(token: string): boolean {
    this.skipSpace();
    if (!this.text.startsWith(token, this.at)) return false;
    // `=` must not be the start of `==`-like or `!=` forms the service has but the peer does not.
    if (token === "=" && this.text[this.at + 1] === "=") this.fail("==");
    this.at += token.length;
    return true;
  }

  private skipSpace(): void {
    while (this.at < this.text.length && /\s/.test(this.text[this.at] ?? "")) this.at++;
  }

  private fail(reason: string): never {
    throw new UnsupportedFilterPatternError(this.pattern, reason);
  }
}

function evaluate(expression: JsonExpression, value: unknown): boolean {
  if (expression.kind !== "equals") {
    const left = evaluate(expression.left, value);
    return expression.kind === "and"
      ? left && evaluate(expression.right, value)
      : left || evaluate(expression.right, value);
  }
  let node = value;
  for (const key of expression.path) {
    if (typeof node !== "object" || node === null || Array.isArray(node) || !Object.hasOwn(node, key)) {
      return false;
    }
    node = (node as Record<string, unknown>)[key];
  }
  return node === expression.value;
}

function compileJson(pattern: string, trimmed: string): FilterPatternMatcher {
  if (!trimmed.endsWith("}")) throw new UnsupportedFilterPatternError(pattern, "JSON pattern without }");
  const expression = new JsonPatternParser(pattern, trimmed.slice(1, -1)).parse();
  return (message) => {
    let value: unknown;
    try {
      value = JSON.parse(message);
    } catch {
      return false;
    }
    return (
      typeof value === "object" && value !== null && !Array.isArray(value) && evaluate(expression, value)
    );
  };
}

/** Compiles a pattern once; throws UnsupportedFilterPatternError for what the peer does not implement. */
export function compileFilterPattern(pattern: string | undefined): FilterPatternMatcher {
  const trimmed = (pattern ?? "").trim();
  if (trimmed === "") return () => true;
  if (trimmed.startsWith("{")) return compileJson(pattern ?? "", trimmed);
  if (trimmed.startsWith("[")) throw new UnsupportedFilterPatternError(trimmed, "space-delimited patterns");
  if (trimmed.includes("%")) throw new UnsupportedFilterPatternError(trimmed, "regular expressions");
  return compileTerms(trimmed);
}
