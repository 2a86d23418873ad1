import { Logger } from "@aws-lambda-powertools/logger";
import { DeleteItemCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createIdempotencyStore } from "../../../functions/adapters/aws/act-once.ts";
import {
  findingMessage,
  STORM_MEMBER_ATTRIBUTES,
  withAttributes,
} from "../../../functions/adapters/aws/sns-message.ts";
import { StormDigestStore } from "../../../functions/adapters/aws/storm-digest-store.ts";
import type { SlackMessage } from "../../../functions/adapters/slack/slack-block-kit.ts";
import { type NotifierDeps, notifySlack } from "../../../functions/adapters/slack/slack-notifier.ts";
import {
  type DigestDeps,
  flushStormDigests,
  MAX_MEMBERS_PER_DIGEST,
} from "../../../functions/adapters/slack/storm-digests.ts";
import { type Finding, findingKey } from "../../../functions/core/finding.ts";
import { detectFile, onlyFinding } from "../../helpers/events.ts";
import { snsEvent } from "../../helpers/sns-lambda-events.ts";
import {
  type DynamoPeer,
  idempotencyTable,
  startDynalite,
  stormTable,
  TEST_CREDENTIALS,
  TEST_REGION,
} from "../../peers/dynalite.ts";
import {
  type SlackWebhookServer,
  serverError,
  startSlackWebhookServer,
} from "../../peers/slack-webhook-server.ts";

/**
 * The digest half of storm control over dynalite and the Slack peer, with an injected clock: windows, late
 * members, failures. The end-to-end storm is test/storm.test.ts.
 */

let dynamo: DynamoPeer;
let slack: SlackWebhookServer;
let tables = 0;
let clock = 0;
let storm: StormDigestStore;
let notifier: NotifierDeps;
let digests: DigestDeps;

const at = (iso: string) => Date.parse(iso);
const base = onlyFinding(detectFile("kubectl-debug-general-profile"));
const member = (index: number, overrides: Partial<Finding> = {}) =>
  withAttributes(
    findingMessage({ ...base, cluster: "prod-eu", auditID: `m-${index}`, ...overrides }),
    STORM_MEMBER_ATTRIBUTES,
  );

function posted(): SlackMessage[] {
  return slack.requests
    .filter((request) => request.answer.status === 200)
    .map((request) => request.json as SlackMessage);
}

beforeAll(async () => {
  dynamo = await startDynalite();
  slack = await startSlackWebhookServer();
});
afterAll(async () => {
  await dynamo.stop();
  await slack.stop();
});
beforeEach(async () => {
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  slack.requests.length = 0;
  tables++;
  await dynamo.createTable(idempotencyTable(`idempotency-${tables}`));
  await dynamo.createTable(stormTable(`storm-${tables}`));
  clock = at("2026-11-20T10:04:59.000Z");
  storm = new StormDigestStore(dynamo.client, {
    tableName: `storm-${tables}`,
    windowMinutes: 5,
    expiresAfterSeconds: 3600,
    now: () => clock,
  });
  const url = new URL(slack.url);
  notifier = {
    logger: new Logger({ serviceName: "notify-slack", logLevel: "CRITICAL" }),
    region: "eu-west-1",
    webhookUrl: { get: async () => url, invalidate: () => undefined, description: "test webhook" },
    idempotency: createIdempotencyStore(dynamo.client, {
      tableName: `idempotency-${tables}`,
      expiresAfterSeconds: 3600,
      keyPrefix: "ephemeral-guard.notify-slack",
    }),
    storm,
  };
  digests = { ...notifier, digests: storm, settings: { budget: 20, windowMinutes: 5, delaySeconds: 90 } };
  return () => vi.restoreAllMocks();
});

const remaining = () => 30_000;
const deliver = (...messages: ReturnType<typeof member>[]) =>
  Promise.all(messages.map((message) => notifySlack(snsEvent([message]), remaining, notifier)));

describe("alert fatigue: storm digests", () => {
  it("holds non-critical members and posts criticals, then one digest per window after it ended", async () => {
    await deliver(member(1), member(2, { severity: "high" }), member(3, { severity: "critical" }));
    expect(posted().map((message) => message.text)).toEqual([expect.stringMatching(/^🚨 CRITICAL/)]);

    clock = at("2026-11-20T10:06:30.000Z");
    expect(await flushStormDigests(remaining, digests)).toMatchObject({ due: 1, posted: 1 });
    expect(posted()[1]?.text).toBe(
      "🌀 Storm digest for `prod-eu`: 2 finding(s) held back; 1 critical past the budget posted on their own",
    );
  });

  it("puts a member that arrives after its window into the next window's digest, never a posted one", async () => {
    await deliver(member(1));
    clock = at("2026-11-20T10:06:30.000Z");
    await flushStormDigests(remaining, digests);
    // Delivered late (Lambda's async queue held it): recorded now, in the 10:05 window.
    await deliver(member(2));
    expect(await flushStormDigests(remaining, digests)).toMatchObject({ due: 0 });
    clock = at("2026-11-20T10:11:30.000Z");
    expect(await flushStormDigests(remaining, digests)).toMatchObject({ due: 1, posted: 1 });
    const texts = posted().map((message) => message.text);
    expect(texts).toHaveLength(2);
    expect(texts.every((text) => text.includes(": 1 finding(s) held back"))).toBe(true);
  });

  it("keeps a window pending while Slack is down, and posts its digest once when Slack is back", async () => {
    await deliver(member(1));
    clock = at("2026-11-20T10:06:30.000Z");
    slack.script(serverError);
    await expect(flushStormDigests(remaining, digests)).rejects.toThrow(/not posted/);
    expect(await flushStormDigests(remaining, digests)).toMatchObject({ due: 1, posted: 1 });
    expect(await flushStormDigests(remaining, digests)).toMatchObject({ due: 0 });
    expect(posted()).toHaveLength(1);
  });

  it("says its counts are lower bounds when more members were held than a digest reads", async () => {
    await deliver(member(1), member(2), member(3));
    clock = at("2026-11-20T10:06:30.000Z");
    const read = await storm.members(
      "prod-eu",
      { start: at("2026-11-20T10:00:00Z"), end: at("2026-11-20T10:05:00Z") },
      2,
    );
    expect(read).toMatchObject({ complete: false, unreadable: 0 });
    expect(read.members).toHaveLength(2);
    expect(MAX_MEMBERS_PER_DIGEST).toBeGreaterThanOrEqual(10_000);
  });

  it("posts nothing for a window whose members are gone, and clears it", async () => {
    const expired = { ...base, auditID: "expired" };
    await storm.hold("prod-eu", expired, false);
    // The member expired (TTL) or was never written after its pending item: only the pending item is left.
    await dynamo.client.send(
      new DeleteItemCommand({
        TableName: `storm-${tables}`,
        Key: { pk: { S: "members#2026-11-20T10:00:00.000Z#prod-eu" }, sk: { S: findingKey(expired) } },
      }),
    );
    clock = at("2026-11-20T10:06:30.000Z");
    expect(await flushStormDigests(remaining, digests)).toMatchObject({ due: 1, posted: 0, empty: 1 });
    expect(await flushStormDigests(remaining, digests)).toMatchObject({ due: 0 });
    expect(posted()).toHaveLength(0);
  });
});

describe("storm control fails open", () => {
  it("posts a storm member on its own when it cannot be held for the digest", async () => {
    const broken = new StormDigestStore(dynamo.client, {
      tableName: "no-such-table",
      windowMinutes: 5,
      expiresAfterSeconds: 3600,
    });
    const [summary] = await Promise.all([
      notifySlack(snsEvent([member(1)]), remaining, { ...notifier, storm: broken }),
    ]);
    expect(summary).toMatchObject({ held: 0, posted: { finding: 1 } });
    expect(posted()).toHaveLength(1);
  });

  it("posts anyway when its idempotency records cannot be reached (a repeat beats a lost alert)", async () => {
    const gone = await startDynalite();
    await gone.stop();
    const client = new DynamoDBClient({
      endpoint: gone.endpoint,
      region: TEST_REGION,
      credentials: TEST_CREDENTIALS,
      maxAttempts: 1,
    });
    const unreachable = createIdempotencyStore(client, {
      tableName: "t",
      expiresAfterSeconds: 60,
      keyPrefix: "ephemeral-guard.notify-slack",
    });
    const message = findingMessage({ ...base, auditID: "no-records" });
    const summary = await notifySlack(snsEvent([message]), remaining, {
      ...notifier,
      idempotency: unreachable,
    });
    expect(summary.posted.finding).toBe(1);
    expect(posted()).toHaveLength(1);
    client.destroy();
  });
});
