/**
 * Reads as much of a JSON text as is there: for an audit event cut mid-JSON (CloudWatch Logs cuts events over its
 * size limit), what it said before the cut.
 *
 * The attacker writes most of what is read here, so: one pass over the text with an explicit stack (no
 * recursion for deep input to blow), never more than MAX_PREFIX_CHARS characters, containers nested deeper than
 * MAX_DEPTH skipped rather than built, and no throw whatever the input. The value keeps every complete member
 * and, open where the text stops, each object and array with the members it had; a string, number or literal
 * that the text stops inside is left out (a cut "SYS_ADMIN" must not read as "SYS_AD", nor 1000 as 10).
 */

/** Where reading stopped, from the root: object keys and array indexes. */
export type JsonPath = Array<string | number>;

export interface JsonPrefix {
  /** What was read; undefined when the text does not even start a value. */
  value: unknown;
  /** Whether the text is exactly one JSON value (with whitespace around it). */
  complete: boolean;
  /** Characters read: the length of the text when complete or cut at its end, else where it broke. */
  readable: number;
  /** Whether reading stopped because the text ended (a cut) rather than at a character JSON cannot have there. */
  endOfText: boolean;
  /** The member reading stopped in, from the root (`["requestObject","spec","ephemeralContainers",0,"env"]`). */
  stoppedIn: JsonPath;
  /** The decoded start of a string the text stops inside, when it does (kept apart: it is not a value). */
  cutString?: string;
}

/**
 * Beyond this many characters nothing is read. A log event is at most 1 MB (256 KB before 2025) and an audit
 * event's identity, target and status come in its first few KB; the bound keeps a huge broken line of a
 * scanned file from costing more than this.
 */
export const MAX_PREFIX_CHARS = 4 * 1024 * 1024;
/** Containers nested deeper than this are skipped: nothing the detector reads lies deeper than ~10 levels. */
export const MAX_DEPTH = 128;

const QUOTE = 0x22;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const SPACE = 0x20;
const TAB = 0x09;
const NEWLINE = 0x0a;
const RETURN = 0x0d;

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
/** What a number is written with: a number the text ends inside may go on (10 of 1000, 1.5 of 1.5e3). */
const NUMBER_CHARS = /^[-+0-9.eE]*$/;
/** Longer runs of number characters than any real number are not a cut number. */
const MAX_NUMBER_CHARS = 64;
const LITERALS: ReadonlyArray<[string, unknown]> = [
  ["true", true],
  ["false", false],
  ["null", null],
];

type Container = Record<string, unknown> | unknown[];

interface Frame {
  container: Container;
  /** The key of the member being read, in an object. */
  key: string | undefined;
  /** This container's key or index in its parent (undefined for the root). */
  at: string | number | undefined;
}

type Expect = "value" | "key-or-close" | "key" | "colon" | "comma-or-close" | "end";

function isWhitespace(code: number): boolean {
  return code === SPACE || code === NEWLINE || code === RETURN || code === TAB;
}

function skipWhitespace(text: string, from: number, end: number): number {
  let at = from;
  while (at < end && isWhitespace(text.charCodeAt(at))) at++;
  return at;
}

/** Sets a member as JSON.parse does: `__proto__` is an own property, never the prototype. */
function setMember(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    object[key] = value;
  }
}

/** JSON.parse of a string literal, or undefined when it is not a valid one. */
function decodeLiteral(literal: string): string | undefined {
  try {
    const value: unknown = JSON.parse(literal);
    return typeof value === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

type StringRead =
  | { kind: "string"; value: string; next: number }
  | { kind: "cut"; prefix: string | undefined }
  | { kind: "invalid" };

/**
 * The characters a string's scan stops at: its closing quote, an escape, or what JSON cannot have in a string.
 * Everything between is taken as it is, so a long run (a padded value) is found by the regular expression
 * engine's scan instead of a loop over every character.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON forbids these raw in a string; the scan must stop at them
const STRING_STOP = /["\\\u0000-\u001f]/g;

/** The string whose opening quote is at `start`. */
function readString(text: string, start: number, end: number): StringRead {
  let at = start + 1;
  let escaped = false;
  // The end of the last complete character or escape: where a cut string's readable part stops.
  let safe = at;
  while (at < end) {
    STRING_STOP.lastIndex = at;
    const stop = STRING_STOP.exec(text)?.index ?? end;
    at = Math.min(stop, end);
    safe = at;
    if (at === end) break;
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      const literal = text.slice(start, at + 1);
      const value = escaped ? decodeLiteral(literal) : literal.slice(1, -1);
      return value === undefined ? { kind: "invalid" } : { kind: "string", value, next: at + 1 };
    }
    if (code < SPACE) return { kind: "invalid" };
    // A backslash: one escape, whole or not at all.
    escaped = true;
    const length = text.charCodeAt(at + 1) === 0x75 /* u */ ? 6 : 2;
    if (at + length > end) break;
    at += length;
    safe = at;
  }
  // Without escapes the readable part is its own value, as for a complete string: no second decode of a cut
  // padding string through JSON.parse. With the scan above, a 256 KB cut padded event reads in 2-3 ms, not 13.
  const readable = text.slice(start + 1, safe);
  return { kind: "cut", prefix: escaped ? decodeLiteral(`"${readable}"`) : readable };
}

const SKIP_CUT = -1;
const SKIP_INVALID = -2;

/**
 * Index after the container opening at `start`, skipped without building it (brackets counted, strings read),
 * or SKIP_CUT when the text ends inside it, SKIP_INVALID at a string JSON cannot have.
 */
function skipContainer(text: string, start: number, end: number): number {
  let depth = 0;
  for (let at = start; at < end; at++) {
    const code = text.charCodeAt(at);
    if (code === QUOTE) {
      const string = readString(text, at, end);
      if (string.kind === "cut") return SKIP_CUT;
      if (string.kind === "invalid") return SKIP_INVALID;
      at = string.next - 1;
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      depth++;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return at + 1;
    }
  }
  return SKIP_CUT;
}

/** Whether text[from, end) could be the start of a number's remaining characters, cut by the end of the text. */
function isCutNumber(text: string, from: number, end: number): boolean {
  return end - from < MAX_NUMBER_CHARS && NUMBER_CHARS.test(text.slice(from, end));
}

export function readJsonPrefix(text: string): JsonPrefix {
  const end = Math.min(text.length, MAX_PREFIX_CHARS);
  const stack: Frame[] = [];
  let root: unknown;
  let expect: Expect = "value";
  let at = 0;
  let cutString: string | undefined;

  const top = (): Frame | undefined => stack[stack.length - 1];

  /** Puts a value where the current frame expects it (or makes it the root). */
  const place = (value: unknown): void => {
    const frame = top();
    if (!frame) root = value;
    else if (Array.isArray(frame.container)) frame.container.push(value);
    else setMember(frame.container, frame.key ?? "", value);
  };

  /** What follows a complete value: the end of the text at the root, else a comma or the container's close. */
  const afterValue = (): Expect => (stack.length === 0 ? "end" : "comma-or-close");

  const stop = (endOfText: boolean): JsonPrefix => {
    const stoppedIn: JsonPath = [];
    for (const frame of stack) if (frame.at !== undefined) stoppedIn.push(frame.at);
    const frame = top();
    if (frame && (expect === "value" || expect === "colon")) {
      if (Array.isArray(frame.container)) stoppedIn.push(frame.container.length);
      else if (frame.key !== undefined) stoppedIn.push(frame.key);
    }
    const prefix: JsonPrefix = { value: root, complete: false, readable: at, endOfText, stoppedIn };
    if (cutString !== undefined) prefix.cutString = cutString;
    return prefix;
  };

  for (;;) {
    at = skipWhitespace(text, at, end);
    if (at >= end) {
      if (expect === "end" && end === text.length) {
        return { value: root, complete: true, readable: at, endOfText: true, stoppedIn: [] };
      }
      return stop(true);
    }
    const code = text.charCodeAt(at);
    switch (expect) {
      case "end":
        return stop(false);
      case "key-or-close":
      case "key": {
        if (expect === "key-or-close" && code === CLOSE_BRACE) {
          stack.pop();
          at++;
          expect = afterValue();
          break;
        }
        if (code !== QUOTE) return stop(false);
        const key = readString(text, at, end);
        if (key.kind === "invalid") return stop(false);
        if (key.kind === "cut") return stop(true);
        (top() as Frame).key = key.value;
        at = key.next;
        expect = "colon";
        break;
      }
      case "colon":
        if (code !== COLON) return stop(false);
        at++;
        expect = "value";
        break;
      case "comma-or-close": {
        const frame = top() as Frame;
        const isArray = Array.isArray(frame.container);
        if (code === COMMA) {
          at++;
          expect = isArray ? "value" : "key";
        } else if (code === (isArray ? CLOSE_BRACKET : CLOSE_BRACE)) {
          stack.pop();
          at++;
          expect = afterValue();
        } else {
          return stop(false);
        }
        break;
      }
      case "value": {
        const frame = top();
        const inArray = frame !== undefined && Array.isArray(frame.container);
        if (inArray && code === CLOSE_BRACKET && (frame.container as unknown[]).length === 0) {
          stack.pop();
          at++;
          expect = afterValue();
          break;
        }
        if (code === OPEN_BRACE || code === OPEN_BRACKET) {
          if (stack.length >= MAX_DEPTH) {
            const next = skipContainer(text, at, end);
            if (next < 0) return stop(next === SKIP_CUT);
            at = next;
            expect = afterValue();
            break;
          }
          const container: Container = code === OPEN_BRACE ? {} : [];
          const position = frame
            ? Array.isArray(frame.container)
              ? frame.container.length
              : frame.key
            : undefined;
          place(container);
          stack.push({ container, key: undefined, at: position });
          at++;
          expect = code === OPEN_BRACE ? "key-or-close" : "value";
          break;
        }
        if (code === QUOTE) {
          const string = readString(text, at, end);
          if (string.kind === "invalid") return stop(false);
          if (string.kind === "cut") {
            cutString = string.prefix;
            return stop(true);
          }
          place(string.value);
          at = string.next;
          expect = afterValue();
          break;
        }
        const literal = LITERALS.find(([word]) => word.charCodeAt(0) === code);
        if (literal) {
          const [word, value] = literal;
          if (text.startsWith(word, at) && at + word.length <= end) {
            place(value);
            at += word.length;
            expect = afterValue();
            break;
          }
          return stop(end - at < word.length && word.startsWith(text.slice(at, end)));
        }
        NUMBER.lastIndex = at;
        const number = NUMBER.exec(text);
        const next = number && number.index === at ? at + number[0].length : at;
        const complete =
          next > at &&
          (next < end ? !NUMBER_CHARS.test(text.charAt(next)) : stack.length === 0 && end === text.length);
        if (!complete) return stop(isCutNumber(text, at, end));
        place(Number(text.slice(at, next)));
        at = next;
        expect = afterValue();
        break;
      }
    }
  }
}
