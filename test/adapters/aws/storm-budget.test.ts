import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markStormMembers, StormBudget } from "../../../functions/adapters/aws/storm-budget.ts";
import type { Finding } from "../../../functions/core/finding.ts";
import type { Severity } from "../../../functions/core/severity.ts";
import { detectFile, onlyFinding } from "../../helpers/events.ts";
import {
  type DynamoPeer,
  startDynalite,
  stormTable,
  TEST_CREDENTIALS,
  TEST_REGION,
} from "../../peers/dynalite.ts";

let dynamo: DynamoPeer;
let tables = 0;

/** A fresh table per test: counters are per window, and a test must not see another's. */
async function freshTable(): Promise<string> {
  const name = `storm-${++tables}`;
  await dynamo.createTable(stormTable(name));
  return name;
}

const base = onlyFinding(detectFile("kubectl-debug-general-profile"));
function findings(count: number, cluster: string, severity: Severity = "medium", from = 0): Finding[] {
  return Array.from({ length: count }, (_, index) => ({
    ...base,
    cluster,
    severity,
    auditID: `${cluster}-${from + index}`,
  }));
}

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

describe("alert fatigue: the storm budget (DynamoDB counter)", () => {
  it("marks exactly the findings past the budget however many invocations count at once", async () => {
    const tableName = await freshTable();
    const now = () => Date.parse("2026-11-20T10:01:00Z");
    const budget = new StormBudget(dynamo.client, { tableName, budget: 20, windowMinutes: 5, now });
    const batches = Array.from({ length: 8 }, (_, batch) => findings(7, "prod-eu", "medium", batch * 7));
    const marks = await Promise.all(batches.map((batch) => markStormMembers(budget, batch)));
    const members = marks.reduce((total, mark) => total + mark.members, 0);
    expect(members).toBe(56 - 20);
    // Every invocation with members asks for the notice; publishing it once is announceStorms' job.
    const notices = marks.flatMap((mark) => mark.notices);
    expect(notices.length).toBeGreaterThanOrEqual(1);
    expect(new Set(notices.map((notice) => `${notice.cluster} ${notice.windowStart}`))).toEqual(
      new Set(["prod-eu 2026-11-20T10:00:00.000Z"]),
    );
    expect(notices[0]).toMatchObject({
      kind: "storm",
      budget: 20,
      windowMinutes: 5,
      windowEnd: "2026-11-20T10:05:00.000Z",
    });
  });

  it("counts each cluster on its own: a storm on one leaves another alone", async () => {
    const tableName = await freshTable();
    const budget = new StormBudget(dynamo.client, { tableName, budget: 20, windowMinutes: 5 });
    const batch = [...findings(50, "prod-eu"), ...findings(3, "staging")];
    const marks = await markStormMembers(budget, batch);
    expect(marks.members).toBe(30);
    expect(batch.filter((finding) => finding.cluster === "staging").some(marks.isMember)).toBe(false);
    expect(marks.notices.map((notice) => notice.cluster)).toEqual(["prod-eu"]);
  });

  it("alert fatigue over hours: a storm that goes on into the next windows pages once, not once per window", async () => {
    const tableName = await freshTable();
    let clock = Date.parse("2026-11-20T10:04:59Z");
    const budget = new StormBudget(dynamo.client, {
      tableName,
      budget: 20,
      windowMinutes: 5,
      now: () => clock,
    });
    const first = await markStormMembers(budget, findings(25, "prod-eu"));
    expect(first.members).toBe(5);
    expect(first.notices.map((notice) => notice.windowStart)).toEqual(["2026-11-20T10:00:00.000Z"]);
    // The next two windows get no budget of their own; their notice is the first window's (already out).
    for (const [at, from] of [
      ["2026-11-20T10:05:00Z", 25],
      ["2026-11-20T10:12:00Z", 50],
    ] as const) {
      clock = Date.parse(at);
      const next = await markStormMembers(budget, findings(25, "prod-eu", "medium", from));
      expect(next.members).toBe(25);
      expect(next.notices.map((notice) => notice.windowStart)).toEqual(["2026-11-20T10:00:00.000Z"]);
    }
  });

  it("starts a fresh budget after a window at or under the budget: the storm is over", async () => {
    const tableName = await freshTable();
    let clock = Date.parse("2026-11-20T10:01:00Z");
    const budget = new StormBudget(dynamo.client, {
      tableName,
      budget: 20,
      windowMinutes: 5,
      now: () => clock,
    });
    expect((await markStormMembers(budget, findings(25, "prod-eu"))).members).toBe(5);
    // 10:05–10:10 continues the storm but stays under the budget (3 findings, all members)...
    clock = Date.parse("2026-11-20T10:06:00Z");
    expect((await markStormMembers(budget, findings(3, "prod-eu", "medium", 25))).members).toBe(3);
    // ...so 10:10 starts afresh: 20 alert on their own, and a new storm gets a notice of its own.
    clock = Date.parse("2026-11-20T10:11:00Z");
    const fresh = await markStormMembers(budget, findings(25, "prod-eu", "medium", 28));
    expect(fresh.members).toBe(5);
    expect(fresh.notices.map((notice) => notice.windowStart)).toEqual(["2026-11-20T10:10:00.000Z"]);
  });

  it("keeps the budget for the most severe findings of a batch that crosses it", async () => {
    const tableName = await freshTable();
    const budget = new StormBudget(dynamo.client, { tableName, budget: 20, windowMinutes: 5 });
    await markStormMembers(budget, findings(18, "prod-eu"));
    const batch = [...findings(5, "prod-eu", "low", 100), ...findings(2, "prod-eu", "critical", 200)];
    const marks = await markStormMembers(budget, batch);
    expect(batch.filter((finding) => !marks.isMember(finding)).map((finding) => finding.severity)).toEqual([
      "critical",
      "critical",
    ]);
  });

  it("fails open when the counter cannot be reached: nothing is marked, so everything pages", async () => {
    const gone = await startDynalite();
    await gone.stop();
    const client = new DynamoDBClient({
      endpoint: gone.endpoint,
      region: TEST_REGION,
      credentials: TEST_CREDENTIALS,
      maxAttempts: 1,
    });
    const budget = new StormBudget(client, { tableName: "storm", budget: 1, windowMinutes: 5 });
    const marks = await markStormMembers(budget, findings(10, "prod-eu"));
    expect(marks.members).toBe(0);
    expect(marks.notices).toEqual([]);
    expect(marks.unmarked).toEqual([
      { cluster: "prod-eu", findings: 10, reason: expect.stringMatching(/ECONNREFUSED/) },
    ]);
    client.destroy();
  });
});
