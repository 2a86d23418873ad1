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
import { MAX_LISTED_HITS_PER_RULE, quotedList, withUnlisted } from "./rule-hits.ts";
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

export interface Rule {
  id: string;
  effect: RuleEffect;
  /** For floor and ceiling: the level. For the other effects it is only the reason's label. */
  level: Severity;
  /** A lower rule never takes a finding below the level of a pinned floor. */
  pinned?: boolean;
  evaluate(facts: WriteFacts, config: DetectionConfig): readonly RuleHit[];
}

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

function count(value: number): string {
  return value.toLocaleString("en-US");
}

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
    id: "write.ephemeral-container",
    effect: "floor",
    level: "low",
    evaluate: (facts) => {
      const names = quotedList(
        facts.containers.map((c) => c.spec.name),
        MAX_LISTED_HITS_PER_RULE,
        (name) => `"${name}"`,
      );
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
    evaluate: mountRule("service-account-token"),
  },
  { id: "reach.secret-volume", effect: "floor", level: "high", evaluate: mountRule("secret") },
  { id: "reach.host-path-volume", effect: "floor", level: "high", evaluate: mountRule("host-path") },
  { id: "reach.unknown-volume", effect: "floor", level: "medium", evaluate: mountRule("unknown") },
  {
    id: "reach.secret-env",
    effect: "floor",
    level: "high",
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
    evaluate: (facts, config) =>
      matchesAny(facts.namespace, config.protectedNamespaces)
        ? [{ text: `pod ${facts.namespace}/${facts.podName} is in protected namespace "${facts.namespace}"` }]
        : NO_HITS,
  },
  {
    id: "actor.anonymous",
    effect: "floor",
    level: "critical",
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
    evaluate: (facts) =>
      facts.podSecurityAuditViolations
        ? [{ text: `Pod Security audit: ${facts.podSecurityAuditViolations}` }]
        : NO_HITS,
  },
];
