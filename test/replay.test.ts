import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FindingSchema } from "../functions/core/finding.ts";
import { readEventText } from "./helpers/events.ts";
import { type DynamoPeer, idempotencyTable, startDynalite } from "./peers/dynalite.ts";
import { type SnsServer, startSnsServer } from "./peers/sns-server.ts";
import { type SqsServer, startSqsServer } from "./peers/sqs-server.ts";

/**
 * `npm run replay` as an operator runs it (a separate process, real SDK clients), against loopback SNS, SQS
 * and DynamoDB peers: failed detect invocations come back out of the failure queue exactly once.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const TOPIC = "arn:aws:sns:us-east-1:123456789012:ephemeral-guard-test-alerts";
const TABLE = "ephemeral-guard-test-idempotency";
const QUEUE = "ephemeral-guard-test-detect-failures";
const DETECT_ARN = "arn:aws:lambda:us-east-1:123456789012:function:ephemeral-guard-test-detect:$LATEST";

let sns: SnsServer;
let sqs: SqsServer;
let dynamo: DynamoPeer;

/** The events/jsonl batch with two findings, as a CloudWatch Logs subscription delivery. */
function delivery(): unknown {
  const data = {
    messageType: "DATA_MESSAGE",
    owner: "123456789012",
    logGroup: "/aws/eks/prod-eu/cluster",
    logStream: "kube-apiserver-audit-0123456789abcdef",
    subscriptionFilters: ["ephemeral-guard-test-ephemeral-containers"],
    logEvents: readEventText("jsonl/batch-with-broken-line.jsonl")
      .split("\n")
      .filter(Boolean)
      .map((message, index) => ({ id: String(index), timestamp: 1_700_000_000_000, message })),
  };
  return { awslogs: { data: gzipSync(JSON.stringify(data)).toString("base64") } };
}

/** What Lambda sends to the on-failure destination after the last retry. */
function failureRecord(requestPayload: unknown, functionArn = DETECT_ARN): string {
  return JSON.stringify({
    version: "1.0",
    timestamp: "2026-11-24T03:00:00.000Z",
    requestContext: {
      requestId: "c3c0a8f2-0000-4000-8000-000000000001",
      functionArn,
      condition: "RetriesExhausted",
      approximateInvokeCount: 3,
    },
    requestPayload,
    responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
    responsePayload: { errorType: "PublishOnceError", errorMessage: "2 finding(s) not published" },
  });
}

function enqueue(body: string): void {
  sqs
    .messages(QUEUE)
    .push({ messageId: `m-${sqs.messages(QUEUE).length}`, body, invisibleUntil: 0, receiveCount: 0 });
}

async function runReplay(): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        "--import",
        "tsx",
        "scripts/replay.ts",
        "--queue-url",
        sqs.queueUrl(QUEUE),
        "--visibility-timeout",
        "60",
      ],
      {
        cwd: ROOT,
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          AWS_REGION: "us-east-1",
          AWS_ACCESS_KEY_ID: "test",
          AWS_SECRET_ACCESS_KEY: "test",
          AWS_MAX_ATTEMPTS: "2",
          AWS_ENDPOINT_URL_SNS: sns.endpoint,
          AWS_ENDPOINT_URL_SQS: sqs.endpoint,
          AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
          ALERTS_TOPIC_ARN: TOPIC,
          IDEMPOTENCY_TABLE: TABLE,
        },
      },
      (error, _stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stderr });
      },
    );
  });
}

function publishedIDs(): string[] {
  return sns.published.map((message) => FindingSchema.parse(JSON.parse(message.message)).auditID).sort();
}

beforeAll(async () => {
  sns = await startSnsServer({ topics: [TOPIC] });
  sqs = await startSqsServer();
  dynamo = await startDynalite([idempotencyTable(TABLE)]);
});

afterAll(async () => {
  await sns.stop();
  await sqs.stop();
  await dynamo.stop();
});

beforeEach(async () => {
  await sns.recover();
  sns.clear();
  sqs.messages(QUEUE).length = 0;
  await dynamo.clearTable(TABLE);
});

describe("npm run replay", () => {
  it("keeps messages while SNS is still down, then replays and deletes them, publishing each finding once", async () => {
    sqs.queueUrl(QUEUE);
    // The same event failed twice (a duplicate CloudWatch delivery): two records, one set of alerts.
    enqueue(failureRecord(delivery()));
    enqueue(failureRecord(delivery()));

    await sns.fail({ kind: "refuse" });
    const down = await runReplay();
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("2 received, 0 replayed and deleted, 2 failed");
    expect(sqs.messages(QUEUE)).toHaveLength(2);
    expect(sns.published).toEqual([]);

    await sns.recover();
    sqs.expireVisibility();
    const up = await runReplay();
    expect(up.stderr).toContain("2 received, 2 replayed and deleted, 0 failed");
    expect(up.code).toBe(0);
    expect(sqs.messages(QUEUE)).toEqual([]);
    expect(publishedIDs()).toEqual([
      "5f7b9d1f-3c5e-4a7b-8c9d-5e7a9b1d3f33",
      "9d1f3b5d-7a9c-4e1f-8a3b-9b1d3f5b7d55",
    ]);
  });

  it("leaves records it cannot replay in the queue and says so", async () => {
    sqs.queueUrl(QUEUE);
    enqueue("not json at all");
    enqueue(
      failureRecord(
        { Records: [] },
        "arn:aws:lambda:us-east-1:123456789012:function:ephemeral-guard-test-notify-slack",
      ),
    );
    const result = await runReplay();
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("2 unreadable");
    expect(sqs.messages(QUEUE)).toHaveLength(2);
    expect(sns.requests).toEqual([]);
  });

  it("refuses to run without a queue", async () => {
    const result = await new Promise<number>((resolve) => {
      execFile(
        process.execPath,
        ["--import", "tsx", "scripts/replay.ts"],
        { cwd: ROOT, timeout: 30_000 },
        (error) => resolve(error ? Number(error.code ?? 1) : 0),
      );
    });
    expect(result).toBe(2);
  });
});
