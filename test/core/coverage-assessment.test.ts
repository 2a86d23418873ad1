import { describe, expect, it } from "vitest";
import {
  type AssessOptions,
  assessCoverage,
  type CoverageObservation,
  freshnessApplies,
  known,
  unknown,
} from "../../functions/core/cluster-coverage/assess-coverage.ts";
import {
  clusterLogGroup,
  clusterOfLogGroup,
  clusterScope,
  clustersToCheck,
  inScope,
} from "../../functions/core/cluster-coverage/cluster-scope.ts";
import { planSubscription } from "../../functions/core/cluster-coverage/subscription-plan.ts";

const MINUTE = 60_000;
const NOW = Date.parse("2026-11-20T10:00:00Z");
const OPTIONS: AssessOptions = { now: NOW, silenceMs: 30 * MINUTE, auditOnSince: NOW - 86_400_000 };

/** A healthy ACTIVE cluster: audit on, filter in place, an audit event a minute ago. */
function healthy(changes: Partial<CoverageObservation> = {}): CoverageObservation {
  return {
    cluster: "prod-eu",
    status: "ACTIVE",
    auditLogging: true,
    createdAt: NOW - 30 * 86_400_000,
    subscription: known({ kind: "in-place" }),
    lastAuditEventAt: known(NOW - MINUTE),
    ...changes,
  };
}

describe("coverage checks, in priority order (each with a case that trips it and one that does not)", () => {
  it("covered: audit on, filter in place, audit events arriving", () => {
    expect(assessCoverage(healthy(), OPTIONS)).toEqual({ kind: "state", state: "covered", problems: [] });
  });

  it("audit-disabled: the audit log type switched off", () => {
    const off = assessCoverage(healthy({ auditLogging: false }), OPTIONS);
    expect(off).toMatchObject({ kind: "state", state: "audit-disabled" });
    expect(assessCoverage(healthy({ auditLogging: true }), OPTIONS)).toMatchObject({ state: "covered" });
  });

  it("audit-disabled at once while an UpdateClusterConfig that switches it off is in progress", () => {
    const updating = healthy({ status: "UPDATING", requestedAuditLogging: false });
    expect(assessCoverage(updating, OPTIONS)).toMatchObject({
      state: "audit-disabled",
      problems: [{ detail: expect.stringMatching(/update in progress/) }],
    });
    // A request seen after the update finished proves nothing: DescribeCluster on an ACTIVE cluster wins.
    expect(assessCoverage(healthy({ requestedAuditLogging: false }), OPTIONS)).toMatchObject({
      state: "covered",
    });
  });

  it("unsubscribed: both slots taken by others, no log group, or a refused put", () => {
    for (const fact of [
      { kind: "slots-taken" as const, others: ["a", "b"] },
      { kind: "no-log-group" as const },
      { kind: "refused" as const, detail: "AccessDeniedException: not authorized" },
    ]) {
      expect(assessCoverage(healthy({ subscription: known(fact) }), OPTIONS)).toMatchObject({
        state: "unsubscribed",
      });
    }
    expect(
      assessCoverage(
        healthy({ subscription: known({ kind: "in-place", repair: { reason: "create" } }) }),
        OPTIONS,
      ),
    ).toMatchObject({ state: "covered" });
  });

  it("a cluster that never logged has no log group: that is audit-disabled alone, not also unsubscribed", () => {
    const result = assessCoverage(
      healthy({ auditLogging: false, subscription: known({ kind: "no-log-group" }) }),
      OPTIONS,
    );
    expect(result).toMatchObject({ state: "audit-disabled" });
    expect(result.kind === "state" && result.problems.map((problem) => problem.state)).toEqual([
      "audit-disabled",
    ]);
  });

  it("silent: no audit event for longer than the threshold, counted from the newest of event, creation, switch-on", () => {
    const quiet = healthy({ lastAuditEventAt: known(NOW - 31 * MINUTE) });
    expect(assessCoverage(quiet, OPTIONS)).toMatchObject({
      state: "silent",
      problems: [{ detail: expect.stringMatching(/2026-11-20T09:29:00.000Z.*longer than 30 minutes/) }],
    });
    expect(assessCoverage(healthy({ lastAuditEventAt: known(NOW - 29 * MINUTE) }), OPTIONS)).toMatchObject({
      state: "covered",
    });
    expect(assessCoverage(healthy({ lastAuditEventAt: known(null) }), OPTIONS)).toMatchObject({
      state: "silent",
      problems: [{ detail: expect.stringMatching(/no audit event at all/) }],
    });
    // Just created, or audit logging just switched on: not silent before it had the time to speak.
    expect(
      assessCoverage(healthy({ lastAuditEventAt: known(null), createdAt: NOW - 5 * MINUTE }), OPTIONS),
    ).toMatchObject({ state: "covered" });
    expect(
      assessCoverage(healthy({ lastAuditEventAt: known(null) }), {
        ...OPTIONS,
        auditOnSince: NOW - 5 * MINUTE,
      }),
    ).toMatchObject({ state: "covered" });
  });

  it("silence is judged on ACTIVE clusters only: an update in progress is not silence", () => {
    expect(freshnessApplies(healthy({ status: "UPDATING" }))).toBe(false);
    expect(freshnessApplies(healthy())).toBe(true);
    expect(
      assessCoverage(healthy({ status: "UPDATING", lastAuditEventAt: known(NOW - 3 * 3_600_000) }), OPTIONS),
    ).toMatchObject({ state: "covered" });
  });

  it("lists every problem present, the most severe first as the state", () => {
    const result = assessCoverage(
      healthy({ auditLogging: false, subscription: known({ kind: "slots-taken", others: ["a", "b"] }) }),
      OPTIONS,
    );
    expect(result.kind === "state" && result.problems.map((problem) => problem.state)).toEqual([
      "audit-disabled",
      "unsubscribed",
    ]);
  });
});

describe("a check that could not be made never becomes a false alarm or a false all-clear", () => {
  it("is inconclusive when the subscription is unknown and nothing more severe is known", () => {
    expect(assessCoverage(healthy({ subscription: unknown("ThrottlingException") }), OPTIONS)).toEqual({
      kind: "inconclusive",
      reasons: ["unsubscribed: ThrottlingException"],
    });
  });

  it("is inconclusive when freshness is unknown, even though the filter is in place", () => {
    expect(assessCoverage(healthy({ lastAuditEventAt: unknown("pages exhausted") }), OPTIONS)).toMatchObject({
      kind: "inconclusive",
    });
    expect(assessCoverage(healthy({ lastAuditEventAt: undefined }), OPTIONS)).toMatchObject({
      kind: "inconclusive",
    });
  });

  it("still decides a more severe problem that is known (audit off) when a lesser one is unknown", () => {
    expect(
      assessCoverage(healthy({ auditLogging: false, subscription: unknown("ThrottlingException") }), OPTIONS),
    ).toMatchObject({ kind: "state", state: "audit-disabled" });
  });

  it("does not report a lesser problem (silent) while a more severe one (unsubscribed) could not be checked", () => {
    const result = assessCoverage(
      healthy({ subscription: unknown("ThrottlingException"), lastAuditEventAt: known(NOW - 3_600_000) }),
      OPTIONS,
    );
    expect(result.kind).toBe("inconclusive");
  });
});

describe("cluster status", () => {
  it("treats DELETING and NOT_FOUND as deleted, CREATING, PENDING, FAILED and unknown statuses as not ready", () => {
    for (const status of ["DELETING", "NOT_FOUND"]) {
      expect(assessCoverage(healthy({ status }), OPTIONS)).toEqual({
        kind: "state",
        state: "deleted",
        problems: [],
      });
    }
    for (const status of ["CREATING", "PENDING", "FAILED", "SOMETHING_NEW"]) {
      expect(assessCoverage(healthy({ status }), OPTIONS)).toEqual({ kind: "not-ready", status });
    }
  });
});

describe("detect's subscription filter: what to do about a log group", () => {
  const desired = {
    filterName: "eg-prod-ephemeral-containers",
    destinationArn: "arn:detect",
    filterPattern: "P",
  };

  it("keeps ours when it is as it should be", () => {
    expect(planSubscription([{ ...desired }], desired)).toEqual({ action: "keep" });
  });

  it("creates ours when missing and a slot is free", () => {
    expect(
      planSubscription([{ filterName: "siem", destinationArn: "x", filterPattern: "" }], desired),
    ).toEqual({
      action: "put",
      reason: "create",
    });
  });

  it("points ours back at detect when someone redirected it, saying where it went", () => {
    expect(planSubscription([{ ...desired, destinationArn: "arn:sink" }], desired)).toEqual({
      action: "put",
      reason: "redirect",
      previousDestination: "arn:sink",
    });
  });

  it("updates ours when only the pattern differs (a release changed it)", () => {
    expect(planSubscription([{ ...desired, filterPattern: "old" }], desired)).toEqual({
      action: "put",
      reason: "update-pattern",
    });
  });

  it("gives ours the organization destination's role when it has none or another, and keeps it once it has it", () => {
    const member = { ...desired, destinationArn: "arn:destination", roleArn: "arn:role/subscription" };
    const update = { action: "put", reason: "update-role" };
    expect(planSubscription([{ ...member, roleArn: undefined }], member)).toEqual(update);
    expect(planSubscription([{ ...member, roleArn: "arn:role/other" }], member)).toEqual(update);
    expect(planSubscription([{ ...member }], member)).toEqual({ action: "keep" });
    // detect (a Lambda destination) takes no role: none there is as it should be, one is removed by the put.
    expect(planSubscription([{ ...desired }], { ...desired, roleArn: undefined })).toEqual({
      action: "keep",
    });
    expect(planSubscription([{ ...desired, roleArn: "arn:role/x" }], desired)).toEqual(update);
  });

  it("never displaces a filter it does not own, however the slots are filled", () => {
    const others = [
      { filterName: "siem", destinationArn: "x", filterPattern: "" },
      { filterName: "decoy", destinationArn: "y", filterPattern: "" },
    ];
    expect(planSubscription(others, desired)).toEqual({ action: "blocked", others: ["siem", "decoy"] });
    // Ours among two others (a raised quota): still ours to keep, never theirs to take.
    expect(planSubscription([...others, { ...desired }], desired)).toEqual({ action: "keep" });
    expect(planSubscription(others, desired, 3)).toEqual({ action: "put", reason: "create" });
  });
});

describe("which clusters are watched", () => {
  it("watches every cluster when none is listed, only the listed ones otherwise, never an excluded one", () => {
    const all = clusterScope();
    const listed = clusterScope({ clusters: ["prod-eu", "prod-us"] });
    const excluding = clusterScope({ excludedClusters: ["sandbox"] });
    expect(inScope(all, "anything")).toBe(true);
    expect(inScope(listed, "prod-eu")).toBe(true);
    expect(inScope(listed, "staging")).toBe(false);
    expect(inScope(excluding, "sandbox")).toBe(false);
    expect(inScope(excluding, "prod-eu")).toBe(true);
  });

  it("checks listed clusters that do not exist too, so a typo is noticed", () => {
    expect(
      clustersToCheck(clusterScope({ clusters: ["prod-eu", "prod-uss"] }), ["prod-eu", "prod-us"]),
    ).toEqual(["prod-eu", "prod-uss"]);
    expect(clustersToCheck(clusterScope({ excludedClusters: ["b"] }), ["c", "b", "a"])).toEqual(["a", "c"]);
  });

  it("refuses names EKS would not accept and a cluster both listed and excluded", () => {
    expect(() => clusterScope({ clusters: ["-bad"] })).toThrow(/not an EKS cluster name/);
    expect(() => clusterScope({ clusters: ["a"], excludedClusters: ["a"] })).toThrow(/listed in both/);
  });

  it("maps cluster names to log groups and back, and nothing else to a cluster", () => {
    expect(clusterLogGroup("prod-eu")).toBe("/aws/eks/prod-eu/cluster");
    expect(clusterOfLogGroup("/aws/eks/prod-eu/cluster")).toBe("prod-eu");
    for (const other of [
      "/aws/lambda/x",
      "/aws/eks/a/b/cluster",
      "/aws/eks/-x/cluster",
      "/aws/eks/prod-eu/clusters",
    ]) {
      expect(clusterOfLogGroup(other)).toBeUndefined();
    }
  });
});
