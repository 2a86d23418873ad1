import { FINDING_SCHEMA_VERSION, type Finding } from "./finding.ts";
import { type Severity, severityRank } from "./severity.ts";

/**
 * The finding `ephemeral-guard test-alert` sends: a well-formed finding that says on every line that it is a
 * test, marked `test: true` so that remediation ignores it whatever else it says. Its audit ID is new on every
 * run, so notify-slack (which posts each audit ID once) posts every test.
 */

export const TEST_NAMESPACE = "ephemeral-guard-test";
export const TEST_REASON_ID = "test.alert";

/** Scores in the middle of each level's band (info 0–19, low 20–39, …), as a real finding of that level. */
function scoreOf(severity: Severity): number {
  return severityRank(severity) * 20 + 10;
}

export interface TestFindingInput {
  severity: Severity;
  /** Unique per run (a UUID). */
  id: string;
  time: Date;
  /** Who sent it (the OS user), shown as the actor. */
  sender: string;
  /** The cluster named in the alert; default "test" (no cluster is involved). */
  cluster?: string;
}

export function testFinding(input: TestFindingInput): Finding {
  return {
    schemaVersion: FINDING_SCHEMA_VERSION,
    test: true,
    auditID: `test-${input.id}`,
    cluster: input.cluster ?? "test",
    time: input.time.toISOString(),
    severity: input.severity,
    score: scoreOf(input.severity),
    outcome: "created",
    verb: "patch",
    requestURI: `/api/v1/namespaces/${TEST_NAMESPACE}/pods/test-alert/ephemeralcontainers`,
    bodyLogged: true,
    actor: {
      username: `${input.sender} (ephemeral-guard test-alert)`,
      groups: [],
      kind: "user",
      sourceIPs: [],
      userAgent: "ephemeral-guard test-alert",
    },
    pod: { namespace: TEST_NAMESPACE, name: "test-alert" },
    containers: [
      {
        name: "test-alert",
        image: "test-alert:not-a-real-image",
        profile: "none",
        riskyFields: [],
      },
    ],
    reasons: [
      {
        id: TEST_REASON_ID,
        severity: input.severity,
        effect: "floor",
        text: "TEST ALERT sent with `ephemeral-guard test-alert` to check the alert path: nothing happened on any cluster, and nothing needs doing",
      },
    ],
  };
}
