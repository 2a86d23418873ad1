import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { actOnce, claim, createIdempotencyStore } from "../../../functions/adapters/aws/act-once.ts";
import { type DynamoPeer, idempotencyTable, startDynalite } from "../../peers/dynalite.ts";

const TABLE = "act-once-test";
let dynamo: DynamoPeer;

function store() {
  return createIdempotencyStore(dynamo.client, {
    tableName: TABLE,
    expiresAfterSeconds: 3600,
    keyPrefix: "t",
  });
}

beforeAll(async () => {
  dynamo = await startDynalite([idempotencyTable(TABLE)]);
});
afterAll(async () => {
  await dynamo.stop();
});
beforeEach(async () => {
  await dynamo.clearTable(TABLE);
});

describe("actOnce against DynamoDB (dynalite)", () => {
  it("acts once for a key, and reports a redelivery as a duplicate without acting again", async () => {
    const acts: string[] = [];
    const first = await actOnce(store(), "prod:a1:finding", 60_000, async () => acts.push("posted"));
    const second = await actOnce(store(), "prod:a1:finding", 60_000, async () => acts.push("posted again"));
    expect(first).toEqual({ kind: "acted", value: 1, recorded: true });
    expect(second).toEqual({ kind: "duplicate" });
    expect(acts).toEqual(["posted"]);
  });

  it("gives the claim back when the act fails, so the retry acts", async () => {
    const failed = await actOnce(store(), "prod:a2:finding", 60_000, async () => {
      throw new Error("Slack said 500");
    });
    expect(failed).toMatchObject({ kind: "act-failed", error: new Error("Slack said 500") });
    const retried = await actOnce(store(), "prod:a2:finding", 60_000, async () => "posted");
    expect(retried).toEqual({ kind: "acted", value: "posted", recorded: true });
  });

  it("does not act while another invocation holds the claim", async () => {
    expect(await claim(store(), "prod:a3:finding", 60_000)).toEqual({ kind: "claimed" });
    let acted = false;
    const result = await actOnce(store(), "prod:a3:finding", 60_000, async () => {
      acted = true;
    });
    expect(result).toEqual({ kind: "in-progress" });
    expect(acted).toBe(false);
  });

  it("does not act when the table cannot be reached, and says why", async () => {
    const gone = await startDynalite();
    await gone.stop();
    const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");
    const client = new DynamoDBClient({
      endpoint: gone.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      maxAttempts: 1,
    });
    const unreachable = createIdempotencyStore(client, {
      tableName: TABLE,
      expiresAfterSeconds: 60,
      keyPrefix: "t",
    });
    let acted = false;
    const result = await actOnce(unreachable, "prod:a4:finding", 60_000, async () => {
      acted = true;
    });
    expect(result).toMatchObject({ kind: "claim-failed", reason: expect.stringMatching(/ECONNREFUSED/) });
    expect(acted).toBe(false);
    client.destroy();
  });
});
