import type { TechniqueId } from "./attack-techniques.ts";
import { anyMatchesAny, isKubectlUserAgent, matchesAny } from "./classify-identity.ts";
import type { DetectionConfig } from "./detection-config.ts";
import type { RuleEffect } from "./finding.ts";
import type { PodSecurityContext } from "./kubernetes-shapes.ts";
import { describeProfile } from "./match-debug-profile.ts";
import {
  BASELINE_CAPABILITIES,
  BASELINE_SELINUX_TYPES,
  NODE_LEVEL_CAPABILITIES,
  PTRACE_CAPABILITIES,
} from "./pod-security-lists.ts";
import { formatCount, MAX_LISTED_HITS_PER_RULE, quotedList, withUnlisted } from "./rule-hits.ts";
import type { Severity } from "./severity.ts";
import type { ContainerFacts, IdentityFacts, MountFact, MountKind, WriteFacts } from "./write-facts.ts";

/**
 * Every scoring rule, in one table. How effects combine is in `score-write.ts`:
 * - floor:   the write is at least `level`;
 * - raise:   one level up (each raise rule counts once, however many containers hit it);
 * - lower:   one level down, never below low and never below a `pinned` floor that hit;
 * - ceiling: the write is at most `level` (outcomes: only created writes may be high or critical);
 * - context: explains, never changes the level.
 * Each rule has positive and negative cases in test/core/rules.test.ts, driven by files in events/.
 */
export interface RuleHit {
  text: string;
  /** The container and securityContext field that made it hit, shown next to the container. */
  container?: string;
  field?: string;
  /** Only on the hit that stands for the hits a rule did not list (rule-hits.ts): how many. */
  unlisted?: number;
}

/**
 * What a rule tells people besides its score: `ephemeral-guard rules`, the README's table (npm run docs:rules),
 * the techniques of findings (OCSF, Security Hub) and the runbook line in Slack all come from here.
 */
export interface RuleMetadata {
  /** One line: what the rule sees and why it matters. */
  why: string;
  /** MITRE ATT&CK techniques a hit shows. T1609 on every rule: every write is a container administration command. */
  techniques: readonly TechniqueId[];
  /** Kubernetes, Pod Security Standards and AWS documentation (https). */
  references: readonly string[];
  /** When the rule hits on work nobody needs to worry about, and how to quiet that. */
  falsePositives: string;
  /** One line: what the responder does first. */
  runbook: string;
}

export interface Rule extends RuleMetadata {
  id: string;
  effect: RuleEffect;
  /** For floor and ceiling: the level. For the other effects it is only the reason's label. */
  level: Severity;
  /**
   * A lower rule never takes a finding below the level of a pinned floor, and configuration can neither switch
   * it off nor lower it (rule-overrides.ts).
   */
  pinned?: boolean;
  evaluate(facts: WriteFacts, config: DetectionConfig): readonly RuleHit[];
}

/** The documentation the rules cite. */
const DOCS = {
  ephemeralContainers: "https://kubernetes.io/docs/concepts/workloads/pods/ephemeral-containers/",
  debugRunningPod:
    "https://kubernetes.io/docs/tasks/debug/debug-application/debug-running-pod/#ephemeral-container",
  kubectlDebug: "https://kubernetes.io/docs/reference/kubectl/generated/kubectl_debug/",
  podSecurityBaseline: "https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline",
  podSecurityRestricted: "https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted",
  podSecurityAdmission: "https://kubernetes.io/docs/concepts/security/pod-security-admission/",
  securityContext: "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/",
  capabilities:
    "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/#set-capabilities-for-a-container",
  seLinux:
    "https://kubernetes.io/docs/tasks/configure-pod-container/security-context/#assign-selinux-labels-to-a-container",
  podSecurityContextApi:
    "https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#security-context",
  seccomp: "https://kubernetes.io/docs/tutorials/security/seccomp/",
  appArmor: "https://kubernetes.io/docs/tutorials/security/apparmor/",
  hostProcess: "https://kubernetes.io/docs/tasks/configure-pod-container/create-hostprocess-pod/",
  serviceAccounts: "https://kubernetes.io/docs/concepts/security/service-accounts/",
  irsa: "https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html",
  podIdentity: "https://docs.aws.amazon.com/eks/latest/userguide/pod-identities.html",
  secrets: "https://kubernetes.io/docs/concepts/configuration/secret/",
  secretsGoodPractices: "https://kubernetes.io/docs/concepts/security/secrets-good-practices/",
  volumes: "https://kubernetes.io/docs/concepts/storage/volumes/",
  hostPath: "https://kubernetes.io/docs/concepts/storage/volumes/#hostpath",
  shareProcessNamespace: "https://kubernetes.io/docs/tasks/configure-pod-container/share-process-namespace/",
  namespaces: "https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/",
  rbac: "https://kubernetes.io/docs/reference/access-authn-authz/rbac/",
  rbacGoodPractices: "https://kubernetes.io/docs/concepts/security/rbac-good-practices/",
  anonymous: "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#anonymous-requests",
  impersonation: "https://kubernetes.io/docs/reference/access-authn-authz/authentication/#user-impersonation",
  admissionWebhooks:
    "https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/",
  auditing: "https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/",
  eksControlPlaneLogs: "https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html",
  cloudWatchLogsQuotas: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html",
} as const;

/**
 * What a rule returns when it does not hit. Every rule runs on every write and most hit nothing, so they share
 * one frozen array instead of allocating an empty one each (allocation showed up as GC in npm run bench).
 */
const NO_HITS: readonly RuleHit[] = Object.freeze([]);

type ContainerCheck = (container: ContainerFacts) => { field: string; detail: string } | undefined;

/** A rule that looks at each added container on its own; it lists the first hits and counts the rest. */
function perContainer(check: ContainerCheck): Rule["evaluate"] {
  return (facts) => {
    let hits: RuleHit[] | undefined;
    let unlisted = 0;
    for (const container of facts.containers) {
      const found = check(container);
      if (!found) continue;
      hits ??= [];
      if (hits.length === MAX_LISTED_HITS_PER_RULE) {
        unlisted++;
        continue;
      }
      hits.push({
        text: `container "${container.spec.name}" ${found.detail}`,
        container: container.spec.name,
        field: found.field,
      });
    }
    return hits === undefined ? NO_HITS : withUnlisted(hits, unlisted, "containers");
  };
}

function capabilityRule(
  selected: (capability: string) => boolean,
  describe: (caps: string) => string,
): Rule["evaluate"] {
  return perContainer((container) => {
    if (container.addedCapabilities.length === 0) return undefined;
    const caps = container.addedCapabilities.filter(selected);
    if (caps.length === 0) return undefined;
    const list = caps.join(", ");
    return { field: `capabilities.add: ${list}`, detail: describe(list) };
  });
}

const MOUNT_TEXT: Record<Exclude<MountKind, "other">, string> = {
  "service-account-token":
    "the pod's service-account token volume: it can call the Kubernetes API as the pod",
  secret: "a Secret volume of the pod: it can read the secret's keys",
  "host-path":
    "a hostPath volume of the pod: it can read or write the node's filesystem (Pod Security Baseline forbids hostPath)",
  unknown:
    "a volume whose type is unknown because the pod spec was not logged: it may be a Secret or token volume",
};

const AWS_TOKEN_AUDIENCES = new Set(["sts.amazonaws.com", "pods.eks.amazonaws.com"]);

function mountText(kind: Exclude<MountKind, "other">, mount: MountFact): string {
  if (kind !== "service-account-token" || mount.audience === undefined) return MOUNT_TEXT[kind];
  return AWS_TOKEN_AUDIENCES.has(mount.audience)
    ? `the pod's service-account token for "${mount.audience}" (IRSA or EKS Pod Identity): it can get the AWS credentials of the pod's IAM role`
    : `the pod's service-account token for "${mount.audience}": it can authenticate as the pod to whatever trusts that audience`;
}

function mountRule(kind: Exclude<MountKind, "other">): Rule["evaluate"] {
  return (facts) => {
    let hits: RuleHit[] | undefined;
    let unlisted = 0;
    for (const container of facts.containers) {
      for (const mount of container.mounts) {
        if (mount.kind !== kind) continue;
        hits ??= [];
        if (hits.length === MAX_LISTED_HITS_PER_RULE) {
          unlisted++;
          continue;
        }
        hits.push({
          text: `container "${container.spec.name}" mounts volume "${mount.volume}"${mount.mountPath ? ` at ${mount.mountPath}` : ""}, ${mountText(kind, mount)}`,
          container: container.spec.name,
          field: `volumeMounts: ${mount.volume}`,
        });
      }
    }
    return hits === undefined ? NO_HITS : withUnlisted(hits, unlisted, "mounts");
  };
}

/** The identities a write acts as: the actor, and the user it impersonated if any. */
function identities(facts: WriteFacts): readonly IdentityFacts[] {
  return facts.impersonatedUser ? [facts.actor, facts.impersonatedUser] : [facts.actor];
}

function describeActor(facts: WriteFacts): string {
  const cut = facts.cut;
  if (cut && (cut.unseen.has("user") || (cut.openField === "user" && !facts.actor.username))) {
    return "(identity cut off)";
  }
  const as = facts.impersonatedUser ? ` (as ${facts.impersonatedUser.username})` : "";
  return `${facts.actor.username || "(no username)"}${as}`;
}

/**
 * Not toLocaleString("en-US"): its first call in a process loads ICU's locale data, 26 ms here, which the first
 * cut event after a cold start would pay before its alert.
 */
const count = formatCount;

/** The rest of the cut-event reason: what else the break took with it. */
function cutOffToo(facts: WriteFacts): string {
  const cut = facts.cut;
  if (!cut) return "";
  const lost = [
    cut.unseen.has("verb") ? "the verb (scored as a write)" : undefined,
    cut.unseen.has("user") ? "the identity" : undefined,
    cut.statusCut && facts.responseCode === undefined && facts.outcome === "created"
      ? "the response status (scored as if the write took effect)"
      : undefined,
  ].filter((part): part is string => part !== undefined);
  return lost.length > 0 ? `; cut off too: ${lost.join(", ")}` : "";
}

function isTrusted(identity: IdentityFacts, config: DetectionConfig): boolean {
  return (
    matchesAny(identity.username, config.trustedDebuggers.users) ||
    anyMatchesAny(identity.groups, config.trustedDebuggers.groups)
  );
}

/**
 * One securityContext field that a container inherits from the pod's spec.securityContext when it sets none
 * itself: what the kubelet overrides as a unit (a whole seccompProfile, say; windowsOptions field by field).
 */
type Inheritable<T> = (context: PodSecurityContext | undefined) => T | undefined;

const RUN_AS_USER: Inheritable<number> = (context) => context?.runAsUser;
const RUN_AS_NON_ROOT: Inheritable<boolean> = (context) => context?.runAsNonRoot;
const SECCOMP_PROFILE: Inheritable<{ type?: string }> = (context) => context?.seccompProfile;
const APPARMOR_PROFILE: Inheritable<{ type?: string }> = (context) => context?.appArmorProfile;
const SELINUX_OPTIONS: Inheritable<NonNullable<PodSecurityContext["seLinuxOptions"]>> = (context) =>
  context?.seLinuxOptions;
const HOST_PROCESS: Inheritable<boolean> = (context) => context?.windowsOptions?.hostProcess;

/** The value the kubelet applies: the container's own, else the pod's. */
function effective<T>(c: ContainerFacts, field: Inheritable<T>): T | undefined {
  const own = field(c.securityContext);
  return own !== undefined ? own : field(c.podSecurityContext);
}

/** Whether the effective value came from the pod because the container sets none. */
function fromPod<T>(c: ContainerFacts, field: Inheritable<T>): boolean {
  return field(c.securityContext) === undefined && field(c.podSecurityContext) !== undefined;
}

/** "sets securityContext.X" or "inherits the pod's securityContext.X": reasons name where a value came from. */
function source(inherited: boolean, path: string): string {
  return inherited ? `inherits the pod's securityContext.${path}` : `sets securityContext.${path}`;
}

/** A risky field as listed next to the container, marked when it is the pod's. */
function riskyField(inherited: boolean, field: string): string {
  return inherited ? `${field} (from the pod)` : field;
}

function isRoot(container: ContainerFacts): boolean {
  return effective(container, RUN_AS_USER) === 0;
}

const OUTCOME_VERB = {
  created: "added",
  forbidden: "was refused by authorization when adding",
  denied: "was refused by admission when adding",
  failed: "failed to add",
} as const;

export const RULES: readonly Rule[] = [
  {
    // Pinned at low: every write is at least low, whoever makes it and however it is configured.
    id: "write.ephemeral-container",
    effect: "floor",
    level: "low",
    pinned: true,
    why: "any write to pods/ephemeralcontainers by an identity that is not excluded: a container with an image and command of the writer's choosing now runs inside a live pod, and only deleting the pod removes it",
    techniques: ["T1609"],
    references: [DOCS.ephemeralContainers, DOCS.debugRunningPod],
    falsePositives:
      "kubectl debug by on-call engineers, and tools that add ephemeral containers (IDE plugins, Lens, k9s): exclude automation with excludedUsers/excludedGroups, lower on-call engineers with trustedDebuggers",
    runbook:
      "Ask the actor why they debugged the pod; if nobody expected it, treat the pod as compromised: delete it (its controller replaces it) and rotate what it could reach",
    evaluate: (facts) => {
      const names = quotedList(facts.containers, MAX_LISTED_HITS_PER_RULE, (c) => `"${c.spec.name}"`);
      const what = names ? `ephemeral container ${names}` : "an ephemeral container";
      return [
        {
          text: `${describeActor(facts)} ${OUTCOME_VERB[facts.outcome]} ${what} to pod ${facts.namespace}/${facts.podName}`,
        },
      ];
    },
  },
  {
    id: "container.privileged",
    effect: "floor",
    level: "critical",
    pinned: true,
    why: "a privileged container has every capability and the node's devices: enough to take over the node (Pod Security Baseline forbids it)",
    techniques: ["T1609", "T1611"],
    references: [DOCS.podSecurityBaseline, DOCS.securityContext],
    falsePositives:
      "kubectl debug --profile=sysadmin by an administrator debugging the node's network or storage (kubectl debug node/NAME does that without touching a workload)",
    runbook:
      "Treat the node as compromised: delete the pod, cordon, drain and replace the node, and rotate the credentials of every pod that ran on it",
    evaluate: perContainer((c) =>
      c.securityContext?.privileged === true
        ? {
            field: "privileged: true",
            detail:
              "sets securityContext.privileged: true (violates Pod Security Baseline): full access to the node's devices and kernel",
          }
        : undefined,
    ),
  },
  {
    id: "container.host-process",
    effect: "floor",
    level: "critical",
    pinned: true,
    why: "a Windows HostProcess container runs as a process on the node, outside any container isolation (Pod Security Baseline forbids it)",
    techniques: ["T1609", "T1611"],
    references: [DOCS.hostProcess, DOCS.podSecurityBaseline],
    falsePositives: "Windows node administration by the platform team through HostProcess containers",
    runbook:
      "Treat the Windows node as compromised: delete the pod, drain and replace the node, and rotate the credentials of every pod that ran on it",
    evaluate: perContainer((c) => {
      if (effective(c, HOST_PROCESS) !== true) return undefined;
      const inherited = fromPod(c, HOST_PROCESS);
      return {
        field: riskyField(inherited, "windowsOptions.hostProcess: true"),
        detail: `${source(inherited, "windowsOptions.hostProcess")}: true (violates Pod Security Baseline): runs as a process on the Windows node`,
      };
    }),
  },
  {
    id: "container.node-level-capability",
    effect: "floor",
    level: "high",
    why: "ALL, SYS_ADMIN, SYS_MODULE, SYS_RAWIO, SYS_BOOT, BPF, DAC_READ_SEARCH or PERFMON: enough to leave the container and take over the node (Pod Security Baseline forbids adding them)",
    techniques: ["T1609", "T1611"],
    references: [DOCS.capabilities, DOCS.podSecurityBaseline],
    falsePositives:
      "kubectl debug --custom adding SYS_ADMIN to mount or trace something during an incident; eBPF tools (BPF, PERFMON) run by the platform team",
    runbook:
      "Ask the actor what the capability was for; if not expected, delete the pod and check the node (kernel modules, mounts, new processes) before trusting it again",
    evaluate: capabilityRule(
      (cap) => NODE_LEVEL_CAPABILITIES.has(cap),
      (caps) =>
        `adds capabilities ${caps} in securityContext.capabilities.add (violates Pod Security Baseline): enough to take over the node`,
    ),
  },
  {
    id: "container.non-baseline-capability",
    effect: "floor",
    level: "medium",
    why: "a capability outside Pod Security Baseline's list (SYS_PTRACE, NET_ADMIN, NET_RAW, …): the container can trace processes or reshape and sniff the pod's network",
    techniques: ["T1609"],
    references: [DOCS.capabilities, DOCS.podSecurityBaseline, DOCS.kubectlDebug],
    falsePositives:
      "kubectl debug --profile=general (SYS_PTRACE, the default from kubectl 1.36) and --profile=netadmin (NET_ADMIN, NET_RAW) in ordinary troubleshooting",
    runbook:
      "Check with the actor that the session was expected; if not, delete the pod and rotate what its processes held in memory",
    evaluate: capabilityRule(
      (cap) => !NODE_LEVEL_CAPABILITIES.has(cap) && !BASELINE_CAPABILITIES.has(cap),
      (caps) =>
        `adds capabilities ${caps} in securityContext.capabilities.add (violates Pod Security Baseline)`,
    ),
  },
  {
    id: "container.seccomp-unconfined",
    effect: "floor",
    level: "high",
    why: "seccomp Unconfined (the container's own or the pod's) removes the syscall filter that blocks most container-escape exploits (Pod Security Baseline forbids it)",
    techniques: ["T1609", "T1611"],
    references: [DOCS.seccomp, DOCS.podSecurityBaseline],
    falsePositives:
      "a pod that already runs Unconfined, which every container added to it inherits; profilers that need syscalls RuntimeDefault blocks",
    runbook:
      "Ask the actor why the filter was off; if not expected, delete the pod and check its node for signs of an escape",
    evaluate: perContainer((c) => {
      if (effective(c, SECCOMP_PROFILE)?.type !== "Unconfined") return undefined;
      const inherited = fromPod(c, SECCOMP_PROFILE);
      return {
        field: riskyField(inherited, "seccompProfile.type: Unconfined"),
        detail: `${source(inherited, "seccompProfile.type")}: Unconfined (violates Pod Security Baseline): no syscall filtering`,
      };
    }),
  },
  {
    id: "container.apparmor-unconfined",
    effect: "floor",
    level: "high",
    why: "AppArmor Unconfined (the container's own or the pod's) removes the profile that confines file, mount and ptrace access (Pod Security Baseline forbids it)",
    techniques: ["T1609", "T1611"],
    references: [DOCS.appArmor, DOCS.podSecurityBaseline],
    falsePositives:
      "a pod that already runs Unconfined, which every container added to it inherits; tools the runtime's default profile blocks",
    runbook:
      "Ask the actor why the profile was off; if not expected, delete the pod and check its node for signs of an escape",
    evaluate: perContainer((c) => {
      if (effective(c, APPARMOR_PROFILE)?.type !== "Unconfined") return undefined;
      const inherited = fromPod(c, APPARMOR_PROFILE);
      return {
        field: riskyField(inherited, "appArmorProfile.type: Unconfined"),
        detail: `${source(inherited, "appArmorProfile.type")}: Unconfined (violates Pod Security Baseline)`,
      };
    }),
  },
  {
    id: "container.proc-mount-unmasked",
    effect: "floor",
    level: "high",
    why: "procMount Unmasked exposes the parts of /proc the runtime hides (kernel settings, other processes' details) (Pod Security Baseline forbids it)",
    techniques: ["T1609", "T1611"],
    references: [DOCS.podSecurityContextApi, DOCS.podSecurityBaseline],
    falsePositives: "nested container builds with user namespaces; rare in a debug session",
    runbook:
      "Ask the actor why /proc was unmasked; if not expected, delete the pod and check its node for signs of an escape",
    evaluate: perContainer((c) => {
      const procMount = c.securityContext?.procMount;
      return procMount !== undefined && procMount !== "Default"
        ? {
            field: `procMount: ${procMount}`,
            detail: `sets securityContext.procMount: ${procMount} (violates Pod Security Baseline): /proc is not masked`,
          }
        : undefined;
    }),
  },
  {
    id: "container.selinux-custom",
    effect: "floor",
    level: "high",
    why: "a custom SELinux type, user or role (spc_t, unconfined_t, …), the container's own or the pod's, lifts the label that confines the container (Pod Security Baseline forbids it)",
    techniques: ["T1609", "T1611"],
    references: [DOCS.seLinux, DOCS.podSecurityBaseline],
    falsePositives:
      "a pod that already sets a custom label, which containers added to it inherit; platform agents labelled spc_t on SELinux nodes",
    runbook:
      "Ask the actor why the label was set; if not expected, delete the pod and check its node for signs of an escape",
    evaluate: perContainer((c) => {
      const options = effective(c, SELINUX_OPTIONS);
      if (!options) return undefined;
      const custom = [
        options.type !== undefined && !BASELINE_SELINUX_TYPES.has(options.type)
          ? `type ${options.type}`
          : undefined,
        options.user !== undefined && options.user !== "" ? `user ${options.user}` : undefined,
        options.role !== undefined && options.role !== "" ? `role ${options.role}` : undefined,
      ].filter((part): part is string => part !== undefined);
      if (custom.length === 0) return undefined;
      const inherited = fromPod(c, SELINUX_OPTIONS);
      return {
        field: riskyField(inherited, `seLinuxOptions: ${custom.join(", ")}`),
        detail: `${inherited ? "inherits" : "sets"} a custom SELinux ${custom.join(", ")} ${inherited ? "from the pod's" : "in"} securityContext.seLinuxOptions (violates Pod Security Baseline)`,
      };
    }),
  },
  {
    id: "container.run-as-root",
    effect: "floor",
    level: "medium",
    why: "the container runs as root (runAsUser 0, its own or the pod's): root is what turns a weakness in the container into an escape (Pod Security Restricted forbids it)",
    techniques: ["T1609"],
    references: [DOCS.securityContext, DOCS.podSecurityRestricted],
    falsePositives:
      "debug images that need root for package managers or network tools; a plain kubectl debug into a pod that already runs as root",
    runbook: "Check with the actor that the session was expected; if not, delete the pod",
    evaluate: perContainer((c) => {
      if (!isRoot(c)) return undefined;
      const inherited = fromPod(c, RUN_AS_USER);
      return {
        field: riskyField(inherited, "runAsUser: 0"),
        detail: `${source(inherited, "runAsUser")}: 0 (violates Pod Security Restricted): runs as root`,
      };
    }),
  },
  {
    id: "container.run-as-non-root-false",
    effect: "floor",
    level: "medium",
    why: "runAsNonRoot: false (the container's own or the pod's) lets the image's user, often root, run (Pod Security Restricted forbids it)",
    techniques: ["T1609"],
    references: [DOCS.securityContext, DOCS.podSecurityRestricted],
    falsePositives: "a pod that already sets runAsNonRoot: false, which containers added to it inherit",
    runbook: "Check with the actor that the session was expected; if not, delete the pod",
    evaluate: perContainer((c) => {
      if (effective(c, RUN_AS_NON_ROOT) !== false) return undefined;
      const inherited = fromPod(c, RUN_AS_NON_ROOT);
      return {
        field: riskyField(inherited, "runAsNonRoot: false"),
        detail: `${source(inherited, "runAsNonRoot")}: false (violates Pod Security Restricted): may run as root`,
      };
    }),
  },
  {
    id: "container.privilege-escalation",
    effect: "floor",
    level: "medium",
    why: "allowPrivilegeEscalation: true lets a process gain more privileges than its parent through setuid binaries or file capabilities (Pod Security Restricted forbids it)",
    techniques: ["T1609", "T1548.001"],
    references: [DOCS.securityContext, DOCS.podSecurityRestricted],
    falsePositives:
      "debug images whose tools rely on setuid (ping, sudo); kubectl debug --custom copying a workload's securityContext",
    runbook: "Check with the actor that the session was expected; if not, delete the pod",
    evaluate: perContainer((c) =>
      c.securityContext?.allowPrivilegeEscalation === true
        ? {
            field: "allowPrivilegeEscalation: true",
            detail: "sets securityContext.allowPrivilegeEscalation: true (violates Pod Security Restricted)",
          }
        : undefined,
    ),
  },
  {
    id: "reach.service-account-token",
    effect: "floor",
    level: "high",
    why: "mounting the pod's service-account token lets the container call the Kubernetes API as the pod, or with an IRSA or EKS Pod Identity token get the pod's AWS credentials",
    techniques: ["T1609", "T1552.007"],
    references: [DOCS.serviceAccounts, DOCS.irsa, DOCS.podIdentity],
    falsePositives:
      "debugging what a pod's own token may do; kubectl debug --custom copying a workload's volumeMounts",
    runbook:
      "If not expected: delete the pod (its bound token stops working), revoke the IAM role's sessions for an AWS token, and review what the service account and role did (audit log, CloudTrail)",
    evaluate: mountRule("service-account-token"),
  },
  {
    id: "reach.secret-volume",
    effect: "floor",
    level: "high",
    why: "mounting a Secret volume of the pod lets the container read the secret's keys",
    techniques: ["T1609", "T1552.007"],
    references: [DOCS.secrets, DOCS.secretsGoodPractices],
    falsePositives:
      "debugging a workload's configuration by reading the files it reads; kubectl debug --custom copying a workload's volumeMounts",
    runbook:
      "If not expected: rotate the secret's values first (the container has read them), then delete the pod",
    evaluate: mountRule("secret"),
  },
  {
    id: "reach.host-path-volume",
    effect: "floor",
    level: "high",
    why: "mounting a hostPath volume of the pod gives the container the node's files (Pod Security Baseline forbids hostPath)",
    techniques: ["T1609", "T1611"],
    references: [DOCS.hostPath, DOCS.podSecurityBaseline],
    falsePositives:
      "debugging a node agent (log shipper, CNI or CSI driver) that mounts host paths by design",
    runbook:
      "If not expected: delete the pod and check the node files it could write (kubelet configuration, the runtime socket, /etc) before trusting the node",
    evaluate: mountRule("host-path"),
  },
  {
    id: "reach.unknown-volume",
    effect: "floor",
    level: "medium",
    why: "the container mounts a volume whose type is unknown because the pod spec was not logged: it may be a Secret or token volume",
    techniques: ["T1609"],
    references: [DOCS.volumes, DOCS.auditing],
    falsePositives: "most mounts, which are configMap or emptyDir volumes",
    runbook:
      "Look the volume up in the pod's spec (kubectl get pod -o yaml); if it is a Secret or a service-account token, rotate what it holds, then delete the pod",
    evaluate: mountRule("unknown"),
  },
  {
    id: "reach.secret-env",
    effect: "floor",
    level: "high",
    why: "env or envFrom referencing a Secret hands the secret's values to the container's processes",
    techniques: ["T1609", "T1552.007"],
    references: [DOCS.secrets, DOCS.secretsGoodPractices],
    falsePositives: "kubectl debug --custom copying a workload's env to reproduce its behaviour",
    runbook:
      "If not expected: rotate the secret's values first (the container has read them), then delete the pod",
    evaluate: perContainer((c) =>
      c.secretEnv.length > 0
        ? {
            field: `env from Secret: ${c.secretEnv.join(", ")}`,
            detail: `reads Secret ${c.secretEnv.map((s) => `"${s}"`).join(", ")} through env/envFrom`,
          }
        : undefined,
    ),
  },
  {
    id: "reach.host-namespaces",
    effect: "floor",
    level: "medium",
    why: "the pod uses hostNetwork, hostPID or hostIPC, so the new container shares the node's network, processes or IPC (Pod Security Baseline forbids them)",
    techniques: ["T1609", "T1611"],
    references: [DOCS.podSecurityBaseline],
    falsePositives: "debugging node agents (CNI, kube-proxy, monitoring) that use host namespaces by design",
    runbook: "If not expected: delete the pod and check the node's processes and network for changes",
    evaluate: (facts) => {
      const { hostNetwork, hostPID, hostIPC } = facts.pod;
      if (!(hostNetwork || hostPID || hostIPC) || facts.containers.length === 0) return NO_HITS;
      const shared = (["hostNetwork", "hostPID", "hostIPC"] as const).filter((ns) => facts.pod[ns]);
      return [
        {
          text: `pod ${facts.namespace}/${facts.podName} uses ${shared.join(", ")} (forbidden by Pod Security Baseline): the new container shares the node's namespaces`,
        },
      ];
    },
  },
  {
    id: "reach.target-container",
    effect: "raise",
    level: "medium",
    why: "targetContainerName with SYS_PTRACE, privileged or root joins another container's process namespace, where /proc exposes its memory, environment and files",
    techniques: ["T1609", "T1003.007"],
    references: [DOCS.shareProcessNamespace, DOCS.debugRunningPod],
    falsePositives:
      "kubectl debug --target with --profile=general (the default from kubectl 1.36): the documented way to debug a distroless container",
    runbook:
      "If not expected: rotate what the target container held in memory or environment (tokens, keys, passwords), then delete the pod",
    evaluate: perContainer((c) => {
      const target = c.spec.targetContainerName;
      if (!target) return undefined;
      const power = [
        c.addedCapabilities.some((cap) => PTRACE_CAPABILITIES.has(cap)) ? "SYS_PTRACE" : undefined,
        c.securityContext?.privileged === true ? "privileged" : undefined,
        isRoot(c) ? "root" : undefined,
      ].filter((part): part is string => part !== undefined);
      if (power.length === 0) return undefined;
      return {
        field: `targetContainerName: ${target}`,
        detail: `joins the process namespace of "${target}" (targetContainerName) with ${power.join(" and ")}: it can read that container's memory, environment and files through /proc`,
      };
    }),
  },
  {
    id: "target.protected-namespace",
    effect: "floor",
    level: "high",
    why: "the pod is in a protected namespace (kube-system, kube-public and kube-node-lease unless configured): cluster components run there with broad credentials",
    techniques: ["T1609"],
    references: [DOCS.namespaces, DOCS.rbacGoodPractices],
    falsePositives:
      "platform engineers debugging CoreDNS, the CNI or other add-ons: list them as trustedDebuggers",
    runbook:
      "Confirm with the platform team; if not expected, delete the pod and review what its service account may do",
    evaluate: (facts, config) =>
      matchesAny(facts.namespace, config.protectedNamespaces)
        ? [{ text: `pod ${facts.namespace}/${facts.podName} is in protected namespace "${facts.namespace}"` }]
        : NO_HITS,
  },
  {
    id: "actor.anonymous",
    effect: "floor",
    level: "critical",
    why: "the request was made without authentication: whoever reaches the API server can add containers to pods",
    techniques: ["T1609", "T1133"],
    references: [DOCS.anonymous, DOCS.rbac],
    falsePositives:
      "none: a binding that lets system:anonymous or system:unauthenticated write pods is a misconfiguration, even in a test cluster",
    runbook:
      "Remove every RoleBinding and ClusterRoleBinding to system:anonymous and system:unauthenticated, restrict the API endpoint's access, then delete the pod",
    evaluate: (facts) =>
      facts.actor.kind === "anonymous" || facts.impersonatedUser?.kind === "anonymous"
        ? [
            {
              text: `request made without authentication (${describeActor(facts)}): anonymous access can write pods`,
            },
          ]
        : NO_HITS,
  },
  {
    id: "actor.service-account",
    effect: "floor",
    level: "high",
    why: "a service account made the write (or was impersonated): workloads do not debug pods, so its token was probably stolen",
    techniques: ["T1609", "T1078"],
    references: [DOCS.serviceAccounts, DOCS.rbacGoodPractices],
    falsePositives:
      "CI jobs or operators that add ephemeral containers on purpose (profilers, chaos tools): exclude them with excludedUsers",
    runbook:
      "Find where the token was used from (source IP, user agent), remove the service account's pods/ephemeralcontainers permission, and invalidate the token (delete the pod it is bound to, or its token Secret)",
    evaluate: (facts) =>
      facts.actor.kind !== "serviceaccount" && facts.impersonatedUser?.kind !== "serviceaccount"
        ? NO_HITS
        : identities(facts)
            .filter((identity) => identity.kind === "serviceaccount")
            .map((identity) => ({
              text: `made by service account ${identity.username}: workloads do not debug pods, a stolen token might`,
            })),
  },
  {
    id: "actor.impersonation",
    effect: "raise",
    level: "medium",
    why: "the actor impersonated another identity: the write is authorized as someone else, which hides who made it",
    techniques: ["T1609", "T1548.005"],
    references: [DOCS.impersonation, DOCS.rbacGoodPractices],
    falsePositives:
      "administrators testing RBAC with kubectl --as; tools that act on behalf of users (dashboards, GitOps controllers)",
    runbook:
      "Check that the actor may impersonate that identity on purpose, and remove impersonate permissions nobody needs",
    evaluate: (facts) =>
      facts.impersonatedUser
        ? [
            {
              text: `${facts.actor.username} impersonated ${facts.impersonatedUser.username} to make this request`,
            },
          ]
        : NO_HITS,
  },
  {
    id: "actor.non-kubectl-client",
    effect: "raise",
    level: "medium",
    why: "the request was not sent by kubectl: a script or tool added the container, which is how automated attacks do it",
    techniques: ["T1609"],
    references: [DOCS.ephemeralContainers, DOCS.auditing],
    falsePositives:
      "IDE plugins, Lens, k9s and client libraries in debugging tools: the user agent names them",
    runbook:
      "Look at the user agent and source IP: a known tool on the actor's machine is benign; anything else suggests the actor's credentials are used by someone else",
    evaluate: (facts) =>
      // A user agent cut off with the rest of a cut event says nothing about the client.
      isKubectlUserAgent(facts.actor.userAgent) || facts.cut?.unseen.has("userAgent")
        ? NO_HITS
        : [
            {
              text: facts.actor.userAgent
                ? `sent by "${facts.actor.userAgent.slice(0, 120)}", not kubectl: a script or tool added the container`
                : "sent without a user agent: not kubectl",
            },
          ],
  },
  {
    id: "actor.trusted-debugger",
    effect: "lower",
    level: "low",
    why: "the actor (and whoever it impersonated) is a configured trusted debugger: one level down, never below low, never below a pinned rule",
    techniques: ["T1609"],
    references: [DOCS.debugRunningPod],
    falsePositives:
      "not a detection, it lowers: a trusted debugger's stolen credentials look the same, which is why pinned rules still hold",
    runbook: "Confirm with the debugger that the session was theirs",
    evaluate: (facts, config) =>
      isTrusted(facts.actor, config) &&
      (facts.impersonatedUser === undefined || isTrusted(facts.impersonatedUser, config))
        ? [{ text: `${describeActor(facts)} is a configured trusted debugger` }]
        : NO_HITS,
  },
  {
    id: "outcome.forbidden",
    effect: "ceiling",
    level: "low",
    why: "authorization refused the request: nothing was added, but someone tried (at most low)",
    techniques: ["T1609"],
    references: [DOCS.rbac],
    falsePositives: "engineers who try kubectl debug without the permission",
    runbook:
      "Check the identity's other recent requests: attempts from an unexpected identity or address suggest stolen credentials probing what they may do",
    evaluate: (facts) =>
      facts.outcome === "forbidden"
        ? [
            {
              text: `authorization refused the request (HTTP ${facts.responseCode ?? "?"}): nothing was added, but someone tried`,
            },
          ]
        : NO_HITS,
  },
  {
    id: "outcome.denied",
    effect: "ceiling",
    level: "medium",
    why: "admission (Pod Security, a policy webhook) rejected the request: nothing was added (at most medium)",
    techniques: ["T1609"],
    references: [DOCS.podSecurityAdmission, DOCS.admissionWebhooks],
    falsePositives:
      "kubectl debug with a profile the namespace's Pod Security level refuses (--profile=sysadmin in a baseline namespace)",
    runbook:
      "Check what was refused and whether the actor then tried another way (another pod, namespace or profile)",
    evaluate: (facts) =>
      facts.outcome === "denied"
        ? [
            {
              text: `admission rejected the request (HTTP ${facts.responseCode ?? "?"}${facts.podSecurityEnforcePolicy ? `, Pod Security ${facts.podSecurityEnforcePolicy}` : ""}): nothing was added`,
            },
          ]
        : NO_HITS,
  },
  {
    id: "outcome.failed",
    effect: "ceiling",
    level: "info",
    why: "the request failed (invalid, conflicting, or a server error): nothing was added (info)",
    techniques: ["T1609"],
    references: [DOCS.ephemeralContainers],
    falsePositives: "typos and name conflicts in ordinary debugging",
    runbook: "Nothing on its own; look for a later successful write by the same actor",
    evaluate: (facts) =>
      facts.outcome === "failed"
        ? [{ text: `the request failed (HTTP ${facts.responseCode ?? "no status"}): nothing was added` }]
        : NO_HITS,
  },
  {
    // Pinned like body.truncated: a trusted debugger has no reason to pad a write.
    id: "body.cut-event",
    effect: "floor",
    level: "medium",
    pinned: true,
    why: "the audit event arrived cut mid-JSON, over CloudWatch Logs' event size limit: padding a write until its event is cut is how a container is pushed out of view",
    techniques: ["T1609"],
    references: [DOCS.eksControlPlaneLogs, DOCS.cloudWatchLogsQuotas],
    falsePositives:
      "very large pod specs (many containers, large env values or annotations) that cross the limit by accident",
    runbook:
      "Read the pod's ephemeral containers from the API server (kubectl get pod -o yaml) and act on what they hold",
    evaluate: (facts) => {
      const cut = facts.cut;
      if (!cut) return NO_HITS;
      const where = cut.inside ? `, inside ${cut.inside}` : "";
      const broken = cut.endOfText
        ? `is cut off after ${count(cut.length)} characters${where}`
        : `stops being JSON at character ${count(cut.readable)} of ${count(cut.length)}${where}`;
      return [
        {
          text: `the audit event ${broken}: CloudWatch Logs cuts events over its size limit, and padding a write (a huge env value or annotation) until its event is cut is what pushing a container out of view looks like; scored on what the readable part shows${cutOffToo(facts)}`,
        },
      ];
    },
  },
  {
    // Pinned: a trusted debugger has no reason to pad a write, and a stolen trusted identity would.
    id: "body.truncated",
    effect: "floor",
    level: "medium",
    pinned: true,
    why: "kube-apiserver dropped the request and response bodies (audit.k8s.io/truncated): the added container cannot be checked, and padding a write until that happens hides it",
    techniques: ["T1609"],
    references: [DOCS.auditing],
    falsePositives: "very large pod specs that cross the API server's audit size limit by accident",
    runbook:
      "Read the pod's ephemeral containers from the API server (kubectl get pod -o yaml) and act on what they hold",
    evaluate: (facts) =>
      facts.bodyTruncated
        ? [
            {
              text: "kube-apiserver dropped the request and response bodies (audit.k8s.io/truncated: the event was over its size limit): the added container cannot be checked, and padding a write (a huge env value or annotation) until its body is dropped is what hiding a privileged container looks like; scored on actor, target and outcome",
            },
          ]
        : NO_HITS,
  },
  {
    id: "body.not-logged",
    effect: "context",
    level: "info",
    why: "the audit level did not record the request body (Metadata): the finding is scored on actor, target and outcome only",
    techniques: ["T1609"],
    references: [DOCS.auditing, DOCS.eksControlPlaneLogs],
    falsePositives: "none: it only explains",
    runbook:
      "Read the pod's ephemeral containers from the API server (kubectl get pod -o yaml) to see what was added",
    evaluate: (facts) =>
      facts.bodyLogged || facts.bodyTruncated || facts.cut
        ? NO_HITS
        : [
            {
              text: "the request body was not logged (audit level Metadata): scored on actor, target and outcome only",
            },
          ],
  },
  {
    id: "body.containers-from",
    effect: "context",
    level: "info",
    why: "where the added containers were read from when the request body does not name them (a JSON Patch replacing /spec, say): the stored pod, or every container the event lists",
    techniques: ["T1609"],
    references: [DOCS.ephemeralContainers],
    falsePositives: "none: it only explains",
    runbook: "When old containers are included, the pod's ephemeral container statuses tell which one is new",
    evaluate: (facts) => {
      const from = facts.containersFrom;
      // A cut body that shows no container: body.cut-event says why.
      if (!from || (facts.cut && from.source === "unknown")) return NO_HITS;
      const why = from.because ? ` (${from.because})` : "";
      const count = facts.containers.length;
      switch (from.source) {
        case "stored-pod":
          return [
            {
              text: `the request body does not say which containers it adds${why}: they were read from the stored pod, whose ephemeral containers without a status yet are the ones this write made`,
            },
          ];
        case "all-listed":
          return [
            {
              text: from.because
                ? `the request body does not say which containers it adds${why}, and the stored pod cannot tell: all ${count} ephemeral containers the event shows are reported, old ones included`
                : `the event does not show which of the ${count} ephemeral containers it lists are new (the pod's container statuses were not logged, or name them all): all are reported, old ones included`,
            },
          ];
        case "unknown":
          return [
            {
              text: `the request body does not say which containers it adds${why}, and no pod was logged to read them from: the added containers are unknown`,
            },
          ];
      }
    },
  },
  {
    id: "container.debug-profile",
    effect: "context",
    level: "info",
    why: "the kubectl debug profile each container matches, or none for a hand-crafted request",
    techniques: ["T1609"],
    references: [DOCS.kubectlDebug, DOCS.debugRunningPod],
    falsePositives: "none: it only explains",
    runbook:
      "A hand-crafted container (profile none) from someone who normally uses kubectl debug deserves a question",
    evaluate: (facts) =>
      withUnlisted(
        facts.containers.slice(0, MAX_LISTED_HITS_PER_RULE).map((c) => ({
          // kubectl's markers may lie beyond the cut of a cut event: "none" there means "cannot be told".
          text:
            facts.cut && c.profile === "none"
              ? `container "${c.spec.name}": which kubectl debug profile made it cannot be told from the part before the cut`
              : `container "${c.spec.name}": ${describeProfile(c.profile)}`,
          container: c.spec.name,
        })),
        Math.max(0, facts.containers.length - MAX_LISTED_HITS_PER_RULE),
        "containers",
      ),
  },
  {
    id: "podsecurity.audit-violations",
    effect: "context",
    level: "info",
    why: "what Pod Security admission's audit mode said the pod would violate",
    techniques: ["T1609"],
    references: [DOCS.podSecurityAdmission],
    falsePositives: "none: it only explains",
    runbook: "Compare with the namespace's enforce level: a violation that was only audited was allowed",
    evaluate: (facts) =>
      facts.podSecurityAuditViolations
        ? [{ text: `Pod Security audit: ${facts.podSecurityAuditViolations}` }]
        : NO_HITS,
  },
];
