import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DetectionConfigInput } from "../../functions/core/detection-config.ts";
import type { Finding } from "../../functions/core/finding.ts";
import { type Severity, severityRank } from "../../functions/core/severity.ts";
import { detectEvent, onlyFinding } from "../helpers/events.ts";
import { loadSample, patchedContainer, type SampleEvent } from "../helpers/sample-variants.ts";

/**
 * The severity policy as properties over random combinations of what a write can carry, built on the
 * kubectl-debug-legacy-profile sample (a created patch by jane.doe of shop/checkout-api-…).
 */

const securityContextField = fc.constantFrom<Array<[string, unknown]>>(
  [["privileged", true]],
  [["windowsOptions", { hostProcess: true }]],
  [["capabilities", { add: ["SYS_ADMIN"] }]],
  [["capabilities", { add: ["SYS_PTRACE"] }]],
  [["capabilities", { add: ["NET_BIND_SERVICE"] }]],
  [["seccompProfile", { type: "Unconfined" }]],
  [["seccompProfile", { type: "RuntimeDefault" }]],
  [["appArmorProfile", { type: "Unconfined" }]],
  [["procMount", "Unmasked"]],
  [["seLinuxOptions", { type: "spc_t" }]],
  [["runAsUser", 0]],
  [["runAsUser", 1000]],
  [["runAsNonRoot", false]],
  [["allowPrivilegeEscalation", true]],
  [["readOnlyRootFilesystem", true]],
);

const writeCase = fc.record({
  securityContext: fc.array(securityContextField, { maxLength: 4 }),
  target: fc.boolean(),
  mount: fc.constantFrom(undefined, "kube-api-access-7xk2p", "db-credentials", "app-config"),
  secretEnv: fc.boolean(),
  namespace: fc.constantFrom("shop", "kube-system"),
  actor: fc.constantFrom("user", "serviceaccount", "anonymous"),
  impersonation: fc.boolean(),
  userAgent: fc.constantFrom("kubectl/v1.34.2 (linux/amd64) kubernetes/8d2a4b1", "curl/8.5.0"),
  outcome: fc.constantFrom("created", "forbidden", "denied", "failed"),
});
type WriteCase = typeof writeCase extends fc.Arbitrary<infer T> ? T : never;

const TRUSTED: DetectionConfigInput = { trustedDebuggers: { users: ["jane.doe"], groups: ["developers"] } };

const OUTCOMES: Record<WriteCase["outcome"], Pick<SampleEvent, "responseStatus" | "annotations">> = {
  created: { responseStatus: { code: 200 }, annotations: { "authorization.k8s.io/decision": "allow" } },
  forbidden: { responseStatus: { code: 403 }, annotations: { "authorization.k8s.io/decision": "forbid" } },
  denied: {
    responseStatus: { code: 403, message: 'pods "x" is forbidden: violates PodSecurity "baseline:latest"' },
    annotations: { "authorization.k8s.io/decision": "allow" },
  },
  failed: { responseStatus: { code: 422 }, annotations: { "authorization.k8s.io/decision": "allow" } },
};

function buildEvent(c: WriteCase, extraContext: Array<[string, unknown]> = []): SampleEvent {
  const event = loadSample("kubectl-debug-legacy-profile");
  const container = patchedContainer(event);
  const context = Object.fromEntries([...c.securityContext.flat(), ...extraContext]);
  if (Object.keys(context).length > 0) container.securityContext = context;
  if (c.target) container.targetContainerName = "app";
  if (c.mount) container.volumeMounts = [{ name: c.mount, mountPath: "/m" }];
  if (c.secretEnv)
    container.env = [{ name: "P", valueFrom: { secretKeyRef: { name: "checkout-db", key: "p" } } }];
  event.objectRef.namespace = c.namespace;
  if (c.actor === "serviceaccount") {
    event.user = { username: "system:serviceaccount:ci:deploy-bot", groups: ["system:serviceaccounts"] };
  }
  if (c.actor === "anonymous")
    event.user = { username: "system:anonymous", groups: ["system:unauthenticated"] };
  if (c.impersonation) event.impersonatedUser = { username: "dev.alice", groups: ["developers"] };
  event.userAgent = c.userAgent;
  Object.assign(event, OUTCOMES[c.outcome]);
  return event;
}

function detect(event: SampleEvent, config?: DetectionConfigInput): Finding {
  return onlyFinding(detectEvent(event, config));
}

const rank = (severity: Severity) => severityRank(severity);
const RUNS = { numRuns: 150, seed: 20261120 };

describe("severity policy, as properties", () => {
  it("outcomes bound the level: created ≥ low, forbidden ≤ low, denied in low..medium, failed = info", () => {
    fc.assert(
      fc.property(writeCase, fc.boolean(), (c, trusted) => {
        const { severity } = detect(buildEvent(c), trusted ? TRUSTED : undefined);
        if (c.outcome === "created") expect(rank(severity)).toBeGreaterThanOrEqual(rank("low"));
        if (c.outcome === "forbidden") expect(severity).toBe("low");
        if (c.outcome === "denied") expect(["low", "medium"]).toContain(severity);
        if (c.outcome === "failed") expect(severity).toBe("info");
      }),
      RUNS,
    );
  });

  it("a created privileged or hostProcess container is critical, trusted or not", () => {
    fc.assert(
      fc.property(
        writeCase,
        fc.constantFrom<[string, unknown]>(["privileged", true], ["windowsOptions", { hostProcess: true }]),
        fc.boolean(),
        (c, field, trusted) => {
          const event = buildEvent({ ...c, outcome: "created" }, [field]);
          expect(detect(event, trusted ? TRUSTED : undefined).severity).toBe("critical");
        },
      ),
      RUNS,
    );
  });

  it("trusting the debugger lowers a created write by at most one level, and never below low", () => {
    fc.assert(
      fc.property(writeCase, (c) => {
        const event = buildEvent({ ...c, outcome: "created" });
        const untrusted = rank(detect(event).severity);
        const trusted = rank(detect(event, TRUSTED).severity);
        expect(trusted).toBeLessThanOrEqual(untrusted);
        expect(trusted).toBeGreaterThanOrEqual(Math.max(rank("low"), untrusted - 1));
      }),
      RUNS,
    );
  });

  it("more evidence never lowers the level: adding a risky field keeps or raises it", () => {
    fc.assert(
      fc.property(writeCase, securityContextField, (c, extra) => {
        const before = rank(detect(buildEvent(c)).severity);
        const after = rank(
          detect(buildEvent({ ...c, securityContext: [...c.securityContext, extra] })).severity,
        );
        expect(after).toBeGreaterThanOrEqual(before);
      }),
      RUNS,
    );
  });

  it("floors hold for created writes: secret or token reach, protected namespace and service accounts are ≥ high, anonymous is critical", () => {
    fc.assert(
      fc.property(writeCase, (c) => {
        const created = { ...c, outcome: "created" as const };
        const { severity } = detect(buildEvent(created));
        const reachesSecrets =
          c.secretEnv || c.mount === "kube-api-access-7xk2p" || c.mount === "db-credentials";
        if (reachesSecrets || c.namespace === "kube-system" || c.actor === "serviceaccount") {
          expect(rank(severity)).toBeGreaterThanOrEqual(rank("high"));
        }
        if (c.actor === "anonymous") expect(severity).toBe("critical");
      }),
      RUNS,
    );
  });

  it("every finding's score is in its severity's band", () => {
    fc.assert(
      fc.property(writeCase, (c) => {
        const { severity, score } = detect(buildEvent(c));
        expect(score).toBeGreaterThanOrEqual(rank(severity) * 20);
        expect(score).toBeLessThanOrEqual(severity === "critical" ? 100 : rank(severity) * 20 + 19);
      }),
      RUNS,
    );
  });
});
