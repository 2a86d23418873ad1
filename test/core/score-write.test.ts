import { describe, expect, it } from "vitest";
import { detectFile, onlyFinding } from "../helpers/events.ts";

/** How reasons are presented: the first one is what Slack and the scanner show as the headline. */
describe("reason order", () => {
  it("puts the outcome first when it capped the level: a refused write says so before its evidence", () => {
    const finding = onlyFinding(detectFile("rbac-forbidden.json"));
    expect(finding.severity).toBe("low");
    expect(finding.reasons[0]?.id).toBe("outcome.forbidden");
  });

  it("otherwise strongest evidence first, context last", () => {
    const finding = onlyFinding(detectFile("privileged-sysadmin-profile.json"));
    expect(finding.reasons[0]?.id).toBe("container.privileged");
    expect(finding.reasons.at(-1)?.effect).toBe("context");
  });
});
