import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ATTACK_TECHNIQUES } from "../../functions/core/attack-techniques.ts";
import type { DetectionConfigInput } from "../../functions/core/detection-config.ts";
import type { DebugProfile, Finding } from "../../functions/core/finding.ts";
import { RULES } from "../../functions/core/rules.ts";
import type { Severity } from "../../functions/core/severity.ts";
import {
  type Detection,
  detectEvent,
  detectFile,
  EVENTS_DIR,
  loadConfig,
  onlyFinding,
} from "../helpers/events.ts";
import { patchedContainer, type SampleEvent, variant, withContainer } from "../helpers/sample-variants.ts";

interface RuleCase {
  /** The sample that makes the rule hit, the final severity of its finding and a fragment of the reason. */
  positive: { file: string; config?: string; severity: Severity; text: string };
  /** A sample whose finding (if any) does not carry the rule's reason. */
  negative: { file: string; config?: string; noFinding?: true };
}

const CASES: Record<string, RuleCase> = {
  "write.ephemeral-container": {
    positive: {
      file: "kubectl-debug-legacy-profile",
      severity: "low",
      text: 'jane.doe added ephemeral container "debugger-q8w3n" to pod shop/checkout-api-7d9f8b6c5d-x2kqp',
    },
    negative: { file: "read-get-pod-ephemeralcontainers", noFinding: true },
  },
  "container.privileged": {
    positive: {
      file: "privileged-sysadmin-profile",
      severity: "critical",
      text: 'container "debugger-z5h1d" sets securityContext.privileged: true',
    },
    negative: { file: "kubectl-debug-general-profile" },
  },
  "container.host-process": {
    positive: {
      file: "windows-host-process",
      severity: "critical",
      text: 'container "hostproc" sets securityContext.windowsOptions.hostProcess: true',
    },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
  "container.node-level-capability": {
    positive: {
      file: "sys-admin-capability",
      severity: "high",
      text: 'container "debugger-b8w3m" adds capabilities SYS_ADMIN',
    },
    negative: { file: "kubectl-debug-general-profile" },
  },
  "container.non-baseline-capability": {
    positive: {
      file: "kubectl-debug-general-profile",
      severity: "medium",
      text: 'container "debugger-t6r2x" adds capabilities SYS_PTRACE',
    },
    negative: { file: "baseline-capabilities-only" },
  },
  "container.seccomp-unconfined": {
    positive: { file: "seccomp-unconfined", severity: "high", text: "seccompProfile.type: Unconfined" },
    negative: { file: "kubectl-debug-restricted-profile" },
  },
  "container.apparmor-unconfined": {
    positive: { file: "apparmor-unconfined", severity: "high", text: "appArmorProfile.type: Unconfined" },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
  "container.proc-mount-unmasked": {
    positive: { file: "proc-mount-unmasked", severity: "high", text: "procMount: Unmasked" },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
  "container.selinux-custom": {
    positive: { file: "selinux-custom-type", severity: "high", text: "custom SELinux type spc_t" },
    negative: { file: "kubectl-debug-restricted-profile" },
  },
  "container.run-as-root": {
    positive: { file: "run-as-root", severity: "medium", text: "runAsUser: 0" },
    negative: { file: "kubectl-debug-restricted-profile" },
  },
  "container.run-as-non-root-false": {
    positive: { file: "run-as-non-root-false", severity: "medium", text: "runAsNonRoot: false" },
    negative: { file: "kubectl-debug-restricted-profile" },
  },
  "container.privilege-escalation": {
    positive: {
      file: "allow-privilege-escalation",
      severity: "medium",
      text: "allowPrivilegeEscalation: true",
    },
    negative: { file: "kubectl-debug-restricted-profile" },
  },
  "reach.service-account-token": {
    positive: {
      file: "token-volume-mount",
      severity: "high",
      text: 'mounts volume "kube-api-access-7xk2p" at /var/run/secrets/kubernetes.io/serviceaccount, the pod\'s service-account token volume',
    },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
  "reach.secret-volume": {
    positive: {
      file: "secret-volume-mount",
      severity: "high",
      text: 'mounts volume "db-credentials" at /creds, a Secret volume',
    },
    negative: { file: "token-volume-mount" },
  },
  "reach.host-path-volume": {
    positive: {
      file: "host-path-mount",
      severity: "high",
      text: 'mounts volume "varlog" at /host-log, a hostPath volume',
    },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
  "reach.unknown-volume": {
    positive: {
      file: "unknown-volume-request-level",
      severity: "medium",
      text: 'mounts volume "app-config" at /cfg, a volume whose type is unknown',
    },
    negative: { file: "secret-volume-mount" },
  },
  "reach.secret-env": {
    positive: {
      file: "secret-env",
      severity: "high",
      text: 'reads Secret "checkout-db", "stripe-api-keys" through env/envFrom',
    },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
  "reach.host-namespaces": {
    positive: { file: "host-namespaces-pod", severity: "medium", text: "uses hostNetwork, hostPID" },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
  "reach.target-container": {
    positive: {
      file: "kubectl-debug-general-target",
      severity: "high",
      text: 'joins the process namespace of "app" (targetContainerName) with SYS_PTRACE',
    },
    negative: { file: "kubectl-debug-legacy-target" },
  },
  "target.protected-namespace": {
    positive: { file: "kube-system-target", severity: "high", text: 'protected namespace "kube-system"' },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
  "actor.anonymous": {
    positive: {
      file: "anonymous-actor",
      severity: "critical",
      text: "request made without authentication (system:anonymous)",
    },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
  "actor.service-account": {
    positive: {
      file: "service-account-actor",
      severity: "high",
      text: "made by service account system:serviceaccount:ci:deploy-bot",
    },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
  "actor.impersonation": {
    positive: { file: "impersonation", severity: "medium", text: "jane.doe impersonated dev.alice" },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
  "actor.non-kubectl-client": {
    positive: {
      file: "json-patch-spec-path",
      severity: "medium",
      text: 'sent by "OpenAPI-Generator/31.0.0/python", not kubectl',
    },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
  "actor.trusted-debugger": {
    positive: {
      file: "trusted-debugger",
      config: "trusted-debuggers",
      severity: "medium",
      text: "sam.okafor is a configured trusted debugger",
    },
    negative: { file: "trusted-debugger" },
  },
  "outcome.forbidden": {
    positive: {
      file: "rbac-forbidden",
      severity: "low",
      text: "authorization refused the request (HTTP 403)",
    },
    negative: { file: "pod-security-denied" },
  },
  "outcome.denied": {
    positive: {
      file: "pod-security-denied",
      severity: "medium",
      text: "admission rejected the request (HTTP 403, Pod Security baseline:latest)",
    },
    negative: { file: "rbac-forbidden" },
  },
  "outcome.failed": {
    positive: { file: "validation-failed-422", severity: "info", text: "the request failed (HTTP 422)" },
    negative: { file: "pod-security-denied" },
  },
  "body.cut-event": {
    positive: {
      file: "jsonl/cut-privileged-write.jsonl",
      severity: "critical",
      text: "the audit event is cut off after 262,118 characters, inside requestObject.spec.ephemeralContainers[0].env[0].value: CloudWatch Logs cuts events over its size limit, and padding a write",
    },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
  "body.truncated": {
    positive: {
      file: "truncated-body",
      severity: "medium",
      text: "kube-apiserver dropped the request and response bodies (audit.k8s.io/truncated",
    },
    negative: { file: "metadata-level-no-body" },
  },
  "body.not-logged": {
    positive: {
      file: "metadata-level-no-body",
      severity: "low",
      text: "the request body was not logged (audit level Metadata)",
    },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
  "body.containers-from": {
    positive: {
      file: "json-patch-replace-spec",
      severity: "critical",
      text: 'the request body does not say which containers it adds (a JSON Patch "replace" to "/spec"): they were read from the stored pod',
    },
    negative: { file: "json-patch-spec-path" },
  },
  "container.debug-profile": {
    positive: {
      file: "kubectl-debug-general-target",
      severity: "high",
      text: 'container "debugger-x7k2p": kubectl debug --profile=general',
    },
    negative: { file: "metadata-level-no-body" },
  },
  "podsecurity.audit-violations": {
    positive: {
      file: "pod-security-audit-violation",
      severity: "low",
      text: 'Pod Security audit: would violate PodSecurity "restricted:latest"',
    },
    negative: { file: "kubectl-debug-legacy-profile" },
  },
};

/** A file of events/audit by its bare name, or any sample by its path under events/ (`jsonl/….jsonl`). */
function detectSample(file: string, config?: string): Detection {
  return detectFile(file.includes("/") ? file : `audit/${file}`, config ? loadConfig(config) : undefined);
}

function reasonIds(finding: Finding): string[] {
  return finding.reasons.map((reason) => reason.id);
}

describe("the rules table", () => {
  it("has a positive and a negative case for every rule in RULES, and no case for a rule that does not exist", () => {
    const ruleIds = RULES.map((rule) => rule.id).sort();
    expect(Object.keys(CASES).sort()).toEqual(ruleIds);
  });

  it("has unique rule ids", () => {
    const ids = RULES.map((rule) => rule.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  describe.each(Object.entries(CASES))("%s", (id, { positive, negative }) => {
    it(`hits on ${positive.file}: ${positive.severity}`, () => {
      const finding = onlyFinding(detectSample(positive.file, positive.config));
      const reasons = finding.reasons.filter((reason) => reason.id === id);
      expect(reasons.length).toBeGreaterThan(0);
      expect(reasons.map((reason) => reason.text).join("\n")).toContain(positive.text);
      expect(finding.severity).toBe(positive.severity);
    });

    it(`does not hit on ${negative.file}`, () => {
      const detection = detectSample(negative.file, negative.config);
      if (negative.noFinding) {
        expect(detection.findings).toEqual([]);
        return;
      }
      expect(reasonIds(onlyFinding(detection))).not.toContain(id);
    });
  });
});

function severityOf(detection: Detection): Severity {
  return onlyFinding(detection).severity;
}

function capabilities(...add: string[]): (event: SampleEvent) => void {
  return (event) => {
    const body = event.requestObject as { spec: { ephemeralContainers: Array<Record<string, unknown>> } };
    const container = body.spec.ephemeralContainers[0];
    if (container) container.securityContext = { capabilities: { add } };
  };
}

describe("severity policy", () => {
  it.each([
    "kubectl-debug-legacy-profile",
    "kubectl-debug-restricted-profile",
    "kubectl-debug-legacy-target",
    "baseline-capabilities-only",
    "json-patch-legacy-path",
  ])("a created write with nothing else to say is low: %s", (file) => {
    expect(severityOf(detectSample(file))).toBe("low");
  });

  it.each(["privileged-sysadmin-profile", "windows-host-process"])("%s is critical", (file) => {
    expect(severityOf(detectSample(file))).toBe("critical");
  });

  it.each(["ALL", "SYS_ADMIN", "SYS_MODULE", "SYS_RAWIO", "SYS_BOOT", "BPF", "DAC_READ_SEARCH", "PERFMON"])(
    "adding node-level capability %s is high",
    (capability) => {
      const event = variant("sys-admin-capability", capabilities(capability));
      expect(severityOf(detectEvent(event))).toBe("high");
    },
  );

  it("recognises capabilities however the runtime accepts them (CAP_ prefix, lower case)", () => {
    const event = variant("sys-admin-capability", capabilities("cap_sys_module"));
    const finding = onlyFinding(detectEvent(event));
    expect(finding.severity).toBe("high");
    expect(finding.containers[0]?.riskyFields).toContain("capabilities.add: SYS_MODULE");
  });

  it.each(["SYS_PTRACE", "NET_ADMIN", "NET_RAW", "SYS_TIME", "IPC_LOCK"])(
    "adding non-Baseline capability %s is medium",
    (capability) => {
      const event = variant("sys-admin-capability", capabilities(capability));
      expect(severityOf(detectEvent(event))).toBe("medium");
    },
  );

  it.each([
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
  ])("adding Baseline-allowed capability %s stays low", (capability) => {
    const event = variant("sys-admin-capability", capabilities(capability));
    expect(severityOf(detectEvent(event))).toBe("low");
  });

  it.each(["seccomp-unconfined", "apparmor-unconfined", "proc-mount-unmasked", "selinux-custom-type"])(
    "%s is high",
    (file) => {
      expect(severityOf(detectSample(file))).toBe("high");
    },
  );

  it.each([
    [{ type: "container_t", level: "s0:c123,c456" }, "low"],
    [{ type: "container_engine_t" }, "low"],
    [{ user: "system_u" }, "high"],
    [{ role: "sysadm_r" }, "high"],
    [{ type: "unconfined_t" }, "high"],
  ] as const)("SELinux options %j are %s", (seLinuxOptions, expected) => {
    const event = withContainer("selinux-custom-type", (container) => {
      container.securityContext = { seLinuxOptions: { ...seLinuxOptions } };
    });
    expect(severityOf(detectEvent(event))).toBe(expected);
  });

  it.each(["run-as-root", "run-as-non-root-false", "allow-privilege-escalation"])("%s is medium", (file) => {
    expect(severityOf(detectSample(file))).toBe("medium");
  });

  it.each([
    "token-volume-mount",
    "secret-volume-mount",
    "secrets-store-csi-mount",
    "secret-env",
    "host-path-mount",
  ])("%s is at least high", (file) => {
    expect(severityOf(detectSample(file))).toBe("high");
  });

  it("a JSON Patch cannot hide privileged: true in a second operation on the container's field", () => {
    const event = variant("json-patch-spec-path", (e) => {
      e.requestObject = [
        { op: "add", path: "/spec/ephemeralContainers/-", value: { name: "inspect", image: "alpine:3.20" } },
        { op: "add", path: "/spec/ephemeralContainers/0/securityContext", value: { privileged: true } },
      ];
      const pod = e.responseObject as { spec: { ephemeralContainers: unknown[] } };
      pod.spec.ephemeralContainers = [
        { name: "inspect", image: "alpine:3.20", securityContext: { privileged: true } },
      ];
    });
    expect(severityOf(detectEvent(event))).toBe("critical");
  });

  describe("a patch shape that hides which container is new cannot hide a privileged one", () => {
    it("JSON Patch replacing /spec: critical, read from the stored pod", () => {
      const finding = onlyFinding(detectSample("json-patch-replace-spec"));
      expect(finding.severity).toBe("critical");
      expect(finding.containers.map((c) => c.name)).toEqual(["inspect"]);
    });

    it("without a stored pod, every container the replaced /spec lists is reported, and the reason says so", () => {
      const event = variant("json-patch-replace-spec", (e) => {
        delete e.responseObject;
      });
      const finding = onlyFinding(detectEvent(event));
      expect(finding.severity).toBe("critical");
      expect(finding.reasons.find((r) => r.id === "body.containers-from")?.text).toBe(
        'the request body does not say which containers it adds (a JSON Patch "replace" to "/spec"), and the stored pod cannot tell: all 1 ephemeral containers the event shows are reported, old ones included',
      );
    });

    it("a copy into the list without a stored pod says the containers are unknown", () => {
      const event = variant("json-patch-spec-path", (e) => {
        e.requestObject = [{ op: "copy", from: "/spec/containers/0", path: "/spec/ephemeralContainers/-" }];
        delete e.responseObject;
      });
      const finding = onlyFinding(detectEvent(event));
      expect(finding.containers).toEqual([]);
      expect(finding.reasons.find((r) => r.id === "body.containers-from")?.text).toContain(
        "no pod was logged to read them from: the added containers are unknown",
      );
    });
  });

  it("a token for AWS (IRSA) is at least high and says it reaches the pod's IAM role", () => {
    const finding = onlyFinding(detectSample("irsa-token-mount"));
    expect(finding.severity).toBe("high");
    expect(finding.reasons.find((r) => r.id === "reach.service-account-token")?.text).toBe(
      'container "debugger-c3h9t" mounts volume "aws-iam-token" at /var/run/secrets/eks.amazonaws.com/serviceaccount, the pod\'s service-account token for "sts.amazonaws.com" (IRSA or EKS Pod Identity): it can get the AWS credentials of the pod\'s IAM role',
    );
  });

  it("a secret mount next to a privileged container is still critical, not capped at high", () => {
    const event = withContainer("secret-volume-mount", (container) => {
      container.securityContext = { privileged: true };
    });
    expect(severityOf(detectEvent(event))).toBe("critical");
  });

  describe("pod-level securityContext: an ephemeral container runs with what the pod sets unless it overrides it", () => {
    type Json = Record<string, unknown>;

    /** A sample whose stored pod (or update body) has `context` as its spec.securityContext. */
    function withPodContext(
      name: string,
      context: Json,
      body: "responseObject" | "requestObject" = "responseObject",
    ) {
      return variant(name, (e) => {
        const pod = e[body] as { spec: Json };
        pod.spec.securityContext = context;
      });
    }

    function reasonTexts(finding: Finding): string {
      return finding.reasons.map((r) => r.text).join("\n");
    }

    it("a plain kubectl debug into a pod that runs as root with seccomp off is high, and says it inherits both", () => {
      const finding = onlyFinding(detectSample("pod-security-context-inherited"));
      expect(finding.severity).toBe("high");
      expect(reasonTexts(finding)).toContain(
        'container "debugger-w2c8k" inherits the pod\'s securityContext.runAsUser: 0 (violates Pod Security Restricted)',
      );
      expect(reasonTexts(finding)).toContain(
        "inherits the pod's securityContext.seccompProfile.type: Unconfined",
      );
      expect(finding.containers[0]?.riskyFields).toEqual([
        "seccompProfile.type: Unconfined (from the pod)",
        "runAsUser: 0 (from the pod)",
      ]);
    });

    it.each([
      [
        { runAsUser: 0 },
        "container.run-as-root",
        "medium",
        "inherits the pod's securityContext.runAsUser: 0",
      ],
      [
        { runAsNonRoot: false },
        "container.run-as-non-root-false",
        "medium",
        "inherits the pod's securityContext.runAsNonRoot: false",
      ],
      [
        { seccompProfile: { type: "Unconfined" } },
        "container.seccomp-unconfined",
        "high",
        "inherits the pod's securityContext.seccompProfile.type: Unconfined",
      ],
      [
        { appArmorProfile: { type: "Unconfined" } },
        "container.apparmor-unconfined",
        "high",
        "inherits the pod's securityContext.appArmorProfile.type: Unconfined",
      ],
      [
        { seLinuxOptions: { type: "spc_t" } },
        "container.selinux-custom",
        "high",
        "inherits a custom SELinux type spc_t from the pod's securityContext.seLinuxOptions",
      ],
      [
        { windowsOptions: { hostProcess: true } },
        "container.host-process",
        "critical",
        "inherits the pod's securityContext.windowsOptions.hostProcess: true",
      ],
    ] as const)(
      "the pod's %j is scored on the container that sets none: %s, %s",
      (context, id, level, text) => {
        const finding = onlyFinding(
          detectEvent(withPodContext("kubectl-debug-legacy-profile", { ...context })),
        );
        expect(finding.severity).toBe(level);
        expect(finding.reasons.find((r) => r.id === id)?.text).toContain(text);
      },
    );

    it.each([
      [{ runAsUser: 0 }, { runAsUser: 1000 }],
      [{ runAsNonRoot: false }, { runAsNonRoot: true }],
      [{ seccompProfile: { type: "Unconfined" } }, { seccompProfile: { type: "RuntimeDefault" } }],
      [{ appArmorProfile: { type: "Unconfined" } }, { appArmorProfile: { type: "RuntimeDefault" } }],
      [{ seLinuxOptions: { type: "spc_t" } }, { seLinuxOptions: { type: "container_t" } }],
      [{ windowsOptions: { hostProcess: true } }, { windowsOptions: { hostProcess: false } }],
    ])("the container's own value wins over the pod's: pod %j, container %j is low", (pod, own) => {
      const event = withPodContext("kubectl-debug-legacy-profile", pod);
      patchedContainer(event).securityContext = own;
      expect(severityOf(detectEvent(event))).toBe("low");
    });

    it("a container's own value is still reported as set by the container", () => {
      const event = withPodContext("run-as-root", { runAsUser: 0 });
      const reason = onlyFinding(detectEvent(event)).reasons.find((r) => r.id === "container.run-as-root");
      expect(reason?.text).toContain("sets securityContext.runAsUser: 0");
    });

    it("root inherited from the pod gives targetContainerName its raise", () => {
      const event = withPodContext("kubectl-debug-legacy-target", { runAsUser: 0 });
      const finding = onlyFinding(detectEvent(event));
      expect(finding.severity).toBe("high");
      expect(reasonIds(finding)).toContain("reach.target-container");
    });

    it("an update's own pod body is read when the response was not logged", () => {
      const event = withPodContext("update-full-pod-client-go", { runAsUser: 0 }, "requestObject");
      delete event.responseObject;
      const finding = onlyFinding(detectEvent(event));
      expect(finding.containers.map((c) => c.name)).toEqual(["diag"]);
      expect(finding.reasons.find((r) => r.id === "container.run-as-root")?.text).toContain(
        "inherits the pod's securityContext.runAsUser: 0",
      );
    });
  });

  describe("targetContainerName raises by one level only with the power to read the target", () => {
    it("SYS_PTRACE: medium becomes high", () => {
      expect(severityOf(detectSample("kubectl-debug-general-profile"))).toBe("medium");
      expect(severityOf(detectSample("kubectl-debug-general-target"))).toBe("high");
    });

    it("root: medium becomes high", () => {
      expect(severityOf(detectSample("run-as-root"))).toBe("medium");
      expect(severityOf(detectSample("run-as-root-target"))).toBe("high");
    });

    it("privileged: stays critical (nothing is above it)", () => {
      const event = withContainer("privileged-sysadmin-profile", (container) => {
        container.targetContainerName = "app";
      });
      const finding = onlyFinding(detectEvent(event));
      expect(finding.severity).toBe("critical");
      expect(reasonIds(finding)).toContain("reach.target-container");
    });

    it("ALL includes SYS_PTRACE", () => {
      const event = withContainer("sys-admin-capability", (container) => {
        container.securityContext = { capabilities: { add: ["ALL"] } };
        container.targetContainerName = "app";
      });
      expect(severityOf(detectEvent(event))).toBe("critical");
    });

    it("without SYS_PTRACE, privileged or root: no raise", () => {
      expect(severityOf(detectSample("kubectl-debug-legacy-target"))).toBe("low");
    });
  });

  it("a protected namespace makes any write at least high, and a worse one stays worse", () => {
    expect(severityOf(detectSample("kube-system-target"))).toBe("high");
    const privileged = withContainer("kube-system-target", (container) => {
      container.securityContext = { privileged: true };
    });
    expect(severityOf(detectEvent(privileged))).toBe("critical");
  });

  it("configured protected namespaces replace the default list", () => {
    const config: DetectionConfigInput = { protectedNamespaces: ["shop", "platform-*"] };
    expect(severityOf(detectSample("kubectl-debug-legacy-profile"))).toBe("low");
    expect(severityOf(detectFile("audit/kubectl-debug-legacy-profile", config))).toBe("high");
    expect(severityOf(detectFile("audit/kube-system-target", config))).toBe("low");
  });

  it("anonymous is critical", () => {
    expect(severityOf(detectSample("anonymous-actor"))).toBe("critical");
  });

  it("an anonymous request is critical even when only the impersonated identity is anonymous", () => {
    const event = variant("impersonation", (e) => {
      e.impersonatedUser = { username: "system:anonymous", groups: ["system:unauthenticated"] };
    });
    expect(severityOf(detectEvent(event))).toBe("critical");
  });

  it("a service account is at least high, and more when the container is worse", () => {
    expect(severityOf(detectSample("service-account-actor"))).toBe("high");
    const privileged = withContainer("service-account-actor", (container) => {
      container.securityContext = { privileged: true };
    });
    expect(severityOf(detectEvent(privileged))).toBe("critical");
  });

  it("impersonation raises one level", () => {
    expect(severityOf(detectSample("impersonation"))).toBe("medium");
    const withPtrace = withContainer("impersonation", (container) => {
      container.securityContext = { capabilities: { add: ["SYS_PTRACE"] } };
    });
    expect(severityOf(detectEvent(withPtrace))).toBe("high");
  });

  it("a non-kubectl user agent raises one level", () => {
    expect(severityOf(detectSample("json-patch-spec-path"))).toBe("medium");
    const script = variant("kubectl-debug-general-profile", (e) => {
      e.userAgent = "main/v0.0.0 (linux/amd64) kubernetes/$Format";
    });
    expect(severityOf(detectEvent(script))).toBe("high");
    const noAgent = variant("kubectl-debug-legacy-profile", (e) => {
      delete e.userAgent;
    });
    const finding = onlyFinding(detectEvent(noAgent));
    expect(finding.severity).toBe("medium");
    expect(finding.reasons.map((r) => r.text)).toContain("sent without a user agent: not kubectl");
  });

  it("each raise counts once: impersonation from a script is two levels up", () => {
    const event = variant("impersonation", (e) => {
      e.userAgent = "OpenAPI-Generator/31.0.0/python";
    });
    expect(severityOf(detectEvent(event))).toBe("high");
  });

  it("a raise rule hit by several containers still counts once", () => {
    const event = variant("kubectl-debug-general-target", (e) => {
      const body = e.requestObject as { spec: { ephemeralContainers: Array<Record<string, unknown>> } };
      const first = body.spec.ephemeralContainers[0];
      if (first) body.spec.ephemeralContainers.push({ ...first, name: "debugger-second" });
    });
    const finding = onlyFinding(detectEvent(event));
    expect(finding.containers.map((c) => c.name)).toEqual(["debugger-x7k2p", "debugger-second"]);
    expect(finding.severity).toBe("high");
  });

  describe("trusted debuggers", () => {
    const trusted = loadConfig("trusted-debuggers");

    it("go one level down", () => {
      expect(severityOf(detectSample("trusted-debugger"))).toBe("high");
      expect(severityOf(detectSample("trusted-debugger", "trusted-debuggers"))).toBe("medium");
    });

    it("never below low", () => {
      const config: DetectionConfigInput = { trustedDebuggers: { users: ["jane.doe"] } };
      const finding = onlyFinding(detectFile("audit/kubectl-debug-legacy-profile", config));
      expect(reasonIds(finding)).toContain("actor.trusted-debugger");
      expect(finding.severity).toBe("low");
    });

    it("never below privileged's critical", () => {
      expect(severityOf(detectSample("trusted-debugger-privileged", "trusted-debuggers"))).toBe("critical");
    });

    it("never below hostProcess's critical", () => {
      const config: DetectionConfigInput = { trustedDebuggers: { users: ["jane.doe"] } };
      expect(severityOf(detectFile("audit/windows-host-process", config))).toBe("critical");
    });

    it("do not lower a write where they impersonate someone untrusted", () => {
      const config: DetectionConfigInput = { trustedDebuggers: { groups: ["platform-engineers"] } };
      const finding = onlyFinding(detectFile("audit/impersonation", config));
      expect(reasonIds(finding)).not.toContain("actor.trusted-debugger");
      expect(finding.severity).toBe("medium");
    });

    it("matched by user name glob as well as by group", () => {
      const config: DetectionConfigInput = { trustedDebuggers: { users: ["sam.*"] } };
      expect(severityOf(detectFile("audit/trusted-debugger", config))).toBe("medium");
      expect(trusted.trustedDebuggers.groups).toEqual(["platform-oncall"]);
    });
  });

  describe("outcomes cap what did not take effect", () => {
    it("forbidden is at most low, whatever the container", () => {
      expect(severityOf(detectSample("rbac-forbidden"))).toBe("low");
      const privilegedAnonymous = variant("rbac-forbidden", (e) => {
        e.user = { username: "system:anonymous", groups: ["system:unauthenticated"] };
        const container = (
          e.requestObject as { spec: { ephemeralContainers: Array<Record<string, unknown>> } }
        ).spec.ephemeralContainers[0];
        if (container) container.securityContext = { privileged: true };
      });
      expect(severityOf(detectEvent(privilegedAnonymous))).toBe("low");
    });

    it("denied is between low and medium", () => {
      expect(severityOf(detectSample("pod-security-denied"))).toBe("medium");
      const privileged = withContainer("pod-security-denied", (container) => {
        container.securityContext = { privileged: true };
      });
      expect(severityOf(detectEvent(privileged))).toBe("medium");
      const trustedPlain = withContainer("pod-security-denied", (container) => {
        delete container.securityContext;
        delete container.targetContainerName;
      });
      const config: DetectionConfigInput = { trustedDebuggers: { users: ["jane.doe"] } };
      expect(severityOf(detectEvent(trustedPlain, config))).toBe("low");
    });

    it("failed is info, even for a privileged container", () => {
      const finding = onlyFinding(detectSample("validation-failed-422"));
      expect(reasonIds(finding)).toContain("container.privileged");
      expect(finding.severity).toBe("info");
    });
  });

  describe("writes whose body was not logged are still findings", () => {
    it("Metadata level", () => {
      const finding = onlyFinding(detectSample("metadata-level-no-body"));
      expect(finding.bodyLogged).toBe(false);
      expect(finding.containers).toEqual([]);
      expect(finding.severity).toBe("low");
      expect(finding.reasons.find((r) => r.id === "write.ephemeral-container")?.text).toContain(
        "added an ephemeral container to pod shop/checkout-api-7d9f8b6c5d-x2kqp",
      );
      expect(reasonIds(finding)).toContain("body.not-logged");
    });

    it("a write padded until kube-apiserver drops its bodies (audit.k8s.io/truncated) is at least medium", () => {
      const finding = onlyFinding(detectSample("truncated-body"));
      expect(finding.bodyLogged).toBe(false);
      expect(finding.severity).toBe("medium");
      expect(reasonIds(finding)).not.toContain("body.not-logged");
      const reason = finding.reasons.find((r) => r.id === "body.truncated")?.text ?? "";
      expect(reason).toContain("dropped the request and response bodies");
      expect(reason).toContain("padding a write");
    });

    it("a trusted debugger's truncated write stays medium: padding is not how trusted people debug", () => {
      const config: DetectionConfigInput = { trustedDebuggers: { users: ["jane.doe"] } };
      const finding = onlyFinding(detectFile("audit/truncated-body", config));
      expect(reasonIds(finding)).toContain("actor.trusted-debugger");
      expect(finding.severity).toBe("medium");
    });

    it("a truncated write that RBAC refused is still capped at low: nothing was added", () => {
      const event = variant("truncated-body", (e) => {
        e.responseStatus = { code: 403, status: "Failure", reason: "Forbidden", message: "cannot patch" };
        e.annotations = { ...e.annotations, "authorization.k8s.io/decision": "forbid" };
      });
      expect(severityOf(detectEvent(event))).toBe("low");
    });

    it("actor and target still count: a service account at Metadata level is high", () => {
      const event = variant("metadata-level-no-body", (e) => {
        e.user = { username: "system:serviceaccount:ci:deploy-bot", groups: ["system:serviceaccounts"] };
      });
      expect(severityOf(detectEvent(event))).toBe("high");
    });
  });

  it("every finding's score lies in its severity's band", () => {
    const bands: Record<Severity, [number, number]> = {
      info: [0, 19],
      low: [20, 39],
      medium: [40, 59],
      high: [60, 79],
      critical: [80, 100],
    };
    const files = readdirSync(join(EVENTS_DIR, "audit")).filter((f) => f.endsWith(".json"));
    let checked = 0;
    for (const file of files) {
      for (const finding of detectFile(`audit/${file}`).findings) {
        const [low, high] = bands[finding.severity];
        expect(finding.score, file).toBeGreaterThanOrEqual(low);
        expect(finding.score, file).toBeLessThanOrEqual(high);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
  });

  it("the first reason is the headline: the strongest", () => {
    const finding = onlyFinding(detectSample("privileged-sysadmin-profile"));
    expect(finding.reasons[0]?.id).toBe("container.privileged");
  });
});

describe("kubectl debug profiles are named in containers[].profile", () => {
  it.each([
    ["kubectl-debug-legacy-profile", "legacy-or-baseline"],
    ["json-patch-legacy-path", "legacy-or-baseline"],
    ["kubectl-debug-general-profile", "general"],
    ["kubectl-debug-general-target", "general"],
    ["kubectl-debug-restricted-profile", "restricted"],
    ["kubectl-debug-netadmin-profile", "netadmin"],
    ["privileged-sysadmin-profile", "sysadmin"],
    // --custom securityContext on top of a profile matches none of them.
    ["sys-admin-capability", "none"],
    ["run-as-root", "none"],
    // Not sent by kubectl.
    ["json-patch-spec-path", "none"],
    ["anonymous-actor", "none"],
    ["update-full-pod-client-go", "none"],
    ["merge-patch", "none"],
  ] as const)("%s → %s", (file, profile: DebugProfile) => {
    const finding = onlyFinding(detectSample(file));
    expect(finding.containers.map((c) => c.profile)).toEqual([profile]);
  });

  it("netadmin from kubectl before 1.29 (NET_ADMIN only) is still netadmin", () => {
    const event = withContainer("kubectl-debug-netadmin-profile", (container) => {
      container.securityContext = { capabilities: { add: ["NET_ADMIN"] } };
    });
    expect(onlyFinding(detectEvent(event)).containers[0]?.profile).toBe("netadmin");
  });

  it("a container without kubectl's markers (resources: {}, terminationMessagePolicy: File) is none", () => {
    const event = withContainer("kubectl-debug-general-profile", (container) => {
      delete container.resources;
    });
    expect(onlyFinding(detectEvent(event)).containers[0]?.profile).toBe("none");
  });

  it("a script copying kubectl's markers is not a kubectl profile", () => {
    const event = variant("kubectl-debug-general-profile", (e) => {
      e.userAgent = "OpenAPI-Generator/31.0.0/python";
    });
    expect(onlyFinding(detectEvent(event)).containers[0]?.profile).toBe("none");
  });

  it("the profile reason says which profile, in words", () => {
    const finding = onlyFinding(detectSample("kubectl-debug-legacy-profile"));
    expect(finding.reasons.find((r) => r.id === "container.debug-profile")?.text).toBe(
      'container "debugger-q8w3n": kubectl debug profile legacy or baseline (no securityContext)',
    );
  });
});

describe("rule metadata: what each rule tells the responder", () => {
  const DOCS_HOSTS = new Set(["kubernetes.io", "docs.aws.amazon.com"]);

  it.each(RULES.map((rule) => [rule.id, rule] as const))(
    "%s names T1609 first, why it exists, its false positives, a one-line runbook and documentation",
    (_id, rule) => {
      expect(rule.techniques[0]).toBe("T1609");
      expect(new Set(rule.techniques).size).toBe(rule.techniques.length);
      for (const technique of rule.techniques) expect(Object.keys(ATTACK_TECHNIQUES)).toContain(technique);
      for (const text of [rule.why, rule.falsePositives, rule.runbook]) {
        expect(text.trim().length).toBeGreaterThan(10);
        expect(text).not.toMatch(/[\n\r]/);
      }
      expect(rule.runbook.length).toBeLessThanOrEqual(300);
      expect(rule.references.length).toBeGreaterThan(0);
      for (const reference of rule.references) {
        const url = new URL(reference);
        expect(url.protocol).toBe("https:");
        expect(DOCS_HOSTS.has(url.hostname), reference).toBe(true);
      }
    },
  );

  const techniquesOf = (id: string) => RULES.find((rule) => rule.id === id)?.techniques ?? [];

  it.each([
    "container.privileged",
    "container.host-process",
    "container.node-level-capability",
    "container.seccomp-unconfined",
    "container.apparmor-unconfined",
    "container.proc-mount-unmasked",
    "container.selinux-custom",
    "reach.host-path-volume",
    "reach.host-namespaces",
  ])("%s (privileged, host access, node-level power) is T1611 Escape to Host", (id) => {
    expect(techniquesOf(id)).toContain("T1611");
  });

  it.each(["reach.service-account-token", "reach.secret-volume", "reach.secret-env"])(
    "%s (tokens and secrets) is T1552.007 Container API",
    (id) => {
      expect(techniquesOf(id)).toContain("T1552.007");
    },
  );

  it("a stolen service-account token is T1078, anonymous access T1133, a ptrace into another container T1003.007", () => {
    expect(techniquesOf("actor.service-account")).toContain("T1078");
    expect(techniquesOf("actor.anonymous")).toContain("T1133");
    expect(techniquesOf("reach.target-container")).toContain("T1003.007");
  });

  it("tags nothing beyond T1609 where the rule only explains or caps", () => {
    for (const rule of RULES.filter((r) => r.effect === "context" || r.effect === "ceiling")) {
      expect(rule.techniques, rule.id).toEqual(["T1609"]);
    }
  });

  it("every technique of the catalogue is used by some rule", () => {
    const used = new Set(RULES.flatMap((rule) => rule.techniques));
    expect([...used].sort()).toEqual(Object.keys(ATTACK_TECHNIQUES).sort());
  });
});
