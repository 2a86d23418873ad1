import { readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import type { Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type Finding, FindingSchema } from "../functions/core/finding.ts";
import { captureJsonLogs } from "./helpers/captured-logs.ts";
import { detectFile, EVENTS_DIR, readEventText } from "./helpers/events.ts";
import { type DynamoPeer, idempotencyTable, startDynalite } from "./peers/dynalite.ts";
import { type SnsServer, startSnsServer } from "./peers/sns-server.ts";

/**
 * The detect handler as deployed (functions/detect.ts, middy, Powertools), with its real SNS and DynamoDB
 * clients talking to loopback peers through the SDK's AWS_ENDPOINT_URL_* settings.
 */

const TOPIC = "arn:aws:sns:us-east-1:123456789012:ephemeral-guard-test-alerts";
const TABLE = "ephemeral-guard-test-idempotency";
const LOG_GROUP = "/aws/eks/prod-eu/cluster";

type Handler = (event: unknown, context: Context) => Promise<unknown>;

let sns: SnsServer;
let dynamo: DynamoPeer;
let handler: Handler;
const savedEnv = { ...process.env };

/** What the function wrote to stdout (Powertools JSON logs and EMF metric lines), parsed. */
let output: Record<string, unknown>[] = [];

function lambdaContext(): Context {
  const deadline = Date.now() + 60_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "ephemeral-guard-test-detect",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:ephemeral-guard-test-detect",
    memoryLimitInMB: "512",
    awsRequestId: `req-${Math.random().toString(36).slice(2)}`,
    logGroupName: "/aws/lambda/ephemeral-guard-test-detect",
    logStreamName: "test",
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** A CloudWatch Logs subscription delivery, as Lambda receives it, of the given log messages. */
function delivery(messages: readonly string[], logGroup = LOG_GROUP, messageType = "DATA_MESSAGE"): unknown {
  const data = {
    messageType,
    owner: "123456789012",
    logGroup,
    logStream: "kube-apiserver-audit-0123456789abcdef",
    subscriptionFilters: ["ephemeral-guard-test-ephemeral-containers"],
    logEvents: messages.map((message, index) => ({
      id: String(1000 + index),
      timestamp: 1_700_000_000_000,
      message,
    })),
  };
  return { awslogs: { data: gzipSync(JSON.stringify(data)).toString("base64") } };
}

/** events/jsonl/batch-with-broken-line.jsonl: two findings, irrelevant audit traffic and a truncated line. */
function mixedBatch(): unknown {
  return delivery(readEventText("jsonl/batch-with-broken-line.jsonl").split("\n").filter(Boolean));
}

/** Every single-event sample in events/audit, compacted to one log message each. */
function everySample(): unknown {
  const files = readdirSync(`${EVENTS_DIR}/audit`).filter((file) => file.endsWith(".json"));
  return delivery(files.map((file) => JSON.stringify(JSON.parse(readEventText(`audit/${file}`)))));
}

function publishedFindings(): Finding[] {
  return sns.published.map((message) => FindingSchema.parse(JSON.parse(message.message)));
}

function auditIDs(): string[] {
  return publishedFindings()
    .map((finding) => finding.auditID)
    .sort();
}

function logLines(message: string): Record<string, unknown>[] {
  return output.filter((line) => line.message === message);
}

function metricValues(name: string): number[] {
  return output.flatMap((line) =>
    typeof line[name] === "number" && "_aws" in line ? [line[name] as number] : [],
  );
}

beforeAll(async () => {
  sns = await startSnsServer({ topics: [TOPIC] });
  dynamo = await startDynalite([idempotencyTable(TABLE)]);
  Object.assign(process.env, {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_ENDPOINT_URL_SNS: sns.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    // Keep SDK back-off short: the peers answer at once or not at all.
    AWS_MAX_ATTEMPTS: "2",
    ALERTS_TOPIC_ARN: TOPIC,
    IDEMPOTENCY_TABLE: TABLE,
    POWERTOOLS_LOG_LEVEL: "INFO",
    AWS_LAMBDA_FUNCTION_NAME: "ephemeral-guard-test-detect",
  });
  vi.resetModules();
  ({ handler } = (await import("../functions/detect.ts")) as { handler: Handler });
});

afterAll(async () => {
  await sns.stop();
  await dynamo.stop();
  process.env = savedEnv;
});

beforeEach(async () => {
  output = [];
  captureJsonLogs(output);
  await sns.recover();
  sns.clear();
  await dynamo.clearTable(TABLE);
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("detect handler", () => {
  it("publishes each finding of a mixed batch with filterable attributes, and reports the broken record", async () => {
    await handler(mixedBatch(), lambdaContext());

    expect(auditIDs()).toEqual([
      "5f7b9d1f-3c5e-4a7b-8c9d-5e7a9b1d3f33",
      "9d1f3b5d-7a9c-4e1f-8a3b-9b1d3f5b7d55",
    ]);
    const critical = sns.published.find((message) => message.message.includes("9d1f3b5d-7a9c"));
    expect(critical?.action).toBe("PublishBatch");
    expect(critical?.messageAttributes).toMatchObject({
      messageType: { dataType: "String", value: "finding" },
      severity: { dataType: "String", value: "critical" },
      severityRank: { dataType: "Number", value: "4" },
      outcome: { dataType: "String", value: "created" },
      cluster: { dataType: "String", value: "prod-eu" },
    });
    expect(Object.keys(critical?.messageAttributes ?? {})).toEqual(
      expect.arrayContaining(["namespace", "actorKind"]),
    );
    expect(publishedFindings().every((finding) => finding.cluster === "prod-eu")).toBe(true);

    const [rejected, ...moreRejected] = logLines("input rejected");
    expect(moreRejected).toEqual([]);
    expect(rejected).toMatchObject({
      level: "WARN",
      position: "invocation logEvents[4]",
      kind: "invalid-json",
    });
    expect(JSON.stringify(rejected)).not.toContain("requestObject");

    const [summary] = logLines("invocation summary");
    expect(summary).toMatchObject({ records: 9, findings: 2, rejects: 1, published: 2, duplicates: 0 });
    const findingLines = logLines("finding");
    expect(findingLines.map((line) => line.severity)).toEqual(["high", "critical"]);
    for (const line of findingLines) {
      expect(Object.keys(line)).toEqual(expect.arrayContaining(["auditID", "severity", "pod", "actor"]));
      // The finding body (images, commands, request details) goes to SNS, not to the logs.
      expect(line).not.toHaveProperty("containers");
      expect(JSON.stringify(line)).not.toContain("requestURI");
    }
    expect(metricValues("Rejects")).toEqual([1]);
    expect(metricValues("EventsSeen")).toEqual([9]);
  });

  it("publishes a write padded until CloudWatch cut its event, from its readable part, and counts it as a reject", async () => {
    const cutDelivery: unknown = JSON.parse(readEventText("cloudwatch/subscription-cut-padded-write.json"));
    await handler(cutDelivery, lambdaContext());

    const cut = publishedFindings().find(
      (finding) => finding.auditID === "9b1d3f5a-7c9e-4b1d-8f3a-5c7e9b1d3f46",
    );
    expect(cut).toMatchObject({
      severity: "medium",
      outcome: "created",
      cluster: "prod-eu1",
      bodyLogged: false,
    });
    expect(cut?.reasons.map((reason) => reason.id)).toContain("body.cut-event");
    expect(logLines("input rejected")).toEqual([
      expect.objectContaining({ level: "WARN", position: "invocation logEvents[1]", kind: "cut-event" }),
    ]);
    expect(logLines("invocation summary")[0]).toMatchObject({
      records: 2,
      findings: 2,
      rejects: 1,
      published: 2,
    });
    expect(metricValues("Rejects")).toEqual([1]);
  });

  it("publishes nothing twice when the same batch is delivered again", async () => {
    await handler(mixedBatch(), lambdaContext());
    await handler(mixedBatch(), lambdaContext());

    expect(auditIDs()).toHaveLength(2);
    expect(logLines("invocation summary")[1]).toMatchObject({ published: 0, duplicates: 2 });
    expect(metricValues("DuplicatesSuppressed")).toEqual([0, 2]);
  });

  it("fails the invocation while SNS is down, then a retry publishes each finding once", async () => {
    await sns.fail({ kind: "refuse" });
    await expect(handler(mixedBatch(), lambdaContext())).rejects.toMatchObject({ name: "PublishOnceError" });
    expect(sns.published).toEqual([]);
    expect(metricValues("PublishFailures")).toEqual([2]);

    await sns.recover();
    await handler(mixedBatch(), lambdaContext());
    await handler(mixedBatch(), lambdaContext());
    expect(auditIDs()).toEqual([
      "5f7b9d1f-3c5e-4a7b-8c9d-5e7a9b1d3f33",
      "9d1f3b5d-7a9c-4e1f-8a3b-9b1d3f5b7d55",
    ]);
  });

  it("fails on HTTP 500 after the SDK's retries and recovers the same way", async () => {
    await sns.fail({ kind: "http", status: 500 });
    await expect(handler(mixedBatch(), lambdaContext())).rejects.toThrow(/not published/);
    const attempts = sns.requests.length;
    expect(attempts).toBeGreaterThan(1);

    await sns.recover();
    await handler(mixedBatch(), lambdaContext());
    expect(auditIDs()).toHaveLength(2);
  });

  it("batches large deliveries and, when some entries fail, republishes only those on retry", async () => {
    // events/audit/kubectl-debug-general-profile.json
    const poisoned = "e5a3f7c1-9d2b-4e8a-b6c0-3f1d5a7e9b24";
    sns.failEntries((message) => message.includes(poisoned));
    await expect(handler(everySample(), lambdaContext())).rejects.toThrow(/publish: 1/);
    const firstRound = auditIDs();
    expect(firstRound).not.toContain(poisoned);
    expect(firstRound.length).toBeGreaterThan(10);
    const entriesPerCall = sns.requests.map(
      (request) =>
        Object.keys(request.params).filter((key) => /^PublishBatchRequestEntries\.member\.\d+\.Id$/.test(key))
          .length,
    );
    expect(Math.max(...entriesPerCall)).toBe(10);

    await sns.recover();
    await handler(everySample(), lambdaContext());
    const all = auditIDs();
    expect(all).toEqual([...firstRound, poisoned].sort());
  });

  it("does not publish a finding another invocation is publishing, and fails so it is retried", async () => {
    const { createIdempotencyStore, idempotencyKey } = await import(
      "../functions/adapters/aws/publish-findings-once.ts"
    );
    const store = createIdempotencyStore(dynamo.client, {
      tableName: TABLE,
      expiresAfterSeconds: 3600,
      keyPrefix: "ephemeral-guard.detect",
    });
    // The finding as detect makes it from the batch: its key is its auditID and when the API server received it.
    const held = detectFile("jsonl/batch-with-broken-line.jsonl").findings.find(
      (finding) => finding.auditID === "9d1f3b5d-7a9c-4e1f-8a3b-9b1d3f5b7d55",
    ) as Finding;
    held.cluster = "prod-eu";
    await store.saveInProgress({ key: idempotencyKey(held) }, 60_000);

    await expect(handler(mixedBatch(), lambdaContext())).rejects.toThrow(/claim: 1/);
    expect(auditIDs()).toEqual(["5f7b9d1f-3c5e-4a7b-8c9d-5e7a9b1d3f33"]);

    // The other invocation finishes: the retry then has nothing left to publish.
    await store.saveSuccess({ key: idempotencyKey(held) }, { published: true });
    await handler(mixedBatch(), lambdaContext());
    expect(auditIDs()).toEqual(["5f7b9d1f-3c5e-4a7b-8c9d-5e7a9b1d3f33"]);
  });

  it("publishes nothing when the idempotency table is unreachable, and says why", async () => {
    const { createIdempotencyStore, publishFindingsOnce, PublishOnceError } = await import(
      "../functions/adapters/aws/publish-findings-once.ts"
    );
    const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
    const { SNSClient } = await import("@aws-sdk/client-sns");
    const unreachable = await startDynalite();
    await unreachable.stop();
    const dynamodb = new DynamoDBClient({
      endpoint: unreachable.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      maxAttempts: 1,
    });
    const client = new SNSClient({
      endpoint: sns.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    const store = createIdempotencyStore(dynamodb, {
      tableName: TABLE,
      expiresAfterSeconds: 3600,
      keyPrefix: "ephemeral-guard.detect",
    });
    const findings = detectFile("jsonl/batch-with-broken-line.jsonl").findings;
    const attempt = publishFindingsOnce(findings, {
      sns: client,
      topicArn: TOPIC,
      store,
      remainingTimeInMillis: () => 60_000,
    });
    await expect(attempt).rejects.toBeInstanceOf(PublishOnceError);
    await attempt.catch((error: InstanceType<typeof PublishOnceError>) => {
      expect(error.failures.map((failure) => failure.stage)).toEqual(["claim", "claim"]);
      expect(error.failures[0]?.reason).toMatch(/ECONNREFUSED/);
    });
    expect(sns.requests).toEqual([]);
    dynamodb.destroy();
    client.destroy();
  });

  it("counts CloudWatch Logs control messages and publishes nothing for them", async () => {
    await handler(
      delivery(["CWL CONTROL MESSAGE: Checking health of destination Lambda."], LOG_GROUP, "CONTROL_MESSAGE"),
      lambdaContext(),
    );
    expect(sns.requests).toEqual([]);
    expect(metricValues("ControlMessages")).toEqual([1]);
  });

  it("rejects an event that is not a delivery without failing, and says so", async () => {
    await handler({ hello: "world" }, lambdaContext());
    expect(sns.requests).toEqual([]);
    expect(logLines("input rejected")).toMatchObject([{ position: "invocation", kind: "unknown-shape" }]);
  });
});

describe("detect handler against an attacker who shapes the audit event", () => {
  const privilegedSample = () =>
    JSON.parse(readEventText("audit/privileged-sysadmin-profile.json")) as {
      auditID: string;
      requestObject: { spec: { ephemeralContainers: unknown[] } };
      responseObject?: unknown;
    };

  it("amplification: a 40 KB patch of 400 privileged containers is published as one message under SNS's 256 KB", async () => {
    const event = privilegedSample();
    event.requestObject.spec.ephemeralContainers = Array.from({ length: 400 }, (_, i) => ({
      name: `root-${i}`,
      image: "busybox:1.36",
      securityContext: { privileged: true, runAsUser: 0 },
    }));
    delete event.responseObject;
    const message = JSON.stringify(event);
    expect(message.length).toBeGreaterThan(30_000);

    await handler(delivery([message]), lambdaContext());

    const [published, ...more] = sns.published;
    expect(more).toEqual([]);
    expect(Buffer.byteLength(published?.message ?? "")).toBeLessThan(240 * 1024);
    const finding = FindingSchema.parse(JSON.parse(published?.message ?? ""));
    expect(finding).toMatchObject({ severity: "critical", omitted: { containers: 380 } });
    expect(finding.containers).toHaveLength(20);
    expect(logLines("invocation summary")[0]).toMatchObject({ published: 1, shortened: 0 });
  });

  it("a reused Audit-ID: a privileged write given the auditID of the same client's earlier harmless one is still published", async () => {
    // kube-apiserver takes the auditID from the client's Audit-ID header. A harmless debug session first...
    const harmless = JSON.parse(readEventText("audit/kubectl-debug-restricted-profile.json")) as Record<
      string,
      unknown
    >;
    const privileged = privilegedSample() as unknown as Record<string, unknown>;
    harmless.auditID = "chosen-by-the-client";
    privileged.auditID = "chosen-by-the-client";
    await handler(delivery([JSON.stringify(harmless)]), lambdaContext());
    // ...then, in a later delivery, the dangerous one with the same auditID (but its own receipt time).
    await handler(delivery([JSON.stringify(privileged)]), lambdaContext());
    // And a real redelivery of the dangerous one is still recognised as a duplicate.
    await handler(delivery([JSON.stringify(privileged)]), lambdaContext());
    const severities = publishedFindings().map((finding) => `${finding.auditID} ${finding.severity}`);
    expect(severities).toEqual(["chosen-by-the-client low", "chosen-by-the-client critical"]);
  });

  it("deep nesting: a securityContext nested 9,999 levels does not stop the other findings of its delivery", async () => {
    const deep = JSON.stringify(privilegedSample()).replace(
      '"securityContext":{"privileged":true}',
      `"securityContext":{"privileged":true,"seLinuxOptions":${'{"x":'.repeat(9_999)}{}${"}".repeat(9_999)}}`,
    );
    const others = readEventText("jsonl/batch-with-broken-line.jsonl").split("\n").filter(Boolean);

    await handler(delivery([deep, ...others]), lambdaContext());

    expect(auditIDs()).toEqual([
      "1d3f5b7a-9c2e-4d6a-8b0c-7e9a1c3e5f64",
      "5f7b9d1f-3c5e-4a7b-8c9d-5e7a9b1d3f33",
      "9d1f3b5d-7a9c-4e1f-8a3b-9b1d3f5b7d55",
    ]);
    const deepFinding = publishedFindings().find((f) => f.auditID.startsWith("1d3f5b7a"));
    expect(deepFinding).toMatchObject({
      severity: "critical",
      omitted: { paths: ["containers[].securityContext"] },
    });
    expect(logLines("invocation summary")[0]).toMatchObject({ findings: 3, published: 3 });
  });

  it("flood: 100 findings of one delivery are each published once, in batches of 10, several batches at a time", async () => {
    const template = privilegedSample();
    delete template.responseObject;
    const messages = Array.from({ length: 100 }, (_, i) =>
      JSON.stringify({ ...template, auditID: `flood-${i}` }),
    );
    sns.holdUntilConcurrent(2);

    await handler(delivery(messages), lambdaContext());

    expect(auditIDs()).toEqual(messages.map((_, i) => `flood-${i}`).sort());
    expect(sns.requests).toHaveLength(10);
    expect(sns.maxConcurrent).toBeGreaterThanOrEqual(2);
    expect(logLines("invocation summary")[0]).toMatchObject({ findings: 100, published: 100, duplicates: 0 });
  });
});
