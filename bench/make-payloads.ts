import { gzipSync } from "node:zlib";
import { clusterModel, LOG_GROUP, streamEvent } from "./make-events.ts";
import { RandomSource } from "./random-source.ts";

/** What Lambda receives from a CloudWatch Logs subscription filter. */
export interface SubscriptionPayload {
  awslogs: { data: string };
}

export interface PayloadBatch {
  payloads: SubscriptionPayload[];
  events: number;
  /** Sum of the audit event messages' lengths: the bytes a reader has to look at. */
  messageBytes: number;
  compressedBytes: number;
  largestCompressedBytes: number;
}

/** CloudWatch's asynchronous Lambda payload limit (256 KB before 2025). */
export const MAX_COMPRESSED_BYTES = 1024 * 1024;

export interface StreamSpec {
  seed: number;
  payloads: number;
  eventsPerPayload: number;
  /** One event in `ephemeralOneIn` is an ephemeral-container write. */
  ephemeralOneIn: number;
}

/** kube-apiserver writes audit JSON with Go's encoding/json, which escapes &, < and > (query strings have &). */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[&<>]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

/** A 56-digit CloudWatch event id, which is a string because it does not fit a double. */
function eventId(random: RandomSource): string {
  return random.digits(56);
}

export interface GeneratedPayload {
  payload: SubscriptionPayload;
  events: number;
  messageBytes: number;
  compressedBytes: number;
}

/**
 * Yields one stream's payloads one at a time, so a streaming measurement never holds more than one: consecutive
 * audit events, a few hundred per DATA_MESSAGE, gzip'd and base64'd exactly as CloudWatch Logs delivers them.
 */
export function* generatePayloads(spec: StreamSpec): Generator<GeneratedPayload> {
  const random = new RandomSource(spec.seed);
  const model = clusterModel(random);
  const logStream = `kube-apiserver-audit-${random.hex(32)}`;
  let index = 0;
  for (let p = 0; p < spec.payloads; p++) {
    const logEvents = [];
    let messageBytes = 0;
    for (let e = 0; e < spec.eventsPerPayload; e++) {
      const message = goJson(streamEvent(model, random, index++, spec.ephemeralOneIn));
      messageBytes += message.length;
      logEvents.push({ id: eventId(random), timestamp: model.clock, message });
    }
    const dataMessage = {
      messageType: "DATA_MESSAGE",
      owner: "111122223333",
      logGroup: LOG_GROUP,
      logStream,
      subscriptionFilters: ["ephemeral-guard"],
      logEvents,
    };
    const compressed = gzipSync(JSON.stringify(dataMessage));
    if (compressed.length >= MAX_COMPRESSED_BYTES) {
      throw new RangeError(
        `payload ${p} is ${compressed.length} bytes compressed; CloudWatch would have split it (lower eventsPerPayload)`,
      );
    }
    yield {
      payload: { awslogs: { data: compressed.toString("base64") } },
      events: logEvents.length,
      messageBytes,
      compressedBytes: compressed.length,
    };
  }
}

/** A whole stream in memory, for timing passes over the same bytes. */
export function makeStream(spec: StreamSpec): PayloadBatch {
  const batch: PayloadBatch = {
    payloads: [],
    events: 0,
    messageBytes: 0,
    compressedBytes: 0,
    largestCompressedBytes: 0,
  };
  for (const generated of generatePayloads(spec)) {
    batch.payloads.push(generated.payload);
    batch.events += generated.events;
    batch.messageBytes += generated.messageBytes;
    batch.compressedBytes += generated.compressedBytes;
    batch.largestCompressedBytes = Math.max(batch.largestCompressedBytes, generated.compressedBytes);
  }
  return batch;
}
