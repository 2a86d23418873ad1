import { Buffer } from "node:buffer";
import { PassThrough } from "node:stream";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { runReplay } from "../functions/cli/run-replay.ts";
import { type Finding, FindingSchema } from "../functions/core/finding.ts";
import { loadAuditJson } from "./helpers/events.ts";
import { type DynamoPeer, idempotencyTable, startDynalite } from "./peers/dynalite.ts";
import { type KinesisServer, startKinesisServer } from "./peers/kinesis-server.ts";
import { type SnsServer, startSnsServer } from "./peers/sns-server.ts";
import { type SqsServer, startSqsServer } from "./peers/sqs-server.ts";

/**
 * `ephemeral-guard replay` of the stream mapping's failures (organization deployments): the failure queue
 * holds where the batch was, the loopback Kinesis peer still holds its records, and the real
 * @aws-sdk/client-kinesis reads them back; the idempotency table keeps every finding to one message.
 */

const TOPIC = "arn:aws:sns:eu-west-1:999988887777:ephemeral-guard-test-alerts";
const TABLE = "ephemeral-guard-test-idempotency";
const QUEUE = "ephemeral-guard-test-detect-failures";
const STREAM = "arn:aws:kinesis:eu-west-1:999988887777:stream/ephemeral-guard-audit";
const SHARD = "shardId-000000000002";
const DETECT_ARN = "arn:aws:lambda:eu-west-1:999988887777:function:ephemeral-guard-test-detect";

let sns: SnsServer;
let sqs: SqsServer;
let dynamo: DynamoPeer;
let kinesis: KinesisServer;

function payload(owner: string, events: readonly unknown[]): Buffer {
  const message = {
    messageType: "DATA_MESSAGE",
    owner,
    logGroup: "/aws/eks/prod-eu1/cluster",
    logStream: "kube-apiserver-audit-0",
    subscriptionFilters: ["ephemeral-guard"],
    logEvents: events.map((event, index) => ({
      id: String(index),
      timestamp: 1_700_000_000_000 + index,
      message: JSON.stringify(event),
    })),
  };
  return gzipSync(Buffer.from(JSON.stringify(message)));
}

function write(auditID: string): Record<string, unknown> {
  return { ...loadAuditJson("privileged-sysadmin-profile.json"), auditID };
}

/** What Lambda sends to a Kinesis mapping's on-failure destination: where the batch was, not its data. */
function streamFailure(start: string, end: string, batchSize: number): string {
  return JSON.stringify({
    requestContext: {
      requestId: "5c0e4a4e-0000-4000-8000-000000000001",
      functionArn: DETECT_ARN,
      condition: "RetryAttemptsExhausted",
      approximateInvokeCount: 3,
    },
    responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
    version: "1.0",
    timestamp: "2026-12-01T03:00:00.000Z",
    KinesisBatchInfo: {
      shardId: SHARD,
      startSequenceNumber: start,
      endSequenceNumber: end,
      approximateArrivalOfFirstRecord: "2026-12-01T02:59:00.000Z",
      approximateArrivalOfLastRecord: "2026-12-01T02:59:01.000Z",
      batchSize,
      streamArn: STREAM,
    },
  });
}

function enqueue(body: string): void {
  sqs
    .messages(QUEUE)
    .push({ messageId: `m-${sqs.messages(QUEUE).length}`, body, invisibleUntil: 0, receiveCount: 0 });
}

async function replay(): Promise<{ code: number; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const err: Buffer[] = [];
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  vi.stubEnv("AWS_REGION", "eu-west-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
  vi.stubEnv("AWS_MAX_ATTEMPTS", "1");
  vi.stubEnv("AWS_ENDPOINT_URL_SNS", sns.endpoint);
  vi.stubEnv("AWS_ENDPOINT_URL_SQS", sqs.endpoint);
  vi.stubEnv("AWS_ENDPOINT_URL_DYNAMODB", dynamo.endpoint);
  vi.stubEnv("AWS_ENDPOINT_URL_KINESIS", kinesis.endpoint);
  vi.stubEnv("POWERTOOLS_LOG_LEVEL", "SILENT");
  try {
    const code = await runReplay(["--queue-url", sqs.queueUrl(QUEUE), "--visibility-timeout", "60"], {
      stdout,
      stderr,
      env: { ALERTS_TOPIC_ARN: TOPIC, IDEMPOTENCY_TABLE: TABLE, AWS_REGION: "eu-west-1" },
    });
    return { code, stderr: Buffer.concat(err).toString("utf8") };
  } finally {
    vi.unstubAllEnvs();
  }
}

function published(): Finding[] {
  return sns.published.map((message) => FindingSchema.parse(JSON.parse(message.message)));
}

beforeAll(async () => {
  sns = await startSnsServer({ topics: [TOPIC] });
  sqs = await startSqsServer();
  dynamo = await startDynalite([idempotencyTable(TABLE)]);
  kinesis = await startKinesisServer();
  sqs.queueUrl(QUEUE);
});

afterAll(async () => {
  await sns.stop();
  await sqs.stop();
  await dynamo.stop();
  await kinesis.stop();
});

beforeEach(async () => {
  await sns.recover();
  sns.clear();
  sqs.messages(QUEUE).length = 0;
  kinesis.calls.length = 0;
  kinesis.setPageSize(10_000);
  await dynamo.clearTable(TABLE);
});

describe("ephemeral-guard replay of a failed stream batch", () => {
  it("reads the batch back from the stream, first to last sequence number, and publishes each finding exactly once", async () => {
    const before = kinesis.put(
      STREAM,
      SHARD,
      payload("111122223333", [write("0b000000-0000-4000-8000-000000000000")]),
    );
    const first = kinesis.put(
      STREAM,
      SHARD,
      payload("111122223333", [write("0b000000-0000-4000-8000-000000000001")]),
    );
    kinesis.put(STREAM, SHARD, Buffer.from("not gzip"));
    const last = kinesis.put(
      STREAM,
      SHARD,
      payload("444455556666", [write("0b000000-0000-4000-8000-000000000003")]),
    );
    kinesis.put(STREAM, SHARD, payload("444455556666", [write("0b000000-0000-4000-8000-000000000004")]));
    // Kinesis may answer with fewer records than asked: the batch is read over several pages.
    kinesis.setPageSize(2);
    // The batch failed twice (a retry of the mapping after the destination was written): one set of alerts.
    enqueue(streamFailure(first, last, 3));
    enqueue(streamFailure(first, last, 3));

    const result = await replay();
    expect(result.stderr).toContain("2 received, 2 replayed and deleted, 0 failed, 0 unreadable");
    expect(result.code).toBe(0);
    expect(sqs.messages(QUEUE)).toHaveLength(0);
    const findings = published();
    // Neither the record before the batch nor the one after it: only what the batch held.
    expect(findings.map((f) => f.auditID).sort()).toEqual([
      "0b000000-0000-4000-8000-000000000001",
      "0b000000-0000-4000-8000-000000000003",
    ]);
    expect(findings.map((f) => f.clusterArn).sort()).toEqual([
      "arn:aws:eks:eu-west-1:111122223333:cluster/prod-eu1",
      "arn:aws:eks:eu-west-1:444455556666:cluster/prod-eu1",
    ]);
    const iterators = kinesis.calls.filter((c) => c.target === "Kinesis_20131202.GetShardIterator");
    expect(iterators[0]?.body).toMatchObject({
      StreamARN: STREAM,
      ShardId: SHARD,
      ShardIteratorType: "AT_SEQUENCE_NUMBER",
      StartingSequenceNumber: first,
    });
    expect(kinesis.calls.every((c) => c.signed)).toBe(true);
    expect(before < first).toBe(true);
  });

  it("a batch whose records the stream no longer retains is not replayed and stays in the queue, saying why (exit 2)", async () => {
    const first = kinesis.put(
      STREAM,
      SHARD,
      payload("111122223333", [write("0c000000-0000-4000-8000-000000000001")]),
    );
    const last = kinesis.put(
      STREAM,
      SHARD,
      payload("111122223333", [write("0c000000-0000-4000-8000-000000000002")]),
    );
    kinesis.put(STREAM, SHARD, payload("111122223333", [write("0c000000-0000-4000-8000-000000000003")]));
    // Retention passed over the first record of the batch: the rest cannot stand for the whole batch.
    kinesis.trim(STREAM, SHARD, last);
    enqueue(streamFailure(first, last, 2));

    const result = await replay();
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("1 received, 0 replayed and deleted, 1 failed");
    expect(sqs.messages(QUEUE)).toHaveLength(1);
    expect(published()).toEqual([]);
  });

  it("a batch SNS still refuses stays in the queue; the next replay publishes it once", async () => {
    const first = kinesis.put(
      STREAM,
      SHARD,
      payload("111122223333", [write("0d000000-0000-4000-8000-000000000001")]),
    );
    const last = kinesis.put(
      STREAM,
      SHARD,
      payload("111122223333", [write("0d000000-0000-4000-8000-000000000002")]),
    );
    enqueue(streamFailure(first, last, 2));
    await sns.fail({ kind: "refuse" });
    const down = await replay();
    expect(down.code).toBe(2);
    expect(sqs.messages(QUEUE)).toHaveLength(1);

    await sns.recover();
    sqs.expireVisibility();
    const up = await replay();
    expect(up.stderr).toContain("1 received, 1 replayed and deleted, 0 failed");
    expect(up.code).toBe(0);
    expect(
      published()
        .map((f) => f.auditID)
        .sort(),
    ).toEqual(["0d000000-0000-4000-8000-000000000001", "0d000000-0000-4000-8000-000000000002"]);
  });
});
