import { SNSClient } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  CONCURRENT_GROUPS,
  createIdempotencyStore,
  DEADLINE_MARGIN_MS,
  type IdempotencyStore,
  idempotencyKey,
  type PublishOnceDeps,
  PublishOnceError,
  publishFindingsOnce,
} from "../../../functions/adapters/aws/publish-findings-once.ts";
import { findingMessage, type TopicMessage } from "../../../functions/adapters/aws/sns-message.ts";
import { publishBatch } from "../../../functions/adapters/aws/sns-publisher.ts";
import type { Finding } from "../../../functions/core/finding.ts";
import { detectFile, onlyFinding } from "../../helpers/events.ts";
import {
  type DynamoPeer,
  idempotencyTable,
  startDynalite,
  TEST_CREDENTIALS,
  TEST_REGION,
} from "../../peers/dynalite.ts";
import { type SnsServer, startSnsServer } from "../../peers/sns-server.ts";

/**
 * Publishing exactly once, finding by finding, against the loopback SNS peer and dynalite: one finding that
 * cannot be published never takes another down, and groups of findings are published in parallel.
 */

const TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts";
const TABLE = "publish-once-test";

let sns: SnsServer;
let dynamo: DynamoPeer;
let client: SNSClient;
let store: IdempotencyStore;

beforeAll(async () => {
  sns = await startSnsServer({ topics: [TOPIC] });
  dynamo = await startDynalite([idempotencyTable(TABLE)]);
  client = new SNSClient({
    endpoint: sns.endpoint,
    region: TEST_REGION,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
  });
  store = createIdempotencyStore(dynamo.client, {
    tableName: TABLE,
    expiresAfterSeconds: 3600,
    keyPrefix: "test",
  });
});

afterAll(async () => {
  client.destroy();
  await sns.stop();
  await dynamo.stop();
});

beforeEach(async () => {
  await sns.recover();
  sns.clear();
  await dynamo.clearTable(TABLE);
});

const SAMPLE = onlyFinding(detectFile("privileged-sysadmin-profile.json"));

/** `count` findings of the sample, each its own write. */
function findings(count: number, prefix = "f"): Finding[] {
  return Array.from({ length: count }, (_, i) => ({ ...SAMPLE, auditID: `${prefix}-${i}` }));
}

function deps(remainingTimeInMillis = 60_000): PublishOnceDeps {
  return { sns: client, topicArn: TOPIC, store, remainingTimeInMillis: () => remainingTimeInMillis };
}

function publishedIDs(): string[] {
  return sns.published.map((message) => (JSON.parse(message.message) as Finding).auditID).sort();
}

async function recordStatus(finding: Finding): Promise<string> {
  return store.getRecord({ key: idempotencyKey(finding) }).then(
    (record) => record.getStatus(),
    () => "none",
  );
}

async function failures(attempt: Promise<unknown>): Promise<PublishOnceError> {
  const error = await attempt.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof PublishOnceError))
    throw new Error(`expected a PublishOnceError, got ${String(error)}`);
  return error;
}

describe("one finding that cannot be published never blocks another", () => {
  it("a message SNS refuses fails the whole PublishBatch; the other nine are sent again alone and published", async () => {
    const messages: TopicMessage[] = findings(10).map((finding) => findingMessage(finding));
    const refused = messages[3] as TopicMessage;
    // Bypasses findingMessage (which escapes it): U+FFFF is not a character SNS takes.
    messages[3] = { ...refused, body: refused.body.replace("jane.doe", "jane\uffff") };

    const outcomes = await publishBatch(client, TOPIC, messages);

    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(9);
    expect(outcomes[3]).toEqual({ ok: false, reason: expect.stringMatching(/invalid characters/) });
    expect(sns.requests[0]).toMatchObject({ action: "PublishBatch", answer: 400 });
    expect(sns.published.map((message) => message.batchEntryId)).toEqual(Array(9).fill("m0"));
  });

  it("a finding whose message cannot be made fails alone, unclaimed; the others are published and recorded", async () => {
    const [first, broken, last] = findings(3);
    const hostile = { ...broken } as Finding;
    Object.defineProperty(hostile, "pod", {
      get() {
        throw new TypeError("not a finding buildFinding would make");
      },
    });
    const error = await failures(publishFindingsOnce([first, hostile, last] as Finding[], deps()));

    expect(error.failures).toEqual([
      { auditID: "f-1", stage: "message", reason: "TypeError: not a finding buildFinding would make" },
    ]);
    expect(error.result.published.sort()).toEqual(["f-0", "f-2"]);
    expect(publishedIDs()).toEqual(["f-0", "f-2"]);
    expect(await recordStatus(first as Finding)).toBe("COMPLETED");
    expect(await recordStatus(broken as Finding)).toBe("none");
  });

  it("a PublishBatch refused whole once (a sender fault): each finding is sent again on its own, all published once", async () => {
    await sns.fail({ kind: "http", status: 400, code: "InvalidParameter", message: "refused" }, 1);
    const result = await publishFindingsOnce(findings(4), deps());
    expect(result.published.sort()).toEqual(["f-0", "f-1", "f-2", "f-3"]);
    expect(publishedIDs()).toEqual(["f-0", "f-1", "f-2", "f-3"]);
  });

  it("a finding SNS fails is released, so the retry publishes it and only it", async () => {
    sns.failEntries((message) => message.includes('"f-2"'));
    const error = await failures(publishFindingsOnce(findings(5), deps()));
    expect(error.failures.map((f) => [f.auditID, f.stage])).toEqual([["f-2", "publish"]]);
    expect(await recordStatus({ ...SAMPLE, auditID: "f-2" })).toBe("none");

    await sns.recover();
    const retry = await publishFindingsOnce(findings(5), deps());
    expect(retry.published).toEqual(["f-2"]);
    expect(retry.duplicates.sort()).toEqual(["f-0", "f-1", "f-3", "f-4"]);
    expect(publishedIDs()).toEqual(["f-0", "f-1", "f-2", "f-3", "f-4"]);
  });
});

describe("the invocation's deadline", () => {
  it(`with less than ${DEADLINE_MARGIN_MS} ms left nothing is claimed or published: the retry starts clean`, async () => {
    const all = findings(3);
    const error = await failures(publishFindingsOnce(all, deps(DEADLINE_MARGIN_MS - 1)));
    expect(error.failures.map((f) => f.stage)).toEqual(["deadline", "deadline", "deadline"]);
    expect(error.message).toMatch(/deadline: 3/);
    expect(sns.requests).toEqual([]);
    expect(await Promise.all(all.map(recordStatus))).toEqual(["none", "none", "none"]);
  });
});

describe("flood: publishing in parallel", () => {
  it(`runs ${CONCURRENT_GROUPS} PublishBatch calls at once (the peer answers none until that many wait), never more`, async () => {
    const flood = findings(CONCURRENT_GROUPS * 10, "flood");
    sns.holdUntilConcurrent(CONCURRENT_GROUPS);
    const result = await publishFindingsOnce(flood, deps());

    expect(result.published).toHaveLength(flood.length);
    expect(publishedIDs()).toEqual(flood.map((f) => f.auditID).sort());
    expect(sns.maxConcurrent).toBe(CONCURRENT_GROUPS);
    expect(sns.requests.every((request) => request.action === "PublishBatch")).toBe(true);
    expect(sns.requests).toHaveLength(flood.length / 10);
    expect(await recordStatus(flood.at(-1) as Finding)).toBe("COMPLETED");
  });
});

describe("settling in batches", () => {
  it("one BatchWriteItem settles a group, and Powertools' own claim then reads each finding as done", async () => {
    const group = findings(20, "settled");
    const before = dynamo.requests();
    const result = await publishFindingsOnce(group, deps());
    // 20 conditional PutItems to claim, one BatchWriteItem per group of 10 to settle.
    expect(dynamo.requests() - before).toBe(20 + 2);
    expect(result.unrecorded).toEqual([]);
    expect(await Promise.all(group.map(recordStatus))).toEqual(Array(20).fill("COMPLETED"));

    const again = await publishFindingsOnce(group, deps());
    expect(again.duplicates).toHaveLength(20);
    expect(again.published).toEqual([]);
    expect(publishedIDs()).toHaveLength(20);
  });

  it("when the batch is refused (a role without dynamodb:BatchWriteItem), each finding is settled on its own", async () => {
    const refusing = createIdempotencyStore(dynamo.client, {
      tableName: TABLE,
      expiresAfterSeconds: 3600,
      keyPrefix: "test",
    });
    Object.assign(refusing, { settleMany: async (keys: readonly string[]) => keys.map(() => false) });
    const group = findings(3, "fallback");
    const result = await publishFindingsOnce(group, { ...deps(), store: refusing });
    expect(result.unrecorded).toEqual([]);
    expect(await Promise.all(group.map(recordStatus))).toEqual(["COMPLETED", "COMPLETED", "COMPLETED"]);
  });
});
