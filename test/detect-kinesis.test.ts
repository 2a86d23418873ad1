import { Buffer } from "node:buffer";
import { gzipSync } from "node:zlib";
import type { Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { detectionConfig } from "../functions/core/detection-config.ts";
import { type Finding, FindingSchema } from "../functions/core/finding.ts";
import { captureJsonLogs } from "./helpers/captured-logs.ts";
import { loadAuditJson, readEventText } from "./helpers/events.ts";
import { type DynamoPeer, idempotencyTable, startDynalite, stormTable } from "./peers/dynalite.ts";
import { type SnsServer, startSnsServer } from "./peers/sns-server.ts";

/**
 * The detect handler as deployed, fed by a Kinesis event source mapping with ReportBatchItemFailures
 * (organization deployments, issue 10), against loopback SNS and DynamoDB peers.
 */

const TOPIC = "arn:aws:sns:eu-west-1:999988887777:ephemeral-guard-test-alerts";
const TABLE = "ephemeral-guard-test-idempotency";
const STORM = "ephemeral-guard-test-storm";
const STREAM = "arn:aws:kinesis:eu-west-1:999988887777:stream/ephemeral-guard-audit";
const SAMPLE = "kinesis/batch-two-accounts-control-and-corrupt-record.json";

type Handler = (event: unknown, context: Context) => Promise<unknown>;

interface KinesisEvent {
  Records: Array<{ kinesis: { sequenceNumber: string; data: string } }>;
}

let sns: SnsServer;
let dynamo: DynamoPeer;
let handler: Handler;
const savedEnv = { ...process.env };
let output: Record<string, unknown>[] = [];

function lambdaContext(): Context {
  const deadline = Date.now() + 60_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "ephemeral-guard-test-detect",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:eu-west-1:999988887777:function:ephemeral-guard-test-detect",
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

function sample(): KinesisEvent {
  return JSON.parse(readEventText(SAMPLE)) as KinesisEvent;
}

function payload(owner: string, events: readonly unknown[], cluster = "prod-eu1"): string {
  const message = {
    messageType: "DATA_MESSAGE",
    owner,
    logGroup: `/aws/eks/${cluster}/cluster`,
    logStream: "kube-apiserver-audit-0",
    subscriptionFilters: ["ephemeral-guard"],
    logEvents: events.map((event, index) => ({
      id: String(index),
      timestamp: 1_700_000_000_000 + index,
      message: JSON.stringify(event),
    })),
  };
  return gzipSync(Buffer.from(JSON.stringify(message))).toString("base64");
}

function kinesisEvent(records: ReadonlyArray<readonly [string, string]>): KinesisEvent {
  return {
    Records: records.map(([sequenceNumber, data]) => ({
      kinesis: { kinesisSchemaVersion: "1.0", partitionKey: "p", sequenceNumber, data },
      eventSource: "aws:kinesis",
      eventID: `shardId-000000000000:${sequenceNumber}`,
      awsRegion: "eu-west-1",
      eventSourceARN: STREAM,
    })),
  } as KinesisEvent;
}

/** The findings published (storm notices left out), with their message attributes. */
function published(): { finding: Finding; attributes: Record<string, string> }[] {
  return sns.published
    .filter((message) => message.messageAttributes.messageType?.value === "finding")
    .map((message) => ({
      finding: FindingSchema.parse(JSON.parse(message.message)),
      attributes: Object.fromEntries(Object.entries(message.messageAttributes).map(([k, v]) => [k, v.value])),
    }));
}

function metricValues(name: string): number[] {
  return output.flatMap((line) =>
    typeof line[name] === "number" && "_aws" in line ? [line[name] as number] : [],
  );
}

beforeAll(async () => {
  sns = await startSnsServer({ topics: [TOPIC] });
  dynamo = await startDynalite([idempotencyTable(TABLE), stormTable(STORM)]);
  Object.assign(process.env, {
    AWS_REGION: "eu-west-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_ENDPOINT_URL_SNS: sns.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_MAX_ATTEMPTS: "2",
    ALERTS_TOPIC_ARN: TOPIC,
    IDEMPOTENCY_TABLE: TABLE,
    STORM_TABLE: STORM,
    // A budget of one: the second finding of a cluster carries storm = member, the most attributes a message has.
    STORM_BUDGET: "1",
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

describe("detect fed by the organization's Kinesis stream", () => {
  it("publishes every account's findings with account and region attributes; the corrupt record is rejected and counted, never handed back", async () => {
    const response = await handler(sample(), lambdaContext());
    expect(response).toEqual({ batchItemFailures: [] });
    const out = published();
    expect(out.length).toBeGreaterThanOrEqual(2);
    for (const { finding, attributes } of out) {
      expect(attributes).toMatchObject({
        account: finding.account,
        region: "eu-west-1",
        cluster: "prod-eu1",
      });
      expect(Object.keys(attributes).length).toBeLessThanOrEqual(10);
    }
    expect(new Set(out.map((p) => p.finding.clusterArn))).toEqual(
      new Set([
        "arn:aws:eks:eu-west-1:111122223333:cluster/prod-eu1",
        "arn:aws:eks:eu-west-1:444455556666:cluster/prod-eu1",
      ]),
    );
    expect(metricValues("Rejects")).toEqual([1]);
    expect(metricValues("ControlMessages")).toEqual([1]);
    expect(output.filter((l) => l.message === "input rejected")).toMatchObject([
      { kind: "invalid-payload", position: expect.stringMatching(/Records\[2\] \(sequence \d{56}\)/) },
    ]);
  });

  it("a finding SNS refuses names only its own record; the redelivery from that record publishes it once and nothing twice", async () => {
    const write = loadAuditJson("privileged-sysadmin-profile.json");
    const refused = { ...write, auditID: "0a0a0a0a-0000-4000-8000-00000000dead" };
    const event = kinesisEvent([
      ["100", payload("111122223333", [write])],
      ["101", payload("444455556666", [refused])],
      ["102", payload("444455556666", [{ ...write, auditID: "0a0a0a0a-0000-4000-8000-000000000102" }])],
    ]);
    sns.failEntries((message) => message.includes(refused.auditID));
    expect(await handler(event, lambdaContext())).toEqual({ batchItemFailures: [{ itemIdentifier: "101" }] });
    expect(published().map((p) => p.finding.auditID)).not.toContain(refused.auditID);
    expect(metricValues("PublishFailures")).toEqual([1]);

    // Lambda resumes the shard at the lowest failed sequence number: 101 and everything after it.
    sns.failEntries(() => false);
    expect(await handler({ Records: event.Records.slice(1) }, lambdaContext())).toEqual({
      batchItemFailures: [],
    });
    const ids = published().map((p) => p.finding.auditID);
    expect(ids.sort()).toEqual(
      [write.auditID, refused.auditID, "0a0a0a0a-0000-4000-8000-000000000102"].map(String).sort(),
    );
  });

  it("the same audit event in two accounts' clusters of one name is two findings, each published once", async () => {
    // Same auditID, same timestamps, same cluster name: only the account tells them apart, in the
    // exactly-once key as in the finding.
    const write = loadAuditJson("privileged-sysadmin-profile.json");
    const event = kinesisEvent([
      ["200", payload("111122223333", [write])],
      ["201", payload("444455556666", [write])],
    ]);
    expect(await handler(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(await handler(event, lambdaContext())).toEqual({ batchItemFailures: [] });
    const findings = published().map((p) => p.finding.account);
    expect(findings.sort()).toEqual(["111122223333", "444455556666"]);
  });

  it("a compressible padded record cannot push the next account's write out of the batch: the write is handed back, then published", async () => {
    const { detectInvocation } = await import("../functions/adapters/lambda/detect-invocation.ts");
    const { stdoutFindingSink } = await import("../functions/adapters/lambda/finding-sinks.ts");
    const { createObservability } = await import("../functions/adapters/lambda/observability.ts");
    const { logger, metrics } = createObservability("detect");
    const printed: string[] = [];
    const deps = {
      detection: detectionConfig(),
      sink: stdoutFindingSink((line) => printed.push(line)),
      logger,
      metrics,
      // The function's budget is 64 MB; 200 KB shows the same with a padding of 300 KB.
      maxBatchDecompressedBytes: 200_000,
    };
    const padding = { kind: "Event", auditID: "pad", verb: "get", annotations: { pad: "A".repeat(300_000) } };
    const write = {
      ...loadAuditJson("privileged-sysadmin-profile.json"),
      auditID: "0e000000-0000-4000-8000-000000000002",
    };
    const event = kinesisEvent([
      ["300", payload("111122223333", [padding])],
      ["301", payload("444455556666", [write])],
    ]);
    const first = await detectInvocation(event, deps);
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: "301" }]);
    expect(first).toMatchObject({ deferred: 1, rejects: 0 });
    expect(printed).toEqual([]);
    // Lambda resumes at 301: alone at the head of its batch, it is read.
    const again = await detectInvocation({ Records: event.Records.slice(1) }, deps);
    expect(again.batchItemFailures).toEqual([]);
    expect(printed).toHaveLength(1);
    expect(printed[0]).toContain(write.auditID);
  });
});
