import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeDocument } from "../../functions/core/decode-input.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { Detector } from "../../functions/core/detector.ts";
import type { Finding } from "../../functions/core/finding.ts";
import { viewDeleteResult } from "../../functions/core/remediation/delete-result.ts";
import {
  checkFinding,
  checkPod,
  clusterOf,
  containerProblems,
  type LivePod,
  type SkipReason,
  sameImage,
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

  it("a central stack that remediates member clusters only leaves its own clusters to a human", () => {
    const policy = remediationPolicy({ clusters: [] });
    const own = checkFinding({ finding: critical, cluster: "prod-eu", policy, reachesMembers: true });
    expect(own.action === "skip" && own.reason).toBe("cluster-not-configured");
    expect(own.action === "skip" && own.detail).toMatch(/remediates member accounts' clusters only/);
    // Without member roles an empty list cannot be deployed with remediation on; the rule does not apply.
    expect(checkFinding({ finding: critical, cluster: "prod-eu", policy }).action).toBe("proceed");
  });

  it("asks for a human in the protected-namespace detail", () => {
    const finding = { ...critical, pod: { ...critical.pod, namespace: "kube-system" } };
    const verdict = checkFinding({ finding, cluster: "prod-eu", policy: remediationPolicy() });
    expect(verdict.action === "skip" && verdict.detail).toMatch(
      /^Needs a human: kube-system is a protected namespace/,
    );
  });
});

/** The critical sample's pod as the API server holds it: same uid, its ReplicaSet, the added container. */
const livePod: LivePod = {
  uid: critical.pod.uid ?? "",
  owner: { kind: "ReplicaSet", name: "api-1", uid: "o", controller: true },
  static: false,
  beingDeleted: false,
  ephemeralContainers: critical.containers.map((container) => ({
    name: container.name,
    image: container.image,
    targetContainerName: container.targetContainerName,
  })),
};
const added = livePod.ephemeralContainers[0] ?? {
  name: "",
  image: undefined,
  targetContainerName: undefined,
};
const DIGEST = "a".repeat(64);

const POD_CASES: {
  name: string;
  pod: LivePod;
  finding?: Finding;
  policy?: RemediationPolicyInput;
  expected: SkipReason | "proceed";
}[] = [
  { name: "the pod the finding describes, ReplicaSet", pod: livePod, expected: "proceed" },
  ...(["StatefulSet", "DaemonSet", "Job"] as const).map((kind) => ({
    name: `${kind} pod`,
    pod: { ...livePod, owner: { kind, name: "x", controller: true } },
    expected: "proceed" as const,
  })),
  { name: "pod being deleted", pod: { ...livePod, beingDeleted: true }, expected: "already-gone" },
  {
    name: "live uid differs from the finding's (replaced, or a forged uid)",
    pod: { ...livePod, uid: "another-uid" },
    expected: "uid-mismatch",
  },
  {
    name: "finding without a uid (Metadata-level audit) matched by its containers",
    pod: { ...livePod, uid: "uid-from-get" },
    finding: { ...critical, pod: { ...critical.pod, uid: undefined } },
    expected: "proceed",
  },
  {
    name: "forged finding: the live pod has no such ephemeral container",
    pod: { ...livePod, ephemeralContainers: [] },
    expected: "container-not-found",
  },
  {
    name: "finding that names no container",
    pod: livePod,
    finding: { ...critical, containers: [] },
    expected: "container-not-found",
  },
  {
    name: "same container name, another image",
    pod: { ...livePod, ephemeralContainers: [{ ...added, image: "registry.example/innocent:1" }] },
    expected: "container-mismatch",
  },
  {
    name: "same container name, another target",
    pod: { ...livePod, ephemeralContainers: [{ ...added, targetContainerName: "sidecar" }] },
    expected: "container-mismatch",
  },
  {
    name: "same image pinned to a digest by an admission webhook",
    pod: { ...livePod, ephemeralContainers: [{ ...added, image: `${added.image}@sha256:${DIGEST}` }] },
    expected: "proceed",
  },
  {
    name: "one of two named containers missing",
    pod: livePod,
    finding: {
      ...critical,
      containers: [
        ...critical.containers,
        { ...critical.containers[0], name: "second", profile: "none", riskyFields: [] },
      ],
    },
    expected: "container-not-found",
  },
  { name: "bare pod", pod: { ...livePod, owner: undefined }, expected: "bare-pod" },
  {
    name: "bare pod allowed",
    pod: { ...livePod, owner: undefined },
    policy: { allowBarePods: true },
    expected: "proceed",
  },
  {
    name: "owner that is not the controller counts as bare",
    pod: { ...livePod, owner: { kind: "ReplicaSet", name: "x", controller: false } },
    expected: "bare-pod",
  },
  {
    name: "static pod",
    pod: { ...livePod, static: true },
    policy: { allowBarePods: true },
    expected: "static-pod",
  },
  {
    name: "static pod, whatever owner and static flag the finding claims",
    pod: { ...livePod, static: true, owner: undefined },
    finding: { ...critical, pod: { ...critical.pod, static: false } },
    policy: { allowBarePods: true },
    expected: "static-pod",
  },
  {
    name: "pod owned by a Node",
    pod: { ...livePod, owner: { kind: "Node", name: "ip-10-0-0-1", controller: true } },
    policy: { allowBarePods: true },
    expected: "static-pod",
  },
  {
    name: "bare live pod, whatever controller the finding claims",
    pod: { ...livePod, owner: undefined },
    finding: {
      ...critical,
      pod: { ...critical.pod, owner: { kind: "ReplicaSet", name: "forged", controller: true } },
    },
    expected: "bare-pod",
  },
  {
    name: "custom controller",
    pod: { ...livePod, owner: { kind: "Rollout", name: "x", controller: true } },
    expected: "unrecognised-controller",
  },
  {
    name: "custom controller trusted by configuration",
    pod: { ...livePod, owner: { kind: "Rollout", name: "x", controller: true } },
    policy: { recreatingControllers: ["ReplicaSet", "Rollout"] },
    expected: "proceed",
  },
];

describe("live-pod guard-rails", () => {
  it.each(POD_CASES)("$name → $expected", ({ pod, finding, policy, expected }) => {
    const verdict = checkPod({ finding: finding ?? critical, pod, policy: remediationPolicy(policy) });
    expect(verdict.action === "proceed" ? "proceed" : verdict.reason).toBe(expected);
  });

  it("says which container differs and how, quoting what the attacker wrote", () => {
    const pod = {
      ...livePod,
      ephemeralContainers: [{ ...added, image: 'evil"\nimage', targetContainerName: "app" }],
    };
    const verdict = checkPod({ finding: critical, pod, policy: remediationPolicy() });
    expect(verdict).toMatchObject({ action: "skip", reason: "container-mismatch" });
    const detail = verdict.action === "skip" ? verdict.detail : "";
    expect(detail).toMatch(/^Needs a human: /);
    // JSON-quoted: the newline and quote stay escaped, so the line cannot be split or spoofed.
    expect(detail).toContain(String.raw`runs image "evil\"\nimage" targeting "app"`);
    expect(detail).toContain(`the finding says image "${added.image}" targeting (none)`);
    expect(detail).toContain("who can publish to the alerts topic");
  });

  it("bounds an attacker's long image name in the detail", () => {
    const pod = { ...livePod, ephemeralContainers: [{ ...added, image: "x".repeat(100_000) }] };
    const verdict = checkPod({ finding: critical, pod, policy: remediationPolicy() });
    expect(verdict.action === "skip" && verdict.detail.length).toBeLessThan(1_000);
  });

  it("lists every container the live pod lacks", () => {
    expect(containerProblems(critical, { ...livePod, ephemeralContainers: [] })).toEqual([
      { name: added.name, problem: "missing" },
    ]);
  });
});

describe("same image", () => {
  it.each([
    ["busybox:1.36", "busybox:1.36", true],
    ["busybox:1.36", `busybox:1.36@sha256:${DIGEST}`, true],
    ["busybox:1.36", "busybox:1.37", false],
    ["busybox:1.36", "busybox:1.36-evil", false],
    ["busybox:1.36", `busybox:1.36-evil@sha256:${DIGEST}`, false],
    ["busybox:1.36", "busybox:1.36@sha256:short", false],
    [`busybox@sha256:${DIGEST}`, `busybox@sha256:${"b".repeat(64)}`, false],
    [undefined, "busybox:1.36", false],
    ["busybox:1.36", undefined, false],
  ])("%s vs live %s → %s", (stated, live, expected) => {
    expect(sameImage(stated, live)).toBe(expected);
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
