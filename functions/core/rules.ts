import { anyMatchesAny, isKubectlUserAgent, matchesAny } from "./classify-identity.ts";
import type { DetectionConfig } from "./detection-config.ts";
import type { RuleEffect } from "./finding.ts";
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
  const as = facts.impersonatedUser ? ` (as ${facts.impersonatedUser.username})` : "";
  return `${facts.actor.username || "(no username)"}${as}`;
}

function isTrusted(identity: IdentityFacts, config: DetectionConfig): boolean {
  return (
    matchesAny(identity.username, config.trustedDebuggers.users) ||
    anyMatchesAny(identity.groups, config.trustedDebuggers.groups)
  );
}

function isRoot(container: ContainerFacts): boolean {
  return container.securityContext?.runAsUser === 0;
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
    evaluate: perContainer((c) =>
      c.securityContext?.windowsOptions?.hostProcess === true
        ? {
            field: "windowsOptions.hostProcess: true",
            detail:
              "sets securityContext.windowsOptions.hostProcess: true (violates Pod Security Baseline): runs as a process on the Windows node",
          }
        : undefined,
    ),
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
    evaluate: perContainer((c) =>
      c.securityContext?.seccompProfile?.type === "Unconfined"
        ? {
            field: "seccompProfile.type: Unconfined",
            detail:
              "sets securityContext.seccompProfile.type: Unconfined (violates Pod Security Baseline): no syscall filtering",
          }
        : undefined,
    ),
  },
  {
    id: "container.apparmor-unconfined",
    effect: "floor",
    level: "high",
    evaluate: perContainer((c) =>
      c.securityContext?.appArmorProfile?.type === "Unconfined"
        ? {
            field: "appArmorProfile.type: Unconfined",
            detail: "sets securityContext.appArmorProfile.type: Unconfined (violates Pod Security Baseline)",
          }
        : undefined,
    ),
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
      const options = c.securityContext?.seLinuxOptions;
      if (!options) return undefined;
      const custom = [
        options.type !== undefined && !BASELINE_SELINUX_TYPES.has(options.type)
          ? `type ${options.type}`
          : undefined,
        options.user !== undefined && options.user !== "" ? `user ${options.user}` : undefined,
        options.role !== undefined && options.role !== "" ? `role ${options.role}` : undefined,
      ].filter((part): part is string => part !== undefined);
      return custom.length > 0
        ? {
            field: `seLinuxOptions: ${custom.join(", ")}`,
            detail: `sets a custom SELinux ${custom.join(", ")} in securityContext.seLinuxOptions (violates Pod Security Baseline)`,
          }
        : undefined;
    }),
  },
  {
    id: "container.run-as-root",
    effect: "floor",
    level: "medium",
    evaluate: perContainer((c) =>
      isRoot(c)
        ? {
            field: "runAsUser: 0",
            detail: "sets securityContext.runAsUser: 0 (violates Pod Security Restricted): runs as root",
          }
        : undefined,
    ),
  },
  {
    id: "container.run-as-non-root-false",
    effect: "floor",
    level: "medium",
    evaluate: perContainer((c) =>
      c.securityContext?.runAsNonRoot === false
        ? {
            field: "runAsNonRoot: false",
            detail:
              "sets securityContext.runAsNonRoot: false (violates Pod Security Restricted): may run as root",
          }
        : undefined,
    ),
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
      isKubectlUserAgent(facts.actor.userAgent)
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
    id: "body.not-logged",
    effect: "context",
    level: "info",
    evaluate: (facts) =>
      facts.bodyLogged
        ? NO_HITS
        : [
            {
              text: facts.bodyTruncated
                ? "the audit backend truncated the request body: scored on actor, target and outcome only"
                : "the request body was not logged (audit level Metadata): scored on actor, target and outcome only",
            },
          ],
  },
  {
    id: "container.debug-profile",
    effect: "context",
    level: "info",
    evaluate: (facts) =>
      withUnlisted(
        facts.containers.slice(0, MAX_LISTED_HITS_PER_RULE).map((c) => ({
          text: `container "${c.spec.name}": ${describeProfile(c.profile)}`,
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
