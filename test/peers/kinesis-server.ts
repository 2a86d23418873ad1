import { Buffer } from "node:buffer";
import type { IncomingMessage } from "node:http";
import { createServer, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import { listenOnLoopback } from "./listen-on-loopback.ts";
import { readRequestBody } from "./read-request-body.ts";

/**
 * A Kinesis Data Streams peer for tests, on 127.0.0.1: the AWS JSON 1.1 protocol the SDK v3 client uses, over
 * HTTP/2 as that client speaks it (cleartext here, TLS at AWS) (POST /, `X-Amz-Target: Kinesis_20131202.GetShardIterator` / `.GetRecords`, JSON body, blobs in base64,
 * timestamps in epoch seconds). Streams are named by ARN (or name) and hold shards of records with
 * increasing sequence numbers; `trim` drops a shard's oldest records, as the stream's retention does.
 *
 * As Kinesis does: an AT_SEQUENCE_NUMBER iterator starts at the first record still held at or after that
 * sequence number; GetRecords returns at most `Limit` records (10,000) and a NextShardIterator while the shard
 * is open; a malformed sequence number or iterator is an InvalidArgumentException, an unknown stream or shard a
 * ResourceNotFoundException.
 *
 * Point a KinesisClient at it with `endpoint: server.endpoint` (or AWS_ENDPOINT_URL_KINESIS), any region and
 * fake static credentials.
 */

export interface KinesisCall {
  target: string;
  body: Record<string, unknown>;
  /** Whether the request carried a SigV4 Authorization header (the real clients always sign). */
  signed: boolean;
  status: number;
}

export interface StoredRecord {
  sequenceNumber: string;
  partitionKey: string;
  data: Buffer;
  arrival: number;
}

export interface KinesisServer {
  readonly endpoint: string;
  readonly calls: KinesisCall[];
  /** Creates the stream (by ARN) and shard when needed; returns the new record's sequence number. */
  put(streamArn: string, shardId: string, data: Buffer, partitionKey?: string): string;
  /** Drops the shard's records before this sequence number (retention passing). */
  trim(streamArn: string, shardId: string, before: string): void;
  /** GetRecords answers at most this many records per call from now on (Kinesis may return fewer than Limit). */
  setPageSize(records: number): void;
  /** Answer the next `times` calls with this error (e.g. 400 ProvisionedThroughputExceededException). */
  failNext(status: number, type: string, times?: number): void;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const SEQUENCE_NUMBER = /^\d{1,128}$/;
/** Sequence numbers of the peer's records: 56 digits, increasing, as Kinesis writes them. */
const FIRST_SEQUENCE = 49_650n * 10n ** 52n;

interface Iterator {
  stream: string;
  shard: string;
  /** The sequence number to read from (inclusive). */
  from: string;
}

class KinesisError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

function asRecord(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function streamKey(body: Record<string, unknown>): string {
  const key = body.StreamARN ?? body.StreamName;
  if (typeof key !== "string") throw new KinesisError(400, "InvalidArgumentException", "no stream named");
  // By ARN or by name: both name the same stream here.
  return key.includes(":stream/") ? key.slice(key.indexOf(":stream/") + ":stream/".length) : key;
}

export async function startKinesisServer(): Promise<KinesisServer> {
  const calls: KinesisCall[] = [];
  const streams = new Map<string, Map<string, StoredRecord[]>>();
  const failures: Array<{ status: number; type: string }> = [];
  let next = FIRST_SEQUENCE;
  let pageSize = 10_000;

  function shardOf(stream: string, shard: string): StoredRecord[] {
    const records = streams.get(stream)?.get(shard);
    if (!records)
      throw new KinesisError(
        400,
        "ResourceNotFoundException",
        `Shard ${shard} in stream ${stream} not found`,
      );
    return records;
  }

  function getShardIterator(body: Record<string, unknown>): unknown {
    const stream = streamKey(body);
    const shard = String(body.ShardId ?? "");
    shardOf(stream, shard);
    const type = body.ShardIteratorType;
    const sequence = body.StartingSequenceNumber;
    let from: string;
    if (type === "TRIM_HORIZON") from = "0";
    else if (type === "AT_SEQUENCE_NUMBER" || type === "AFTER_SEQUENCE_NUMBER") {
      if (typeof sequence !== "string" || !SEQUENCE_NUMBER.test(sequence))
        throw new KinesisError(
          400,
          "InvalidArgumentException",
          `StartingSequenceNumber ${String(sequence)} is invalid`,
        );
      from = type === "AT_SEQUENCE_NUMBER" ? sequence : String(BigInt(sequence) + 1n);
    } else
      throw new KinesisError(
        400,
        "InvalidArgumentException",
        `ShardIteratorType ${String(type)} unsupported`,
      );
    const iterator: Iterator = { stream, shard, from };
    return { ShardIterator: Buffer.from(JSON.stringify(iterator)).toString("base64") };
  }

  function getRecords(body: Record<string, unknown>): unknown {
    let iterator: Iterator;
    try {
      iterator = JSON.parse(
        Buffer.from(String(body.ShardIterator ?? ""), "base64").toString("utf8"),
      ) as Iterator;
    } catch {
      throw new KinesisError(400, "InvalidArgumentException", "ShardIterator is invalid");
    }
    const records = shardOf(iterator.stream, iterator.shard);
    const limit = Math.min(typeof body.Limit === "number" ? body.Limit : 10_000, 10_000, pageSize);
    const from = BigInt(iterator.from);
    const page = records.filter((record) => BigInt(record.sequenceNumber) >= from).slice(0, limit);
    const last = page[page.length - 1];
    const nextIterator: Iterator = {
      ...iterator,
      from: last ? String(BigInt(last.sequenceNumber) + 1n) : iterator.from,
    };
    const behind = records.length > 0 && last !== records[records.length - 1] ? 1_000 : 0;
    return {
      Records: page.map((record) => ({
        SequenceNumber: record.sequenceNumber,
        ApproximateArrivalTimestamp: record.arrival / 1000,
        Data: record.data.toString("base64"),
        PartitionKey: record.partitionKey,
      })),
      NextShardIterator: Buffer.from(JSON.stringify(nextIterator)).toString("base64"),
      MillisBehindLatest: behind,
    };
  }

  function answer(target: string, body: Record<string, unknown>): { status: number; payload: unknown } {
    const failure = failures.shift();
    if (failure)
      return { status: failure.status, payload: { __type: failure.type, message: "injected failure" } };
    try {
      if (target === "Kinesis_20131202.GetShardIterator")
        return { status: 200, payload: getShardIterator(body) };
      if (target === "Kinesis_20131202.GetRecords") return { status: 200, payload: getRecords(body) };
      throw new KinesisError(400, "UnknownOperationException", `unsupported ${target}`);
    } catch (error) {
      if (!(error instanceof KinesisError)) throw error;
      return { status: error.status, payload: { __type: error.type, message: error.message } };
    }
  }

  const server = createServer((request: Http2ServerRequest, response: Http2ServerResponse) => {
    // The compatibility API's request is read the same way as an HTTP/1.1 one: a stream of body chunks.
    readRequestBody(request as unknown as IncomingMessage, MAX_BODY_BYTES).then(
      (text) => {
        const target = String(request.headers["x-amz-target"] ?? "");
        const body = asRecord(text);
        const { status, payload } = answer(target, body);
        calls.push({ target, body, signed: typeof request.headers.authorization === "string", status });
        response.writeHead(status, { "content-type": "application/x-amz-json-1.1" });
        response.end(JSON.stringify(payload));
      },
      () => {
        response.writeHead(413);
        response.end();
      },
    );
  });
  const listener = await listenOnLoopback(server);

  return {
    endpoint: `http://127.0.0.1:${listener.port}`,
    calls,
    put(streamArn, shardId, data, partitionKey = "p") {
      const stream = streamKey({ StreamARN: streamArn });
      const shards = streams.get(stream) ?? new Map<string, StoredRecord[]>();
      streams.set(stream, shards);
      const records = shards.get(shardId) ?? [];
      shards.set(shardId, records);
      next += 1_000_000n;
      const sequenceNumber = String(next);
      records.push({ sequenceNumber, partitionKey, data, arrival: 1_764_000_000_000 + records.length });
      return sequenceNumber;
    },
    trim(streamArn, shardId, before) {
      const records = shardOf(streamKey({ StreamARN: streamArn }), shardId);
      const kept = records.filter((record) => BigInt(record.sequenceNumber) >= BigInt(before));
      records.splice(0, records.length, ...kept);
    },
    setPageSize(records) {
      pageSize = records;
    },
    failNext(status, type, times = 1) {
      for (let index = 0; index < times; index++) failures.push({ status, type });
    },
    stop() {
      return listener.close();
    },
  };
}
