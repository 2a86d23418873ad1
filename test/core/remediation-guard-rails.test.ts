import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeDocument } from "../../functions/core/decode-input.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { Detector } from "../../functions/core/detector.ts";
import type { Finding } from "../../functions/core/finding.ts";
import { viewDeleteResult } from "../../functions/core/remediation/delete-result.ts";
import {
  checkFinding,
  checkTarget,
  clusterOf,
  type SkipReason,
  type TargetPod,
} from "../../functions/core/remediation/guard-rails.ts";
import { type RemediationPolicyInput, remediationPolicy } from "../../functions/core/remediation/policy.ts";

function sample(file: string): Finding {
  const path = `events/audit/${file}`;
  const [finding] = new Detector(detectionConfig({ cluster: "prod-eu" })).ingest(
    decodeDocument(JSON.parse(readFileSync(path, "utf8")), path),
  );
  if (!finding) throw new Error(`${file} produced no finding`);
  return finding;
}

const critical = sample("privileged-sysadmin-profile.json");
const impersonating = sample("impersonation.json");

const FINDING_CASES: {
  name: string;
  finding: Finding;
  policy?: RemediationPolicyInput;
  expected: SkipReason | "proceed";
}[] = [
  { name: "critical created write", finding: critical, expected: "proceed" },
  { name: "denied write", finding: { ...critical, outcome: "denied" }, expected: "not-created" },
  { name: "forbidden write", finding: { ...critical, outcome: "forbidden" }, expected: "not-created" },
  {
    name: "high below default threshold",
    finding: { ...critical, severity: "high" },
    expected: "below-threshold",
  },
  {
    name: "high at a high threshold",
    finding: { ...critical, severity: "high" },
    policy: { severityThreshold: "high" },
    expected: "proceed",
  },
  {
    name: "no cluster and no log group",
    finding: { ...critical, cluster: undefined, logGroup: undefined },
    expected: "unknown-cluster",
  },
  {
    name: "cluster from the log group",
    finding: { ...critical, cluster: undefined, logGroup: "/aws/eks/prod-eu/cluster" },
    policy: { clusters: ["prod-eu"] },
    expected: "proceed",
  },
  {
    name: "cluster not in the list",
    finding: critical,
    policy: { clusters: ["staging"] },
    expected: "cluster-not-configured",
  },
  { name: "cluster glob", finding: critical, policy: { clusters: ["prod-*"] }, expected: "proceed" },
  {
    name: "kube-system",
    finding: { ...critical, pod: { ...critical.pod, namespace: "kube-system" } },
    expected: "protected-namespace",
  },
  {
    name: "kube-node-lease",
    finding: { ...critical, pod: { ...critical.pod, namespace: "kube-node-lease" } },
    expected: "protected-namespace",
  },
  {
    name: "kube-system not protected when the list is replaced",
    finding: { ...critical, pod: { ...critical.pod, namespace: "kube-system" } },
    policy: { protectedNamespaces: ["payments"] },
    expected: "proceed",
  },
  {
    name: "break-glass user glob",
    finding: critical,
    policy: { breakGlassUsers: [`${critical.actor.username.slice(0, 3)}*`] },
    expected: "break-glass-actor",
  },
  {
    name: "break-glass group",
    finding: { ...critical, actor: { ...critical.actor, groups: ["oncall-breakglass"] } },
    policy: { breakGlassGroups: ["oncall-breakglass"] },
    expected: "break-glass-actor",
  },
  {
    name: "break-glass identity impersonated",
    finding: impersonating,
    policy: {
      breakGlassUsers: [impersonating.actor.impersonatedUser?.username ?? "missing"],
      severityThreshold: "info",
    },
    expected: "break-glass-actor",
  },
  {
    name: "rules apply in order: a denied write in kube-system is reported as not created",
    finding: { ...critical, outcome: "denied", pod: { ...critical.pod, namespace: "kube-system" } },
    expected: "not-created",
  },
];

describe("finding guard-rails", () => {
  it.each(FINDING_CASES)("$name → $expected", ({ finding, policy, expected }) => {
    const verdict = checkFinding({ finding, cluster: clusterOf(finding), policy: remediationPolicy(policy) });
    expect(verdict.action === "proceed" ? "proceed" : verdict.reason).toBe(expected);
  });

  it("asks for a human in the protected-namespace detail", () => {
    const finding = { ...critical, pod: { ...critical.pod, namespace: "kube-system" } };
    const verdict = checkFinding({ finding, cluster: "prod-eu", policy: remediationPolicy() });
    expect(verdict.action === "skip" && verdict.detail).toMatch(
      /^Needs a human: kube-system is a protected namespace/,
    );
  });
});

const replicaSet: TargetPod = {
  uid: "u",
  owner: { kind: "ReplicaSet", name: "api-1", uid: "o", controller: true },
  static: false,
};

const TARGET_CASES: {
  name: string;
  target: TargetPod;
  policy?: RemediationPolicyInput;
  expected: SkipReason | "proceed";
}[] = [
  { name: "ReplicaSet pod", target: replicaSet, expected: "proceed" },
  ...(["StatefulSet", "DaemonSet", "Job"] as const).map((kind) => ({
    name: `${kind} pod`,
    target: { ...replicaSet, owner: { kind, name: "x", controller: true } },
    expected: "proceed" as const,
  })),
  { name: "bare pod", target: { ...replicaSet, owner: undefined }, expected: "bare-pod" },
  {
    name: "bare pod allowed",
    target: { ...replicaSet, owner: undefined },
    policy: { allowBarePods: true },
    expected: "proceed",
  },
  {
    name: "owner that is not the controller counts as bare",
    target: { ...replicaSet, owner: { kind: "ReplicaSet", name: "x", controller: false } },
    expected: "bare-pod",
  },
  {
    name: "static pod",
    target: { ...replicaSet, static: true },
    policy: { allowBarePods: true },
    expected: "static-pod",
  },
  {
    name: "pod owned by a Node",
    target: { ...replicaSet, owner: { kind: "Node", name: "ip-10-0-0-1", controller: true } },
    policy: { allowBarePods: true },
    expected: "static-pod",
  },
  {
    name: "custom controller",
    target: { ...replicaSet, owner: { kind: "Rollout", name: "x", controller: true } },
    expected: "unrecognised-controller",
  },
  {
    name: "custom controller trusted by configuration",
    target: { ...replicaSet, owner: { kind: "Rollout", name: "x", controller: true } },
    policy: { recreatingControllers: ["ReplicaSet", "Rollout"] },
    expected: "proceed",
  },
];

describe("target guard-rails", () => {
  it.each(TARGET_CASES)("$name → $expected", ({ target, policy, expected }) => {
    const verdict = checkTarget({ finding: critical, target, policy: remediationPolicy(policy) });
    expect(verdict.action === "proceed" ? "proceed" : verdict.reason).toBe(expected);
  });
});

describe("policy", () => {
  it("refuses a zero grace period (the API server would forget pods whose containers still run)", () => {
    expect(() => remediationPolicy({ gracePeriodSeconds: 0 })).toThrow();
  });

  it("defaults to off, critical, the three system namespaces, no bare pods", () => {
    expect(remediationPolicy()).toMatchObject({
      mode: "off",
      severityThreshold: "critical",
      protectedNamespaces: ["kube-system", "kube-public", "kube-node-lease"],
      allowBarePods: false,
    });
  });
});

describe("delete results as people read them", () => {
  const input = { pod: "shop/api", uid: "u-1", dryRun: false, cluster: "prod-eu", gracePeriodSeconds: 10 };
  it.each([
    [{ kind: "accepted" } as const, "deleted", undefined],
    [{ kind: "replaced", message: "Precondition failed" } as const, "skipped", "pod-replaced"],
    [{ kind: "gone" } as const, "skipped", "already-gone"],
    [{ kind: "unauthenticated", message: "Unauthorized" } as const, "failed", "unauthenticated"],
    [{ kind: "forbidden", message: "forbidden" } as const, "failed", "forbidden"],
    [{ kind: "error", message: "HTTP 500" } as const, "failed", "api-error"],
  ])("%o → %s %s", (result, expectedResult, expectedReason) => {
    const view = viewDeleteResult(result, input);
    expect(view.result).toBe(expectedResult);
    expect(view.reason).toBe(expectedReason);
  });

  it("says would-delete in dry run", () => {
    expect(viewDeleteResult({ kind: "accepted" }, { ...input, dryRun: true }).result).toBe("would-delete");
  });
});
