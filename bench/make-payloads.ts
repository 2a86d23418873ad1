import { gzipSync } from "node:zlib";
import { LOG_GROUP } from "./make-events.ts";
import { RandomSource } from "./random-source.ts";
import { type Message, Traffic, type TrafficKind } from "./traffic.ts";

/** What Lambda receives from a CloudWatch Logs subscription filter. */
export interface SubscriptionPayload {
  awslogs: { data: string };
}

export interface PayloadBatch {
  payloads: SubscriptionPayload[];
  events: number;
  /** Events a finding is expected from (writes, refused writes, cut writes). */
  writes: number;
  /** Events cut at the event size limit (each also a problem of kind cut-event). */
  cuts: number;
  /** Sum of the audit event messages' lengths: the bytes a reader has to look at. */
  messageBytes: number;
  compressedBytes: number;
  largestCompressedBytes: number;
  /** Largest data message, decompressed. */
  largestDataMessageBytes: number;
}

/** CloudWatch's asynchronous Lambda payload limit (256 KB before 2025). */
export const MAX_COMPRESSED_BYTES = 1024 * 1024;
/**
 * A delivery carries one batch as the log agent sent it: PutLogEvents takes at most 1,048,576 bytes, counted as
 * each event's UTF-8 message plus 26 bytes.
 */
export const MAX_BATCH_BYTES = 1_048_576;
const EVENT_OVERHEAD_BYTES = 26;

/** How many events a delivery holds: fixed, or drawn from weighted choices. */
export type DeliverySize = number | ReadonlyArray<{ events: number; weight: number }>;

export interface StreamSpec {
  seed: number;
  kind: TrafficKind;
  payloads: number;
  eventsPerPayload: DeliverySize;
  /** Unfiltered: one event in `ephemeralOneIn` is an ephemeral-container write. */
  ephemeralOneIn: number;
}

/** A 56-digit CloudWatch event id, which is a string because it does not fit a double. */
function eventId(random: RandomSource): string {
  return random.digits(56);
}

export function deliverySize(size: DeliverySize, random: RandomSource): number {
  if (typeof size === "number") return size;
  const total = size.reduce((sum, entry) => sum + entry.weight, 0);
  let roll = random.int(total);
  for (const entry of size) {
    if (roll < entry.weight) return entry.events;
    roll -= entry.weight;
  }
  return size[0]?.events ?? 1;
}

export interface GeneratedPayload {
  payload: SubscriptionPayload;
  events: number;
  writes: number;
  cuts: number;
  messageBytes: number;
  compressedBytes: number;
  dataMessageBytes: number;
}

/**
 * Yields one stream's payloads one at a time, so a streaming measurement never holds more than one: consecutive
 * audit events, as many per DATA_MESSAGE as the spec draws and one PutLogEvents batch holds, gzip'd and
 * base64'd exactly as CloudWatch Logs delivers them.
 */
export function* generatePayloads(spec: StreamSpec): Generator<GeneratedPayload> {
  const random = new RandomSource(spec.seed);
  const traffic = new Traffic(spec.kind, random, spec.ephemeralOneIn);
  const logStream = `kube-apiserver-audit-${random.hex(32)}`;
  let carried: Message | undefined;
  for (let p = 0; p < spec.payloads; p++) {
    const wanted = deliverySize(spec.eventsPerPayload, random);
    const logEvents = [];
    let batchBytes = 0;
    let messageBytes = 0;
    let writes = 0;
    let cuts = 0;
    while (logEvents.length < wanted) {
      const message = carried ?? traffic.next();
      carried = undefined;
      const bytes = Buffer.byteLength(message.text) + EVENT_OVERHEAD_BYTES;
      if (logEvents.length > 0 && batchBytes + bytes > MAX_BATCH_BYTES) {
        carried = message;
        break;
      }
      batchBytes += bytes;
      messageBytes += message.text.length;
      if (message.write) writes++;
      if (message.cut) cuts++;
      logEvents.push({ id: eventId(random), timestamp: traffic.clock, message: message.text });
    }
    const dataMessage = JSON.stringify({
      messageType: "DATA_MESSAGE",
      owner: "111122223333",
      logGroup: LOG_GROUP,
      logStream,
      subscriptionFilters: ["ephemeral-guard"],
      logEvents,
    });
    const compressed = gzipSync(dataMessage);
    if (compressed.length >= MAX_COMPRESSED_BYTES) {
      throw new RangeError(
        `payload ${p} is ${compressed.length} bytes compressed, more than one delivery can be`,
      );
    }
    yield {
      payload: { awslogs: { data: compressed.toString("base64") } },
      events: logEvents.length,
      writes,
      cuts,
      messageBytes,
      compressedBytes: compressed.length,
      dataMessageBytes: dataMessage.length,
    };
  }
}

/** A whole stream in memory, for timing passes over the same bytes. */
export function makeStream(spec: StreamSpec): PayloadBatch {
  const batch: PayloadBatch = {
    payloads: [],
    events: 0,
    writes: 0,
    cuts: 0,
    messageBytes: 0,
    compressedBytes: 0,
    largestCompressedBytes: 0,
    largestDataMessageBytes: 0,
  };
  for (const generated of generatePayloads(spec)) {
    batch.payloads.push(generated.payload);
    batch.events += generated.events;
    batch.writes += generated.writes;
    batch.cuts += generated.cuts;
    batch.messageBytes += generated.messageBytes;
    batch.compressedBytes += generated.compressedBytes;
    batch.largestCompressedBytes = Math.max(batch.largestCompressedBytes, generated.compressedBytes);
    batch.largestDataMessageBytes = Math.max(batch.largestDataMessageBytes, generated.dataMessageBytes);
  }
  return batch;
}
