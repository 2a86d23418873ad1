import { describe, expect, it } from "vitest";
import type { Assessment } from "../../functions/core/cluster-coverage/assess-coverage.ts";
import {
  type AlertInput,
  buildCoverageAlert,
  CoverageAlertSchema,
  cut,
  LIMITS,
} from "../../functions/core/cluster-coverage/coverage-alert.ts";
import {
  ALERT_KIND_TEXT,
  COVERAGE_ALERT_KINDS,
  COVERAGE_STATES,
  type CoverageState,
} from "../../functions/core/cluster-coverage/coverage-state.ts";
import {
  auditOnSince,
  type CoverageRecord,
  decideTransition,
  keepStateForRepair,
  type TransitionInput,
} from "../../functions/core/cluster-coverage/coverage-transition.ts";
import type { PutReason } from "../../functions/core/cluster-coverage/subscription-plan.ts";

const NOW = new Date("2026-11-20T10:00:00Z");
const EARLIER = "2026-11-20T09:50:00.000Z";

function record(state: CoverageState, changes: Partial<CoverageRecord> = {}): CoverageRecord {
  return {
    cluster: "prod-eu",
    state,
    version: 4,
    since: "2026-11-19T08:00:00.000Z",
    checkedAt: EARLIER,
    ...changes,
  };
}

function now(state: CoverageState): Extract<Assessment, { kind: "state" }> {
  return { kind: "state", state, problems: [] };
}

function decide(
  from: CoverageState | undefined,
  to: CoverageState,
  options: { status?: string; repair?: PutReason; previous?: Partial<CoverageRecord> } = {},
) {
  const input: TransitionInput = {
    cluster: "prod-eu",
    previous: from === undefined ? undefined : record(from, options.previous),
    assessment: now(to),
    status: options.status ?? "ACTIVE",
    repair: options.repair ? { reason: options.repair } : undefined,
    auditOn: to !== "audit-disabled",
    now: NOW,
  };
  return decideTransition(input);
}

describe("one alert per change of state, not one per run", () => {
  it("announces entering each blind state, from anywhere else", () => {
    for (const blind of ["audit-disabled", "unsubscribed", "silent"] as const) {
      for (const from of [
        undefined,
        "covered",
        "deleted",
        "audit-disabled",
        "unsubscribed",
        "silent",
      ] as const) {
        if (from === blind) continue;
        expect(decide(from, blind).alert, `${from} → ${blind}`).toBe(blind);
      }
    }
  });

  it("publishes nothing when the state did not change", () => {
    for (const state of COVERAGE_STATES) expect(decide(state, state).alert, state).toBeUndefined();
  });

  it("announces recovery from a blind state (info), but only once the cluster is ACTIVE again", () => {
    expect(decide("silent", "covered").alert).toBe("recovered");
    const updating = decide("audit-disabled", "covered", { status: "UPDATING" });
    expect(updating).toMatchObject({ alert: undefined, record: undefined });
  });

  it("announces a deleted cluster once, and keeps nothing for one never watched", () => {
    expect(decide("covered", "deleted").alert).toBe("deleted");
    expect(decide("silent", "deleted").alert).toBe("deleted");
    expect(decide(undefined, "deleted")).toMatchObject({ alert: undefined, record: undefined });
    expect(decide("deleted", "deleted")).toMatchObject({ alert: undefined, record: undefined });
  });

  it("takes a first sight of a covered cluster, or one re-created under a deleted one's name, as the baseline", () => {
    expect(decide(undefined, "covered").alert).toBeUndefined();
    expect(decide("deleted", "covered").alert).toBeUndefined();
    expect(decide(undefined, "covered", { repair: "create" }).alert).toBeUndefined();
  });

  it("announces a filter someone removed or redirected and coverage put back (restored), not a pattern update", () => {
    expect(decide("covered", "covered", { repair: "create" }).alert).toBe("restored");
    expect(decide("covered", "covered", { repair: "redirect" }).alert).toBe("restored");
    expect(decide("silent", "silent", { repair: "create" }).alert).toBe("restored");
    expect(decide("covered", "covered", { repair: "update-pattern" }).alert).toBeUndefined();
  });
});

describe("a check that could not be completed", () => {
  it("keeps the state, but still announces a filter someone removed or redirected that it put back", () => {
    expect(keepStateForRepair(record("silent"), { reason: "create" })).toEqual({
      kind: "state",
      state: "silent",
      problems: [],
    });
    expect(keepStateForRepair(record("covered"), { reason: "redirect" })).toMatchObject({ state: "covered" });
  });

  it("changes nothing otherwise: no repair, a pattern update, a first sight, a deleted cluster", () => {
    expect(keepStateForRepair(record("covered"), undefined)).toBeUndefined();
    expect(keepStateForRepair(record("covered"), { reason: "update-pattern" })).toBeUndefined();
    expect(keepStateForRepair(undefined, { reason: "create" })).toBeUndefined();
    expect(keepStateForRepair(record("deleted"), { reason: "create" })).toBeUndefined();
  });
});

describe("the stored record", () => {
  it("bumps the version on every write and keeps `since` while the state holds", () => {
    const same = decide("covered", "covered");
    expect(same.record).toMatchObject({
      version: 5,
      since: "2026-11-19T08:00:00.000Z",
      checkedAt: NOW.toISOString(),
    });
    const changed = decide("covered", "silent");
    expect(changed.record).toMatchObject({ version: 5, since: NOW.toISOString(), state: "silent" });
    expect(decide(undefined, "covered").record).toMatchObject({ version: 1, cluster: "prod-eu" });
  });

  it("remembers the last time the cluster was covered, where a gap starts", () => {
    expect(decide("covered", "covered").record?.coveredAt).toBe(NOW.toISOString());
    expect(decide("covered", "silent", { previous: { coveredAt: EARLIER } }).record?.coveredAt).toBe(EARLIER);
  });

  it("keeps since when audit logging is on, and forgets it when it is switched off", () => {
    expect(auditOnSince(record("covered", { auditOnSince: EARLIER }), true, NOW)).toBe(EARLIER);
    expect(auditOnSince(record("audit-disabled"), true, NOW)).toBe(NOW.toISOString());
    expect(auditOnSince(record("covered", { auditOnSince: EARLIER }), false, NOW)).toBeUndefined();
  });
});

function alertInput(changes: Partial<AlertInput> = {}): AlertInput {
  return {
    kind: "audit-disabled",
    id: "prod-eu:5:2026-11-20T10:00:00.000Z",
    cluster: "prod-eu",
    region: "eu-west-1",
    state: "audit-disabled",
    previousState: "covered",
    previousSince: "2026-11-19T08:00:00.000Z",
    problems: [{ state: "audit-disabled", detail: "the audit log type is disabled" }],
    subscription: { kind: "in-place" },
    repair: undefined,
    lastAuditEventAt: undefined,
    coveredUntil: EARLIER,
    trigger: undefined,
    time: NOW.toISOString(),
    ...changes,
  };
}

describe("coverage alerts", () => {
  it("carries the severity of its kind: high when nothing will fix itself, medium when quiet or repaired, info otherwise", () => {
    expect(
      Object.fromEntries(COVERAGE_ALERT_KINDS.map((kind) => [kind, ALERT_KIND_TEXT[kind].severity])),
    ).toEqual({
      "audit-disabled": "high",
      unsubscribed: "high",
      silent: "medium",
      restored: "medium",
      recovered: "info",
      deleted: "info",
    });
    for (const kind of COVERAGE_ALERT_KINDS) {
      expect(buildCoverageAlert(alertInput({ kind })).severity).toBe(ALERT_KIND_TEXT[kind].severity);
    }
  });

  it("says what to do for each way a cluster goes blind", () => {
    expect(buildCoverageAlert(alertInput()).action).toMatch(/update-cluster-config --name prod-eu/);
    const blocked = (kind: "slots-taken" | "no-log-group" | "refused") =>
      buildCoverageAlert(
        alertInput({
          kind: "unsubscribed",
          state: "unsubscribed",
          subscription:
            kind === "slots-taken"
              ? { kind, others: ["a", "b"] }
              : kind === "refused"
                ? { kind, detail: "AccessDeniedException" }
                : { kind },
        }),
      ).action;
    expect(blocked("slots-taken")).toMatch(/Free a subscription filter slot/);
    expect(blocked("no-log-group")).toMatch(/DeleteLogGroup/);
    expect(blocked("refused")).toMatch(/coverage role's permissions/);
    expect(buildCoverageAlert(alertInput({ kind: "restored", state: "covered" })).action).toContain(
      `ephemeral-guard hunt --cluster prod-eu --start ${EARLIER}`,
    );
    expect(buildCoverageAlert(alertInput({ kind: "deleted", state: "deleted" })).action).toBeUndefined();
  });

  it("cuts an attacker-sized detail or ARN to its limit instead of producing an alert subscribers reject", () => {
    const huge = "x".repeat(100_000);
    const alert = buildCoverageAlert(
      alertInput({
        kind: "restored",
        state: "covered",
        problems: [{ state: "unsubscribed", detail: huge }],
        repair: { reason: "redirect", previousDestination: huge },
        trigger: { eventName: huge, actor: `arn:aws:sts::1:assumed-role/r/${huge}`, sourceIPAddress: huge },
      }),
    );
    expect(CoverageAlertSchema.safeParse(alert).success).toBe(true);
    expect(alert.problems[0]?.detail.length).toBe(LIMITS.detail);
    expect(alert.repair?.previousDestination?.length).toBe(LIMITS.arn);
    expect(alert.trigger?.eventName.endsWith("…")).toBe(true);
    expect(JSON.stringify(alert).length).toBeLessThan(20_000);
  });

  it("never splits a surrogate pair when cutting", () => {
    const cutText = cut("😀".repeat(10), 6);
    expect(cutText).toBe("😀😀…");
    expect(cut("short", 10)).toBe("short");
  });
});
