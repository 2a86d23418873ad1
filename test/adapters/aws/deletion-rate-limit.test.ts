import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeletionRateLimit, RateLimitError } from "../../../functions/adapters/aws/deletion-rate-limit.ts";
import { type DynamoPeer, startDynalite } from "../../peers/dynalite.ts";

/** The table as infra/remediate.yml declares it. */
const RATE_LIMIT_TABLE = {
  name: "remediation-rate-limit",
  partitionKey: "counter",
  ttlAttribute: "expiresAt",
};

let dynamo: DynamoPeer;
const START = new Date("2026-11-20T09:00:00.000Z");

beforeAll(async () => {
  dynamo = await startDynalite([RATE_LIMIT_TABLE]);
});
afterAll(async () => {
  await dynamo.stop();
});

function limiter(clock: { now: Date }, limit = 2) {
  return new DeletionRateLimit(dynamo.client, {
    tableName: RATE_LIMIT_TABLE.name,
    limit,
    windowSeconds: 600,
    now: () => clock.now,
  });
}

describe("DeletionRateLimit on DynamoDB (dynalite)", () => {
  it("grants exactly `limit` of many concurrent acquisitions for one cluster and window", async () => {
    const clock = { now: START };
    const results = await Promise.all(
      Array.from({ length: 8 }, () => limiter(clock, 3).acquire("concurrent", false)),
    );
    expect(results.filter((result) => result.granted)).toHaveLength(3);
    const refused = results.find((result) => !result.granted);
    expect(refused).toMatchObject({ granted: false, limit: 3, windowEndsAt: "2026-11-20T09:10:00.000Z" });
  });

  it("keeps clusters, windows and dry run apart", async () => {
    const clock = { now: START };
    const rate = limiter(clock, 1);
    expect((await rate.acquire("a", false)).granted).toBe(true);
    expect((await rate.acquire("a", false)).granted).toBe(false);
    expect((await rate.acquire("b", false)).granted).toBe(true);
    expect((await rate.acquire("a", true)).granted).toBe(true);
    clock.now = new Date(START.getTime() + 600_000);
    expect((await rate.acquire("a", false)).granted).toBe(true);
  });

  it("gives a slot back on release, never below zero", async () => {
    const clock = { now: START };
    const rate = limiter(clock, 1);
    const first = await rate.acquire("release", false);
    expect(first.granted).toBe(true);
    await rate.release(first.key);
    await rate.release(first.key);
    expect((await rate.acquire("release", false)).granted).toBe(true);
    expect((await rate.acquire("release", false)).granted).toBe(false);
  });

  it("stores a TTL after the end of the window", async () => {
    const clock = { now: START };
    const acquired = await limiter(clock).acquire("ttl", false);
    const item = await dynamo.client.send(
      new GetItemCommand({ TableName: RATE_LIMIT_TABLE.name, Key: { counter: { S: acquired.key } } }),
    );
    const expiresAt = Number(item.Item?.expiresAt?.N);
    expect(expiresAt * 1000).toBeGreaterThan(START.getTime() + 600_000);
    expect(item.Item?.deletions?.N).toBe("1");
  });

  it("fails loudly (RateLimitError) when the table is missing, instead of granting", async () => {
    const rate = new DeletionRateLimit(dynamo.client, {
      tableName: "no-such-table",
      limit: 1,
      windowSeconds: 60,
    });
    await expect(rate.acquire("x", false)).rejects.toBeInstanceOf(RateLimitError);
  });
});
