import { describe, expect, it } from "vitest";
import * as z from "zod";
import { type DetectionConfigInput, DetectionConfigSchema } from "../../functions/core/detection-config.ts";
import type { Finding } from "../../functions/core/finding.ts";
import {
  closestRuleId,
  editDistance,
  RuleOverrideError,
  tunedRules,
} from "../../functions/core/rule-overrides.ts";
import { RULES } from "../../functions/core/rules.ts";
import { detectEvent, detectFile, onlyFinding } from "../helpers/events.ts";
import { variant, withContainer } from "../helpers/sample-variants.ts";

function detectTuned(
  file: string,
  rules: DetectionConfigInput["rules"],
  extra: DetectionConfigInput = {},
): Finding {
  return onlyFinding(detectFile(`audit/${file}`, { ...extra, rules }));
}

/** The problems zod reports for `rules`, each as `path: message`. */
function refusal(rules: unknown): string[] {
  const parsed = DetectionConfigSchema.safeParse({ rules });
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

describe("tuning: switching rules off and setting their level", () => {
  it("a rule switched off no longer fires: a script's plain write is low again, and the reason is gone", () => {
    expect(onlyFinding(detectFile("audit/json-patch-spec-path")).severity).toBe("medium");
    const finding = detectTuned("json-patch-spec-path", { "actor.non-kubectl-client": { enabled: false } });
    expect(finding.severity).toBe("low");
    expect(finding.reasons.map((reason) => reason.id)).not.toContain("actor.non-kubectl-client");
  });

  it("a re-levelled floor scores at its new level, and its reason says the level is configured", () => {
    const finding = detectTuned("run-as-root", { "container.run-as-root": { level: "high" } });
    expect(finding.severity).toBe("high");
    const reason = finding.reasons.find((r) => r.id === "container.run-as-root");
    expect(reason?.severity).toBe("high");
    expect(reason?.text).toMatch(/runs as root \(level high set by configuration; default medium\)$/);
  });

  it("a floor may be lowered too: a protected namespace set to medium", () => {
    const finding = detectTuned("kube-system-target", { "target.protected-namespace": { level: "medium" } });
    expect(finding.severity).toBe("medium");
  });

  it("levels are read whatever their case", () => {
    const finding = detectTuned("run-as-root", { "container.run-as-root": { level: "HIGH" } });
    expect(finding.severity).toBe("high");
  });

  it("a pinned rule may be raised, and a trusted debugger still cannot take a padded write below it", () => {
    const rules = { "body.truncated": { level: "high" } };
    expect(detectTuned("truncated-body", rules).severity).toBe("high");
    const trusted = detectTuned("truncated-body", rules, { trustedDebuggers: { users: ["jane.doe"] } });
    expect(trusted.reasons.map((r) => r.id)).toContain("actor.trusted-debugger");
    expect(trusted.severity).toBe("high");
  });

  it("an outcome ceiling may be lowered: a denied attempt capped at low", () => {
    expect(onlyFinding(detectFile("audit/pod-security-denied")).severity).toBe("medium");
    expect(detectTuned("pod-security-denied", { "outcome.denied": { level: "low" } }).severity).toBe("low");
  });

  it("a context rule switched off drops its reason and changes no level", () => {
    const finding = detectTuned("kubectl-debug-legacy-profile", {
      "container.debug-profile": { enabled: false },
    });
    expect(finding.severity).toBe("low");
    expect(finding.reasons.map((r) => r.id)).toEqual(["write.ephemeral-container"]);
  });

  it("one configuration's overrides do not leak into another's scoring", () => {
    detectTuned("run-as-root", { "container.run-as-root": { enabled: false } });
    expect(onlyFinding(detectFile("audit/run-as-root")).severity).toBe("medium");
  });
});

describe("tuning is checked: a typo or a change that would hide an attack is refused", () => {
  it("an unknown rule id is refused with the closest id", () => {
    expect(refusal({ "actor.non-kubect-client": { enabled: false } })).toEqual([
      'rules.actor.non-kubect-client: unknown rule "actor.non-kubect-client": did you mean "actor.non-kubectl-client"? (`ephemeral-guard rules` lists them)',
    ]);
    expect(refusal({ "Container.Run-As-Root": { level: "high" } })[0]).toContain(
      'did you mean "container.run-as-root"?',
    );
  });

  it("an id like no rule gets no suggestion", () => {
    expect(refusal({ "payments-team": { enabled: false } })).toEqual([
      'rules.payments-team: unknown rule "payments-team" (`ephemeral-guard rules` lists them)',
    ]);
  });

  it('a "__proto__" key is refused, not silently dropped', () => {
    expect(refusal(JSON.parse('{"__proto__": {"enabled": false}}'))).toEqual([
      'rules.__proto__: unknown rule "__proto__" (`ephemeral-guard rules` lists them)',
    ]);
  });

  it("a flood of ids is refused once, without a suggestion for each", () => {
    const flood = Object.fromEntries(
      Array.from({ length: 5_000 }, (_, index) => [`rule-${index}`, { enabled: false }]),
    );
    expect(refusal(flood)).toEqual([
      `rules: 5000 entries, but there are only ${RULES.length} rules (\`ephemeral-guard rules\` lists them)`,
    ]);
  });

  it("an id thousands of characters long is refused without measuring its distance to every rule", () => {
    const long = "x".repeat(100_000);
    expect(refusal({ [long]: { enabled: false } })).toEqual([
      `rules.${long}: an id of 100000 characters is no rule (\`ephemeral-guard rules\` lists them)`,
    ]);
  });

  it.each([
    [
      "container.privileged",
      { level: "high" },
      "rules.container.privileged.level: container.privileged is pinned at critical: it cannot be lowered to high",
    ],
    [
      "container.host-process",
      { enabled: false },
      "rules.container.host-process.enabled: container.host-process is pinned at critical: it cannot be switched off",
    ],
    [
      "body.cut-event",
      { level: "low" },
      "rules.body.cut-event.level: body.cut-event is pinned at medium: it cannot be lowered to low",
    ],
    [
      "body.truncated",
      { enabled: false },
      "rules.body.truncated.enabled: body.truncated is pinned at medium: it cannot be switched off",
    ],
    [
      "write.ephemeral-container",
      { enabled: false },
      "rules.write.ephemeral-container.enabled: write.ephemeral-container is pinned at low: it cannot be switched off",
    ],
  ] as const)("a pinned rule cannot be lowered below its pin: %s %j", (id, override, message) => {
    const [problem, ...more] = refusal({ [id]: override });
    expect(more).toEqual([]);
    expect(problem).toContain(message);
  });

  it("an outcome ceiling can be neither switched off nor raised above medium: a refused privileged write stays low", () => {
    expect(refusal({ "outcome.forbidden": { enabled: false } })[0]).toContain(
      "outcome.forbidden cannot be switched off: a write that did not take effect would be scored as if it had",
    );
    expect(refusal({ "outcome.denied": { level: "high" } })[0]).toContain(
      "outcome.denied caps a write that did not take effect: at most medium, not high",
    );
    const privilegedForbidden = withContainer("rbac-forbidden", (container) => {
      container.securityContext = { privileged: true };
    });
    const finding = onlyFinding(
      detectEvent(privilegedForbidden, { rules: { "outcome.forbidden": { level: "medium" } } }),
    );
    expect(finding.severity).toBe("medium");
  });

  it.each([
    ["actor.impersonation", "raises a finding one level: it has no level to set"],
    ["actor.trusted-debugger", "lowers a finding one level: it has no level to set"],
    ["body.not-logged", "only explains and never changes the level: it has no level to set"],
  ])("%s has no level to set", (id, message) => {
    expect(refusal({ [id]: { level: "high" } })).toEqual([
      `rules.${id}.level: ${id} ${message} (switch it off with "enabled": false)`,
    ]);
  });

  it("an override that says nothing, says two things at once, or has an unknown key is refused", () => {
    expect(refusal({ "container.run-as-root": {} })).toEqual([
      'rules.container.run-as-root: says nothing: give "enabled": false or a "level" for container.run-as-root',
    ]);
    expect(refusal({ "container.run-as-root": { enabled: false, level: "high" } })).toEqual([
      "rules.container.run-as-root.level: container.run-as-root is switched off: a level means nothing for it",
    ]);
    expect(refusal({ "container.run-as-root": { level: "severe" } })).toHaveLength(1);
    expect(refusal({ "container.run-as-root": { disabled: true } })).toContain(
      'rules.container.run-as-root: Unrecognized key: "disabled"',
    );
  });

  it("reports every problem of a configuration at once", () => {
    expect(
      refusal({
        "container.privileged": { enabled: false },
        "actor.non-kubect-client": { enabled: false },
        "container.run-as-root": { level: "high" },
      }),
    ).toHaveLength(2);
  });
});

describe("the tuned rules table", () => {
  it("is the rules table itself when nothing is configured: scoring allocates nothing for tuning", () => {
    expect(tunedRules(RULES, undefined)).toBe(RULES);
  });

  it("is made once per configuration and reused for every write", () => {
    const config = DetectionConfigSchema.parse({ rules: { "container.run-as-root": { level: "high" } } });
    const first = tunedRules(RULES, config.rules);
    expect(first).not.toBe(RULES);
    expect(tunedRules(RULES, config.rules)).toBe(first);
    expect(first).toHaveLength(RULES.length);
  });

  it("refuses overrides that bypassed the schema and would lower a pin", () => {
    expect(() => tunedRules(RULES, { "container.privileged": { enabled: false } })).toThrow(
      RuleOverrideError,
    );
  });
});

describe("did-you-mean", () => {
  it("measures edits", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });

  it("suggests the closest rule id", () => {
    expect(closestRuleId("container.privilegd")).toBe("container.privileged");
    expect(closestRuleId("reach.secret-volumes")).toBe("reach.secret-volume");
    expect(closestRuleId("zzz")).toBeUndefined();
  });
});

describe("schema shape", () => {
  it("keeps the overrides as given (levels in lower case) on the parsed config", () => {
    const parsed = DetectionConfigSchema.parse({
      rules: { "container.run-as-root": { level: "High" }, "actor.non-kubectl-client": { enabled: false } },
    });
    expect(parsed.rules).toEqual({
      "container.run-as-root": { level: "high" },
      "actor.non-kubectl-client": { enabled: false },
    });
    expect(DetectionConfigSchema.parse({}).rules).toBeUndefined();
    expect(z.prettifyError(DetectionConfigSchema.safeParse({ rules: [] }).error as z.ZodError)).toContain(
      "rules",
    );
  });

  it("a variant sample with a script's user agent still counts the raise when only another rule is off", () => {
    const event = variant("kubectl-debug-legacy-profile", (e) => {
      e.userAgent = "python-requests/2.32";
    });
    const finding = onlyFinding(
      detectEvent(event, { rules: { "container.debug-profile": { enabled: false } } }),
    );
    expect(finding.severity).toBe("medium");
  });
});
