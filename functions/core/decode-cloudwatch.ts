import { Buffer, isAscii } from "node:buffer";
import { gunzipSync } from "node:zlib";
import * as z from "zod";
import { type AwsOrigin, isAccountId } from "./aws-origin.ts";
import { isRecord } from "./is-record.ts";
import type { DecodedInput, InputProblem, LogRecord } from "./log-record.ts";
import { MIN_SCREENED_BYTES, screenDataMessage } from "./screen-data-message.ts";

/** Decompressed payloads above this are refused: a subscription payload is at most 1 MB compressed. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

const MIN_GUNZIP_CHUNK_BYTES = 64 * 1024;
const MAX_GUNZIP_CHUNK_BYTES = 16 * 1024 * 1024;

/**
 * gunzip with one output chunk the size the gzip trailer announces (ISIZE, the length mod 2^32). zlib's
 * default 16 KB chunks make a 2 MB data message 130 buffers to allocate and concatenate; one chunk makes
 * gunzip about 40% faster (npm run bench). The trailer is only a hint: a wrong one costs more chunks, and
 * maxOutputLength still bounds the output.
 */
export function gunzipPayload(compressed: Buffer, maxOutputLength: number): Buffer {
  const announced = compressed.length >= 4 ? compressed.readUInt32LE(compressed.length - 4) : 0;
  const chunkSize = Math.min(MAX_GUNZIP_CHUNK_BYTES, Math.max(MIN_GUNZIP_CHUNK_BYTES, announced + 64));
  return gunzipSync(compressed, { maxOutputLength, chunkSize });
}

/**
 * awslogs.data is decoded into one buffer kept for the next payload rather than a new one each time. A new
 * 200 KB buffer per payload came from fresh pages of memory (glibc maps allocations that large on their own),
 * and their page faults showed in an unfiltered bench pass: 65 -> 61 ms with the kept buffer, whose pages stay
 * mapped.
 * The compressed bytes are only read by gunzip, before the next payload, so one buffer serves them all. An
 * unusually large payload (a scanned file, say) gets a buffer of its own, so that the kept one stays small.
 */
const MAX_KEPT_BASE64_BYTES = 8 * 1024 * 1024;
let keptBase64Buffer = Buffer.allocUnsafe(0);

function decodeBase64(data: string): Buffer {
  // Base64 decodes to at most 3 bytes per 4 characters; Buffer#write stops at the buffer's end.
  const bound = Math.ceil((data.length * 3) / 4);
  if (bound > MAX_KEPT_BASE64_BYTES) return Buffer.from(data, "base64");
  if (keptBase64Buffer.length < bound) keptBase64Buffer = Buffer.allocUnsafe(Math.max(bound, 256 * 1024));
  return keptBase64Buffer.subarray(0, keptBase64Buffer.write(data, "base64"));
}

/** awslogs.data to the decompressed data message: base64, then gunzip. Throws on bad gzip or oversize. */
export function inflateAwslogsData(data: string, maxOutputLength: number): Buffer {
  return gunzipPayload(decodeBase64(data), maxOutputLength);
}

export const DataMessageSchema = z.looseObject({
  messageType: z.enum(["DATA_MESSAGE", "CONTROL_MESSAGE"]),
  owner: z.string().optional(),
  logGroup: z.string().optional(),
  logStream: z.string().optional(),
  subscriptionFilters: z.array(z.string()).optional(),
  logEvents: z.array(z.unknown()),
});

export const AwslogsEnvelopeSchema = z.looseObject({
  awslogs: z.looseObject({ data: z.string() }),
});

type DataMessage = z.infer<typeof DataMessageSchema>;

function isOptionalString(value: unknown): boolean {
  return value === undefined || typeof value === "string";
}

/*
 * The two schemas above decide once per delivery, and zod's safeParse copies what it checks: 1.8 ms of a filtered
 * bench pass of 1,000 deliveries (2% of it), to no use, since nothing here changes what it reads. These give
 * the same verdicts on the value itself (test/core/decode-cloudwatch-checks.test.ts compares them on any JSON
 * value); the schemas still say what is wrong when they refuse.
 */

/** awslogs.data when the value passes AwslogsEnvelopeSchema, else undefined. */
export function awslogsDataOf(value: unknown): string | undefined {
  if (!isRecord(value) || !isRecord(value.awslogs)) return undefined;
  const data = value.awslogs.data;
  return typeof data === "string" ? data : undefined;
}

/** The value itself when it passes DataMessageSchema, else undefined. */
export function asDataMessage(value: unknown): DataMessage | undefined {
  if (!isRecord(value)) return undefined;
  const { messageType, owner, logGroup, logStream, subscriptionFilters, logEvents } = value;
  if (messageType !== "DATA_MESSAGE" && messageType !== "CONTROL_MESSAGE") return undefined;
  if (!isOptionalString(owner) || !isOptionalString(logGroup) || !isOptionalString(logStream))
    return undefined;
  if (!Array.isArray(logEvents)) return undefined;
  if (subscriptionFilters !== undefined) {
    if (!Array.isArray(subscriptionFilters)) return undefined;
    // Indexed, not every(): a hole is undefined to the schema too.
    for (let index = 0; index < subscriptionFilters.length; index++) {
      if (typeof subscriptionFilters[index] !== "string") return undefined;
    }
  }
  return value as DataMessage;
}

const FilterLogEventsSchema = z.looseObject({
  events: z.array(z.unknown()),
});

const FilteredEventSchema = z.looseObject({
  logStreamName: z.string().optional(),
  eventId: z.string().optional(),
  timestamp: z.number().optional().catch(undefined),
  message: z.string(),
});

/** Same rules as LogEventSchema, without zod's copy of every entry: this runs once per audit event. */
function logEvent(entry: unknown): { message: string; timestamp: number | undefined } | undefined {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return undefined;
  const { id, timestamp, message } = entry as Record<string, unknown>;
  if (typeof message !== "string") return undefined;
  if (id !== undefined && typeof id !== "string") return undefined;
  if (timestamp === undefined) return { message, timestamp: undefined };
  if (!(typeof timestamp === "number" && Number.isFinite(timestamp))) return undefined;
  return { message, timestamp };
}

function problem(position: string, kind: InputProblem["kind"], message: string): InputProblem {
  return { position, kind, message };
}

function empty(form: DecodedInput["form"]): DecodedInput {
  return { form, records: [], problems: [], controlMessages: 0 };
}

/** What a transport says of where its data messages come from. */
export interface Delivery {
  region?: string;
  partition?: string;
  /**
   * Take the account from the data message's `owner` (the account that owns the log group, which CloudWatch
   * Logs writes and a sender cannot choose). Only for deliveries that gather several accounts (the
   * organization's Kinesis stream): in a same-account subscription the owner is the function's own account,
   * and naming it would change every exactly-once key single-account deployments have written
   * (cluster-placement.ts clusterIdentity keys on the account when a finding names one).
   */
  accountFromOwner?: boolean;
}

/**
 * Where a data message's events come from, per `delivery`. Undefined when nothing is known, so that records of
 * a plain file carry nothing. One object per data message, shared by its records.
 */
function originOf(owner: string | undefined, delivery: Delivery): AwsOrigin | undefined {
  const origin: AwsOrigin = {};
  if (delivery.region) origin.region = delivery.region;
  if (delivery.partition) origin.partition = delivery.partition;
  if (delivery.accountFromOwner && isAccountId(owner)) origin.account = owner;
  return origin.account || origin.region ? origin : undefined;
}

export function isDataMessage(value: unknown): boolean {
  return typeof value === "object" && value !== null && "messageType" in value && "logEvents" in value;
}

/**
 * The decoded subscription payload. Each log event is checked on its own so that one bad entry costs one
 * record, not the batch (Powertools' envelope would reject the whole batch).
 */
export function decodeDataMessage(value: unknown, position: string, delivery: Delivery = {}): DecodedInput {
  const out = empty("cloudwatch-data-message");
  const message = asDataMessage(value);
  if (message === undefined) {
    const parsed = DataMessageSchema.safeParse(value);
    const why = parsed.success ? "not a data message" : z.prettifyError(parsed.error);
    out.problems.push(problem(position, "invalid-payload", `not a CloudWatch Logs data message: ${why}`));
    return out;
  }
  if (message.messageType === "CONTROL_MESSAGE") {
    out.controlMessages = 1;
    return out;
  }
  const origin = originOf(message.owner, delivery);
  message.logEvents.forEach((entry, index) => {
    const where = `${position} logEvents[${index}]`;
    const event = logEvent(entry);
    if (event === undefined) {
      out.problems.push(problem(where, "invalid-payload", "log event has no string message"));
      return;
    }
    const record: LogRecord = { text: event.message, position: where };
    if (event.timestamp !== undefined) record.timestamp = event.timestamp;
    if (message.logGroup) record.logGroup = message.logGroup;
    if (message.logStream) record.logStream = message.logStream;
    if (origin) record.origin = origin;
    out.records.push(record);
  });
  return out;
}

/**
 * The byte-level fast path (screen-data-message.ts) when the payload is at least MIN_SCREENED_BYTES, is laid
 * out as CloudWatch writes it and is a DATA_MESSAGE whose header passes the same schema; undefined sends it to
 * the full parse.
 */
function readScreened(raw: Buffer, position: string, delivery: Delivery): DecodedInput | undefined {
  if (raw.length < MIN_SCREENED_BYTES) return undefined;
  const screened = screenDataMessage(raw, position);
  if (!screened) return undefined;
  const header = asDataMessage(screened.header);
  if (header === undefined || header.messageType !== "DATA_MESSAGE") return undefined;
  const { logGroup, logStream, owner } = header;
  const origin = originOf(owner, delivery);
  for (const record of screened.records) {
    if (logGroup) record.logGroup = logGroup;
    if (logStream) record.logStream = logStream;
    if (origin) record.origin = origin;
  }
  return { form: "cloudwatch-subscription", records: screened.records, problems: [], controlMessages: 0 };
}

/** Why awslogs.data could not be inflated: too large, or not base64 gzip. */
export function inflationProblem(
  error: unknown,
  position: string,
  maxDecompressedBytes: number,
): InputProblem {
  const oversized = error instanceof RangeError || /larger than|maxOutputLength/i.test(String(error));
  return oversized
    ? problem(
        position,
        "oversized-payload",
        `awslogs.data decompresses to more than ${maxDecompressedBytes} bytes`,
      )
    : problem(position, "invalid-payload", `awslogs.data is not base64 gzip: ${errorMessage(error)}`);
}

/** `{"awslogs":{"data":"<base64 gzip>"}}`, as Lambda receives it from a subscription filter. */
export function decodeAwslogsData(
  data: string,
  position: string,
  maxDecompressedBytes = DEFAULT_MAX_DECOMPRESSED_BYTES,
  /** Region and partition of the delivery, when known (the data message itself names only the account). */
  delivery: Delivery = {},
): DecodedInput {
  let raw: Buffer;
  try {
    raw = inflateAwslogsData(data, maxDecompressedBytes);
  } catch (error) {
    const out = empty("cloudwatch-subscription");
    out.problems.push(inflationProblem(error, position, maxDecompressedBytes));
    return out;
  }
  return decodeInflatedData(raw, position, delivery);
}

/** The decompressed bytes of awslogs.data (a data message as JSON). */
export function decodeInflatedData(raw: Buffer, position: string, delivery: Delivery = {}): DecodedInput {
  const screened = readScreened(raw, position, delivery);
  if (screened) return screened;
  // Pure ASCII (the usual case) decodes as latin1, a plain copy, instead of through the UTF-8 decoder.
  const json = isAscii(raw) ? raw.toString("latin1") : raw.toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    const out = empty("cloudwatch-subscription");
    out.problems.push(problem(position, "invalid-json", `awslogs.data is not JSON: ${errorMessage(error)}`));
    return out;
  }
  return { ...decodeDataMessage(value, position, delivery), form: "cloudwatch-subscription" };
}

/** The output of `aws logs filter-log-events` (or get-log-events): `{"events":[{"message":…}]}`. */
export function decodeFilterLogEvents(value: unknown, position: string, logGroup?: string): DecodedInput {
  const out = empty("filter-log-events");
  const parsed = FilterLogEventsSchema.safeParse(value);
  if (!parsed.success) {
    out.problems.push(problem(position, "invalid-payload", "no events array"));
    return out;
  }
  parsed.data.events.forEach((entry, index) => {
    const where = `${position} events[${index}]`;
    const event = FilteredEventSchema.safeParse(entry);
    if (!event.success) {
      out.problems.push(problem(where, "invalid-payload", "event has no string message"));
      return;
    }
    const record: LogRecord = { text: event.data.message, position: where };
    if (event.data.timestamp !== undefined) record.timestamp = event.data.timestamp;
    if (logGroup) record.logGroup = logGroup;
    if (event.data.logStreamName) record.logStream = event.data.logStreamName;
    out.records.push(record);
  });
  return out;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
