import { describe, expect, it } from "vitest";
import type { Severity } from "../../functions/core/severity.ts";
import {
  digestRange,
  type StormMember,
  splitByBudget,
  stormMember,
  stormWindow,
  summarizeStorm,
} from "../../functions/core/storm.ts";
import { detectFile, onlyFinding } from "../helpers/events.ts";

const at = (iso: string) => Date.parse(iso);

describe("storm windows", () => {
  it("are aligned to the clock, so every invocation agrees on the window", () => {
    expect(stormWindow(at("2026-11-20T10:03:59.999Z"), 5)).toEqual({
      start: at("2026-11-20T10:00:00.000Z"),
      end: at("2026-11-20T10:05:00.000Z"),
    });
    expect(stormWindow(at("2026-11-20T10:05:00.000Z"), 5).start).toBe(at("2026-11-20T10:05:00.000Z"));
    expect(stormWindow(at("2026-11-20T10:05:00.000Z"), 60).start).toBe(at("2026-11-20T10:00:00.000Z"));
  });
});

describe("alert fatigue: the budget", () => {
  const batch = (severities: Severity[]) => severities.map((severity, id) => ({ id, severity }));

  it("alerts the first findings one by one and makes the rest storm members", () => {
    const split = splitByBudget(batch(Array(30).fill("medium")), 0, 20);
    expect(split.within.map((finding) => finding.id)).toEqual([...Array(20).keys()]);
    expect(split.members).toHaveLength(10);
  });

  it("gives the budget left to the most severe findings of a batch first", () => {
    const split = splitByBudget(batch(["low", "medium", "critical", "high", "critical", "info"]), 17, 20);
    expect(split.within.map((finding) => finding.id)).toEqual([2, 3, 4]);
    expect(split.members.map((finding) => finding.severity)).toEqual(["low", "medium", "info"]);
  });

  it("makes every finding a member once the window's budget is spent, criticals included", () => {
    const split = splitByBudget(batch(["critical", "info"]), 20, 20);
    expect(split.within).toEqual([]);
    expect(split.members).toHaveLength(2);
    expect(splitByBudget(batch(["low"]), 500, 20).members).toHaveLength(1);
  });

  it("leaves a batch within the budget alone", () => {
    const findings = batch(["high", "low"]);
    expect(splitByBudget(findings, 18, 20)).toEqual({ within: findings, members: [] });
  });
});

describe("storm digest", () => {
  const member = (overrides: Partial<StormMember>): StormMember => ({
    auditID: "a",
    severity: "medium",
    outcome: "created",
    actor: "mallory",
    pod: "shop/api-1",
    time: "2026-11-20T10:01:00.000Z",
    postedAlone: false,
    ...overrides,
  });
  const window = stormWindow(at("2026-11-20T10:02:00Z"), 5);

  it("counts held findings by severity, criticals posted alone apart, and ranks actors and pods", () => {
    const digest = summarizeStorm(
      "prod-eu",
      window,
      [
        member({ severity: "high", actor: "bob", pod: "shop/api-2" }),
        member({}),
        member({ time: "2026-11-20T09:58:12.500Z" }),
        member({
          severity: "critical",
          postedAlone: true,
          outcome: "denied",
          logGroup: "/aws/eks/prod-eu/cluster",
        }),
      ],
      true,
    );
    expect(digest).toMatchObject({
      held: 3,
      heldBySeverity: { critical: 0, high: 1, medium: 2, low: 0, info: 0 },
      postedAlone: 1,
      byOutcome: { created: 3, denied: 1, forbidden: 0, failed: 0 },
      topActors: [
        { name: "mallory", count: 3 },
        { name: "bob", count: 1 },
      ],
      topPods: [
        { name: "shop/api-1", count: 3 },
        { name: "shop/api-2", count: 1 },
      ],
      firstEventAt: "2026-11-20T09:58:12.500Z",
      lastEventAt: "2026-11-20T10:01:00.000Z",
      logGroup: "/aws/eks/prod-eu/cluster",
      complete: true,
    });
  });

  it("lists the whole storm: from the earliest member event to the window end, in whole minutes", () => {
    const digest = summarizeStorm("prod-eu", window, [member({ time: "2026-11-20T09:58:12.500Z" })], true);
    expect(digestRange(digest)).toEqual({
      start: "2026-11-20T09:58:00.000Z",
      end: "2026-11-20T10:05:00.000Z",
    });
    const untimed = summarizeStorm("prod-eu", window, [member({ time: "not a time" })], true);
    expect(digestRange(untimed)).toEqual({
      start: "2026-11-20T10:00:00.000Z",
      end: "2026-11-20T10:05:00.000Z",
    });
  });

  it("keeps at most five actors and pods, however many the attacker uses", () => {
    const many = Array.from({ length: 50 }, (_, index) =>
      member({ actor: `sa-${index}`, pod: `ns/p-${index}` }),
    );
    const digest = summarizeStorm("prod-eu", window, many, true);
    expect(digest.topActors).toHaveLength(5);
    expect(digest.topPods).toHaveLength(5);
  });

  it("keeps a member small whatever the size of the names in the audit event", () => {
    const finding = onlyFinding(detectFile("privileged-sysadmin-profile"));
    const huge = { ...finding, actor: { ...finding.actor, username: "x".repeat(100_000) } };
    const kept = stormMember(huge, false);
    expect(kept.actor.length).toBeLessThanOrEqual(256);
    expect(JSON.stringify(kept).length).toBeLessThan(1_500);
  });
});
