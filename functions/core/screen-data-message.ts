import { type Buffer, isAscii } from "node:buffer";
import type { LogRecord } from "./log-record.ts";
import { SUBRESOURCE_MARKER } from "./select-write.ts";

/**
 * The fast path for a decompressed CloudWatch Logs DATA_MESSAGE, read from its bytes without decoding it.
 *
 * Almost every audit event in an unfiltered stream cannot be an ephemeral-container write, and proving that
 * takes a substring test; parsing the whole data message first would turn each event's text into a string
 * and cost about as much as parsing the events themselves. This reads the message the way CloudWatch Logs
 * serialises it, `{…header…,"logEvents":[{"id":"<digits>","timestamp":<digits>,"message":"<JSON string>"},…]}`,
 * and only turns into a string the messages that could match.
 *
 * Why the byte search is sound: inside a JSON string every `"` is escaped as `\"`, so the tokens searched
 * for (`"logEvents":[`, `{"id":"`, `,"message":"`), each with a `"` right after a character other than
 * a backslash, cannot occur inside a string: each event starts at a `{"id":"` and its message ends at the
 * `"},` before the next one. A message whose raw bytes lack the marker cannot parse to an event that carries it,
 * except through an escape of a letter at either level of JSON (hasEscapeThatMaySpellMarker), which no
 * serialiser writes and which, anywhere in a payload with a message to set aside, sends the whole payload to
 * the full parse: the screen never drops a message it cannot prove irrelevant. Every message that could match
 * is decoded with JSON.parse of its string literal, which fails if the slice is not exactly one string.
 * Anything that does not fit the expected layout returns undefined and the caller parses the whole message as
 * before.
 *
 * The messages it sets aside are not decoded at all: it only knows that they start with `{`, end with `}`
 * and lack the marker, which is all the detector looks at before skipping them as another resource. So,
 * unlike the full parse, it does not check the escapes inside those messages, and it assumes log events have
 * no members after `message`: a log event with a trailing string member ending in `}` reads as one longer
 * message, and a payload crafted to nest event-like objects in such members could be read differently from
 * the full parse. Neither can come from CloudWatch Logs (valid JSON, members in this order, gzip
 * CRC-checked); the members-after-message layouts that a different tool might write (numbers, objects,
 * strings not ending in `}`) fail the layout checks and take the full parse, as test/core/screen-data-message
 * shows.
 */

const LOG_EVENTS_KEY = token('"logEvents":[');
const EVENT_START = token('{"id":"');
/**
 * An object's start outside any string: inside a JSON string a quote is always escaped, so `{"` with a bare
 * quote only starts an object of the payload itself. Every one after the array's start must be a log event's
 * `{"id":"`: a log event of another shape (one without an id, say) would otherwise read as part of the
 * message before it.
 */
const OBJECT_START = token('{"');
const TIMESTAMP_KEY = token('","timestamp":');
const MESSAGE_KEY = token(',"message":"');
/** What separates one event's message from the next event's `{"id":"`. */
const EVENT_SEPARATOR = token('"},');
const DOCUMENT_END = token('"}]}');
const MARKER = token(SUBRESOURCE_MARKER);
/**
 * What is searched for to find the marker: part of it, confirmed by comparing the whole marker around each
 * hit. Buffer#indexOf scans for a needle of up to 7 bytes with memchr on its first byte, and 'h' is rare in
 * audit JSON; the whole 19-byte marker takes its slower general search: 2.6 ms instead of 10.4 ms over an
 * unfiltered pass's 45 MB (npm run bench).
 */
const MARKER_PROBE_OFFSET = 2;
const MARKER_PROBE = MARKER.subarray(MARKER_PROBE_OFFSET, MARKER_PROBE_OFFSET + 7);
/** The start of a `\u00XX` escape; `u` is rarer than `\` in audit JSON, so this is the faster search. */
const UNICODE_ESCAPE_BODY = token("u00");

/**
 * The searches of the whole payload that the screen makes when it sets messages aside: event starts, the
 * marker (its probe) and escapes. npm run bench times them alone after gunzip, as the floor of reading a payload
 * this way.
 */
export const SCREEN_SEARCHES: readonly Uint8Array[] = [OBJECT_START, MARKER_PROBE, UNICODE_ESCAPE_BODY];

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const BACKSLASH = 0x5c;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const DIGIT_3 = 0x33;
const DIGIT_6 = 0x36;
const DIGIT_7 = 0x37;
/** Longer ids or timestamps than CloudWatch writes go to the full parse (and keep numbers finite). */
const MAX_DIGITS = 64;

function token(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function isScreenedOut(record: LogRecord): boolean {
  return record instanceof ScreenedOutRecord;
}

export interface ScreenedMessage {
  /** The data message with an empty logEvents array, to validate like the full parse does. */
  header: unknown;
  records: LogRecord[];
}

function matchesAt(raw: Buffer, at: number, expected: Uint8Array): boolean {
  if (at < 0 || at + expected.length > raw.length) return false;
  for (let i = 0; i < expected.length; i++) if (raw[at + i] !== expected[i]) return false;
  return true;
}

/** Index after a run of 1..MAX_DIGITS digits at `at`, or -1. */
function skipDigits(raw: Buffer, at: number): number {
  let end = at;
  while (end < raw.length && end - at <= MAX_DIGITS) {
    const byte = raw[end] ?? 0;
    if (byte < DIGIT_0 || byte > DIGIT_9) break;
    end++;
  }
  return end === at || end - at > MAX_DIGITS ? -1 : end;
}

/** A JSON number has no leading zero: `0` alone or a non-zero first digit. */
function skipJsonInteger(raw: Buffer, at: number): number {
  const end = skipDigits(raw, at);
  return end !== -1 && raw[at] === DIGIT_0 && end - at > 1 ? -1 : end;
}

/** Index of the first marker starting at or after `from`, or -1. */
function nextMarker(raw: Buffer, from: number): number {
  for (
    let at = raw.indexOf(MARKER_PROBE, from + MARKER_PROBE_OFFSET);
    at !== -1;
    at = raw.indexOf(MARKER_PROBE, at + 1)
  ) {
    if (matchesAt(raw, at - MARKER_PROBE_OFFSET, MARKER)) return at - MARKER_PROBE_OFFSET;
  }
  return -1;
}

function indexesOf(raw: Buffer, needle: Uint8Array, from: number): number[] {
  const found: number[] = [];
  for (let at = raw.indexOf(needle, from); at !== -1; at = raw.indexOf(needle, at + 1)) found.push(at);
  return found;
}

/**
 * Whether the payload holds an escape through which a message's decoded text could spell the marker without
 * the payload's bytes containing it. Two levels of JSON are involved: the payload's, in which each message is a
 * string, and the message's own, an audit event as JSON text, which the detector parses in turn. A letter of
 * the marker can hide behind:
 * - a payload-level escape of the letter (`\u0065`), or of a character of a message-level escape (its
 *   backslash, `u` or a digit: `\u005c`, `\u0075`, `\u0030`): any payload-level escape of a character from
 *   0x30 to 0x7f;
 * - a message-level escape of the letter (`\u006X`/`\u007X` in the message), which the payload writes with its
 *   backslash escaped: `\\u0065`.
 * A `u00` after an odd run of backslashes is a payload-level escape; after an even run the last backslash is
 * an escaped one and the `u` belongs to the message. Each `u00` looks back over its own run of backslashes
 * only, so the whole search stays linear.
 */
function hasEscapeThatMaySpellMarker(raw: Buffer): boolean {
  for (let at = raw.indexOf(UNICODE_ESCAPE_BODY); at !== -1; at = raw.indexOf(UNICODE_ESCAPE_BODY, at + 1)) {
    let backslashes = 0;
    while (raw[at - backslashes - 1] === BACKSLASH) backslashes++;
    if (backslashes === 0) continue;
    const high = raw[at + 3] ?? 0;
    const payloadLevel = backslashes % 2 === 1;
    if (payloadLevel ? high >= DIGIT_3 && high <= DIGIT_7 : high === DIGIT_6 || high === DIGIT_7) return true;
  }
  return false;
}

/**
 * Smaller deliveries are parsed whole (decode-cloudwatch.ts does not screen them). Before it can set a message
 * aside the screen finds every event's start; what a small delivery saves by it is a few microseconds, and the
 * deliveries a subscription filter on the marker sends are small and hold nothing to set aside, so there the
 * search was all cost: 3 ms, 2-4% of the filtered bench pass. The deliveries it exists for, an unfiltered log
 * group's, are up to a megabyte of events each.
 */
export const MIN_SCREENED_BYTES = 64 * 1024;

/**
 * After this many messages of one payload are decoded, the rest are cut from one string of the whole payload.
 * A message decoded on its own is first copied out of the payload into a string of its own, which JSON.parse
 * then copies again: in the bench's filtered stream that first copy was 37 MB of short-lived strings per
 * 4,000 events, and the scavenges they caused. A slice of one long string shares its characters instead. The
 * long string costs one copy of the payload, so a payload with only a few messages to decode (the unfiltered
 * stream) keeps copying them one by one; and checking the slice alone for ASCII spares that stream a scan of
 * every payload.
 */
const WHOLE_PAYLOAD_AFTER = 8;

/** Decodes the JSON string literals of one payload, each given by the byte range of its content. */
class MessageDecoder {
  private decoded = 0;
  /** The whole payload as a string, once enough messages were decoded, if the payload is ASCII. */
  private whole: string | undefined;

  constructor(private readonly raw: Buffer) {}

  /** The decoded text of the JSON string whose content is raw[start, end), or undefined if it is not one. */
  decode(start: number, end: number): string | undefined {
    const raw = this.raw;
    // Exactly once per payload: a non-ASCII payload keeps decoding message by message.
    if (++this.decoded === WHOLE_PAYLOAD_AFTER + 1 && isAscii(raw)) this.whole = raw.toString("latin1");
    try {
      // For ASCII bytes latin1 gives the same string as UTF-8, with a plain copy instead of the UTF-8 decoder.
      const literal =
        this.whole?.slice(start - 1, end + 1) ??
        raw.toString(isAscii(raw.subarray(start - 1, end + 1)) ? "latin1" : "utf8", start - 1, end + 1);
      const value: unknown = JSON.parse(literal);
      return typeof value === "string" ? value : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * A record proven not to be an ephemeral-container write; the detector skips it without reading its text,
 * which is decoded only if something asks for it. An instance of one class with the getter on its prototype:
 * an object literal with its own getter and closure per record cost 6 ms of a 20 ms unfiltered screening
 * pass (npm run bench), and a WeakSet of them ~5% of the pass. Being a getter, the text is not copied by
 * `{ ...record }`; nothing copies these records.
 */
class ScreenedOutRecord implements LogRecord {
  logGroup?: string;
  logStream?: string;
  private decoded: string | undefined;

  constructor(
    private readonly raw: Buffer,
    private readonly start: number,
    private readonly end: number,
    readonly position: string,
  ) {}

  get text(): string {
    this.decoded ??= new MessageDecoder(this.raw).decode(this.start, this.end);
    if (this.decoded === undefined) {
      throw new SyntaxError(`${this.position}: log event message is not a JSON string`);
    }
    return this.decoded;
  }
}

/**
 * Whether every event may carry the marker (the marker lies between its start and the next event's), so
 * that the screen would set nothing aside. Such a payload (all a subscription filter on the marker passes)
 * is read faster by one JSON.parse of the whole message than message by message: in the bench's filtered
 * stream the message-by-message read cost about 20% more than the whole parse. It stops at the first event
 * without a marker, so an unfiltered payload pays for one or two marker searches.
 */
function noneToSetAside(raw: Buffer, eventStarts: readonly number[], firstMarker: number): boolean {
  if (eventStarts.length === 0) return false;
  let marker = firstMarker;
  for (let index = 0; index < eventStarts.length; index++) {
    const start = eventStarts[index] ?? 0;
    const end = eventStarts[index + 1] ?? raw.length;
    if (marker !== -1 && marker < start) marker = nextMarker(raw, start);
    if (marker === -1 || marker >= end) return false;
  }
  return true;
}

/**
 * Reads the records of a DATA_MESSAGE laid out as CloudWatch Logs writes it, or returns undefined for the
 * caller to parse it in full. Positions are named as the full parse names them.
 */
export function screenDataMessage(raw: Buffer, position: string): ScreenedMessage | undefined {
  const keyAt = raw.indexOf(LOG_EVENTS_KEY);
  if (keyAt === -1) return undefined;
  let at = keyAt + LOG_EVENTS_KEY.length;
  // Object starts are rare outside event starts, so finding all of them is cheaper than finding each message's
  // end; every one of them after the array's start must be the start of the next event (checked below).
  const eventStarts = raw[at] === CLOSE_BRACKET ? [] : indexesOf(raw, OBJECT_START, at);
  if (eventStarts.length > 0 && eventStarts[0] !== at) return undefined;
  // The first marker at or after the current message; reused while it lies beyond the messages before it.
  // Only the first one in each message is looked for: in a filtered stream every message holds several.
  let marker = nextMarker(raw, at);
  if (noneToSetAside(raw, eventStarts, marker)) return undefined;
  let header: unknown;
  try {
    // Valid only if the key really is the last member of the top-level object.
    header = JSON.parse(`${raw.toString("utf8", 0, keyAt)}"logEvents":[]}`);
  } catch {
    return undefined;
  }
  const records: LogRecord[] = [];
  if (eventStarts.length === 0) {
    return at + 2 === raw.length && raw[at + 1] === CLOSE_BRACE ? { header, records } : undefined;
  }
  const decoder = new MessageDecoder(raw);
  // Only messages set aside need the escape check (see above), so a filtered stream, whose messages are all
  // decoded, skips that search of the whole payload; it runs once, after the loop.
  let setAside = false;
  for (let index = 0; index < eventStarts.length; index++) {
    if (!matchesAt(raw, at, EVENT_START)) return undefined;
    at = skipDigits(raw, at + EVENT_START.length);
    if (!matchesAt(raw, at, TIMESTAMP_KEY)) return undefined;
    const timestampStart = at + TIMESTAMP_KEY.length;
    at = skipJsonInteger(raw, timestampStart);
    if (!matchesAt(raw, at, MESSAGE_KEY)) return undefined;
    const start = at + MESSAGE_KEY.length;
    const nextStart = eventStarts[index + 1];
    const last = nextStart === undefined;
    const end = last ? raw.length - DOCUMENT_END.length : nextStart - EVENT_SEPARATOR.length;
    if (end < start || !matchesAt(raw, end, last ? DOCUMENT_END : EVENT_SEPARATOR)) return undefined;
    if (marker !== -1 && marker < start) marker = nextMarker(raw, start);
    const mayMatch = marker !== -1 && marker < end;
    const where = `${position} logEvents[${index}]`;
    if (!mayMatch && end - start >= 2 && raw[start] === OPEN_BRACE && raw[end - 1] === CLOSE_BRACE) {
      setAside = true;
      records.push(new ScreenedOutRecord(raw, start, end, where));
    } else {
      const text = decoder.decode(start, end);
      if (text === undefined) return undefined;
      // Read only for the messages that are decoded: digits, so latin1 is exact.
      records.push({ text, position: where, timestamp: Number(raw.toString("latin1", timestampStart, at)) });
    }
    if (last) return setAside && hasEscapeThatMaySpellMarker(raw) ? undefined : { header, records };
    at = nextStart;
  }
  return undefined;
}
