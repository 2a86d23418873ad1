import { describe, expect, it } from "vitest";
import { type Finding, FindingSchema } from "../../functions/core/finding.ts";
import { findingTechniques, techniqueIdsOf } from "../../functions/core/finding-techniques.ts";
import { detectFile, onlyFinding } from "../helpers/events.ts";

function finding(name: string): Finding {
  return onlyFinding(detectFile(name));
}

describe("a finding's ATT&CK techniques come from the rules that fired", () => {
  it.each([
    ["kubectl-debug-legacy-profile", ["T1609"]],
    ["privileged-sysadmin-profile", ["T1609", "T1611"]],
    ["host-path-mount", ["T1609", "T1611"]],
    ["token-volume-mount", ["T1609", "T1552.007"]],
    ["secret-env", ["T1609", "T1552.007"]],
    ["service-account-actor", ["T1609", "T1078"]],
    ["anonymous-actor", ["T1609", "T1133"]],
    ["kubectl-debug-general-target", ["T1609", "T1003.007"]],
    ["allow-privilege-escalation", ["T1609", "T1548.001"]],
    ["impersonation", ["T1609", "T1548.005"]],
    // An attempt that failed is tagged with what it tried: a privileged container.
    ["validation-failed-422", ["T1609", "T1611"]],
    ["slack-injection-strings", ["T1609", "T1611", "T1548.005"]],
  ] as const)("%s → %j", (name, techniques) => {
    const found = finding(name);
    expect(found.techniques).toEqual(techniques);
    expect(FindingSchema.parse(found).techniques).toEqual(techniques);
  });

  it("lists each technique once, in the catalogue's order whatever the order of the reasons", () => {
    const found = finding("slack-injection-strings");
    expect(found.reasons.length).toBeGreaterThan(3);
    expect(techniqueIdsOf([...found.reasons].reverse())).toEqual(found.techniques);
    expect(techniqueIdsOf([...found.reasons, ...found.reasons])).toEqual(found.techniques);
  });

  it("a finding without techniques (schemaVersion 1 from before they existed) is still valid and tagged from its reasons", () => {
    const { techniques: _, ...older } = finding("secret-volume-mount");
    const parsed = FindingSchema.parse(older);
    expect(parsed.schemaVersion).toBe(1);
    expect(findingTechniques(parsed).map((technique) => technique.id)).toEqual(["T1609", "T1552.007"]);
  });

  it("a published finding naming techniques outside the catalogue gets no invented names, and no repeats", () => {
    const forged: Finding = {
      ...finding("kubectl-debug-legacy-profile"),
      techniques: ["T1611", "__proto__", "T9999", "T1611", "<!channel>"],
    };
    expect(findingTechniques(forged)).toEqual([
      {
        id: "T1611",
        name: "Escape to Host",
        tactic: { id: "TA0004", name: "Privilege Escalation" },
      },
    ]);
  });

  it("reason ids that name no rule add nothing but T1609", () => {
    expect(techniqueIdsOf([{ id: "no.such-rule" }, { id: "__proto__" }])).toEqual(["T1609"]);
    expect(techniqueIdsOf([])).toEqual(["T1609"]);
  });
});
