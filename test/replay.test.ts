import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { runReplay } from "../functions/cli/run-replay.ts";
import { FindingSchema } from "../functions/core/finding.ts";
import { readEventText } from "./helpers/events.ts";
import { type DynamoPeer, idempotencyTable, startDynalite } from "./peers/dynalite.ts";
import { type SnsServer, startSnsServer } from "./peers/sns-server.ts";
import { type SqsServer, startSqsServer } from "./peers/sqs-server.ts";

/**
 * `ephemeral-guard replay` (and `npm run replay`) as an operator runs it, real SDK clients, against loopback
 * SNS, SQS and DynamoDB peers: failed detect invocations come back out of the failure queue exactly once.
 * In process, except where the process is the point (`npm run replay -- --env-file F`).
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

/** detect's settings, as `--env-file` or the shell gives them. */
const DETECT_ENV = { ALERTS_TOPIC_ARN: TOPIC, IDEMPOTENCY_TABLE: TABLE };

/** The SDK's chain reads endpoints and credentials from the process's environment. */
function stubAwsEnv(): void {
  vi.stubEnv("AWS_REGION", "us-east-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
  vi.stubEnv("AWS_MAX_ATTEMPTS", "2");
  vi.stubEnv("AWS_ENDPOINT_URL_SNS", sns.endpoint);
  vi.stubEnv("AWS_ENDPOINT_URL_SQS", sqs.endpoint);
  vi.stubEnv("AWS_ENDPOINT_URL_DYNAMODB", dynamo.endpoint);
  // The replayed invocations log as detect does (JSON lines); not wanted in the test output.
  vi.stubEnv("POWERTOOLS_LOG_LEVEL", "SILENT");
}

async function replay(
  args: string[] = ["--queue-url", sqs.queueUrl(QUEUE), "--visibility-timeout", "60"],
  env: Record<string, string> = DETECT_ENV,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  stubAwsEnv();
  try {
    const code = await runReplay(args, { stdout, stderr, env });
    return { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
  } finally {
    vi.unstubAllEnvs();
  }
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

describe("ephemeral-guard replay", () => {
  it("keeps messages while SNS is still down (exit 2), then replays and deletes them, publishing each finding once", async () => {
    sqs.queueUrl(QUEUE);
    // The same event failed twice (a duplicate CloudWatch delivery): two records, one set of alerts.
    enqueue(failureRecord(delivery()));
    enqueue(failureRecord(delivery()));

    await sns.fail({ kind: "refuse" });
    const down = await replay();
    expect(down.code).toBe(2);
    expect(down.stderr).toContain("2 received, 0 replayed and deleted, 2 failed");
    expect(sqs.messages(QUEUE)).toHaveLength(2);
    expect(sns.published).toEqual([]);

    await sns.recover();
    sqs.expireVisibility();
    const up = await replay();
    expect(up.stderr).toContain("2 received, 2 replayed and deleted, 0 failed");
    expect(up.code).toBe(0);
    expect(sqs.messages(QUEUE)).toEqual([]);
    expect(publishedIDs()).toEqual([
      "5f7b9d1f-3c5e-4a7b-8c9d-5e7a9b1d3f33",
      "9d1f3b5d-7a9c-4e1f-8a3b-9b1d3f5b7d55",
    ]);
  });

  it("leaves records it cannot replay in the queue, says so and exits 2", async () => {
    sqs.queueUrl(QUEUE);
    enqueue("not json at all");
    enqueue(
      failureRecord(
        { Records: [] },
        "arn:aws:lambda:us-east-1:123456789012:function:ephemeral-guard-test-notify-slack",
      ),
    );
    const result = await replay();
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("2 unreadable");
    expect(sqs.messages(QUEUE)).toHaveLength(2);
    expect(sns.requests).toEqual([]);
  });

  it("refuses to run without a queue, or without detect's settings, with exit 1 and nothing read", async () => {
    const before = sqs.requests.length;
    const noQueue = await replay([]);
    expect(noQueue.code).toBe(1);
    expect(noQueue.stderr).toContain("--queue-url is required");
    const noTopic = await replay(["--queue-url", sqs.queueUrl(QUEUE)], {});
    expect(noTopic.code).toBe(1);
    expect(noTopic.stderr).toContain("ALERTS_TOPIC_ARN");
    const badNumber = await replay(["--queue-url", sqs.queueUrl(QUEUE), "--max-messages", "lots"]);
    expect(badNumber.code).toBe(1);
    expect(badNumber.stderr).toContain('--max-messages: "lots" is not a whole number');
    expect(sqs.requests.length).toBe(before);
  });

  it("takes --env-file through npm run (Node does not take it) and replays with the function's settings", async () => {
    sqs.queueUrl(QUEUE);
    enqueue(failureRecord(delivery()));
    const dir = mkdtempSync(join(tmpdir(), "eg-replay-"));
    const envFile = join(dir, "detect-env.json");
    writeFileSync(envFile, JSON.stringify(DETECT_ENV));
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        "npm",
        ["run", "--silent", "replay", "--", "--queue-url", sqs.queueUrl(QUEUE), "--env-file", envFile],
        {
          cwd: ROOT,
          timeout: 60_000,
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            AWS_REGION: "us-east-1",
            AWS_ACCESS_KEY_ID: "test",
            AWS_SECRET_ACCESS_KEY: "test",
            AWS_MAX_ATTEMPTS: "2",
            AWS_ENDPOINT_URL_SNS: sns.endpoint,
            AWS_ENDPOINT_URL_SQS: sqs.endpoint,
            AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
          },
        },
        (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
      );
    });
    expect(result.stderr).toContain("1 received, 1 replayed and deleted, 0 failed");
    expect(result.code).toBe(0);
    // The SDK's Node 20 notice is not printed by the CLI.
    expect(result.stderr).not.toContain("NodeVersionSupportWarning");
    expect(publishedIDs()).toHaveLength(2);
  });
});
