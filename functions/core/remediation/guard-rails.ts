import { matchesAny } from "../classify-identity.ts";
import type { Finding, Owner } from "../finding.ts";
import { isAtLeast } from "../severity.ts";
import type { RemediationPolicy } from "./policy.ts";

/** Why the automation left a pod alone. Stable identifiers: they go into outcomes and metrics. */
export const SKIP_REASONS = [
  "not-created",
  "below-threshold",
  "unknown-cluster",
  "cluster-not-configured",
  "protected-namespace",
  "break-glass-actor",
  "container-not-found",
  "static-pod",
  "bare-pod",
  "unrecognised-controller",
  "rate-limited",
  "pod-replaced",
  "already-gone",
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export type Verdict = { action: "proceed" } | { action: "skip"; reason: SkipReason; detail: string };

const PROCEED: Verdict = { action: "proceed" };

/** Everything the finding-level rules need: the finding, the policy and the cluster it came from. */
export interface FindingContext {
  finding: Finding;
  cluster: string | undefined;
  policy: RemediationPolicy;
}

interface Rule<C> {
  reason: SkipReason;
  /** True when the rule forbids acting. */
  blocks(context: C): boolean;
  detail(context: C): string;
}

function podRef(finding: Finding): string {
  return `${finding.pod.namespace}/${finding.pod.name}`;
}

function breakGlassMatch({ finding, policy }: FindingContext): string | undefined {
  const identities = [finding.actor, finding.actor.impersonatedUser].filter(
    (identity) => identity !== undefined,
  );
  for (const identity of identities) {
    if (matchesAny(identity.username, policy.breakGlassUsers)) return `user ${identity.username}`;
    const group = identity.groups.find((name) => matchesAny(name, policy.breakGlassGroups));
    if (group !== undefined) return `group ${group}`;
  }
  return undefined;
}

/**
 * Checks that need nothing but the finding, in order: the first that blocks decides. Cheap and local, so
 * they run before any call to AWS or the cluster.
 */
export const FINDING_RULES: readonly Rule<FindingContext>[] = [
  {
    reason: "not-created",
    blocks: ({ finding }) => finding.outcome !== "created",
    detail: ({ finding }) =>
      `The write was ${finding.outcome}: no ephemeral container was added, nothing to remove.`,
  },
  {
    reason: "below-threshold",
    blocks: ({ finding, policy }) => !isAtLeast(finding.severity, policy.severityThreshold),
    detail: ({ finding, policy }) =>
      `Severity ${finding.severity} is below the remediation threshold ${policy.severityThreshold}.`,
  },
  {
    reason: "unknown-cluster",
    blocks: ({ cluster }) => cluster === undefined,
    detail: ({ finding }) =>
      `The finding names no cluster (no /aws/eks/<cluster>/cluster log group): a human must delete ${podRef(finding)} if needed.`,
  },
  {
    reason: "cluster-not-configured",
    blocks: ({ cluster, policy }) =>
      cluster !== undefined && policy.clusters.length > 0 && !matchesAny(cluster, policy.clusters),
    detail: ({ cluster, finding }) =>
      `Cluster ${cluster} is not in the remediation cluster list (no access entry): a human must delete ${podRef(finding)} if needed.`,
  },
  {
    reason: "protected-namespace",
    blocks: ({ finding, policy }) => matchesAny(finding.pod.namespace, policy.protectedNamespaces),
    detail: ({ finding }) =>
      `Needs a human: ${finding.pod.namespace} is a protected namespace, so ${podRef(finding)} is never deleted automatically.`,
  },
  {
    reason: "break-glass-actor",
    blocks: (context) => breakGlassMatch(context) !== undefined,
    detail: (context) =>
      `The actor is on the break-glass list (${breakGlassMatch(context)}): ${podRef(context.finding)} left alone.`,
  },
];

/** What is known about the pod that received the container, from the audit event or a GET. */
export interface TargetPod {
  uid: string;
  /** The controlling owner reference, if any. */
  owner: Owner | undefined;
  /** A mirror pod of a static manifest (annotation `kubernetes.io/config.mirror`, or owned by a Node). */
  static: boolean;
}

export interface TargetContext {
  finding: Finding;
  target: TargetPod;
  policy: RemediationPolicy;
}

function controller(target: TargetPod): Owner | undefined {
  return target.owner !== undefined && target.owner.controller !== false ? target.owner : undefined;
}

/** Checks on the pod itself: would deleting it be undone by a controller, or is it something never to touch. */
export const TARGET_RULES: readonly Rule<TargetContext>[] = [
  {
    reason: "static-pod",
    blocks: ({ target }) => target.static || target.owner?.kind === "Node",
    detail: ({ finding }) =>
      `Needs a human: ${podRef(finding)} is a mirror of a static pod; deleting it through the API does not stop it. Remove the manifest on the node.`,
  },
  {
    reason: "bare-pod",
    blocks: ({ target, policy }) => controller(target) === undefined && !policy.allowBarePods,
    detail: ({ finding }) =>
      `Needs a human: ${podRef(finding)} has no controller to recreate it, and bare pods are not allowed to be deleted automatically.`,
  },
  {
    reason: "unrecognised-controller",
    blocks: ({ target, policy }) => {
      const owner = controller(target);
      return owner !== undefined && !policy.recreatingControllers.includes(owner.kind);
    },
    detail: ({ finding, target, policy }) =>
      `Needs a human: ${podRef(finding)} is controlled by ${target.owner?.kind}/${target.owner?.name}, not one of ${policy.recreatingControllers.join(", ")}.`,
  },
];

function firstBlocking<C>(rules: readonly Rule<C>[], context: C): Verdict {
  const rule = rules.find((candidate) => candidate.blocks(context));
  return rule === undefined ? PROCEED : { action: "skip", reason: rule.reason, detail: rule.detail(context) };
}

export function checkFinding(context: FindingContext): Verdict {
  return firstBlocking(FINDING_RULES, context);
}

export function checkTarget(context: TargetContext): Verdict {
  return firstBlocking(TARGET_RULES, context);
}

/** `/aws/eks/<cluster>/cluster` → `<cluster>`. */
const EKS_LOG_GROUP = /^\/aws\/eks\/([^/]+)\/cluster$/;

export function clusterOf(finding: Finding): string | undefined {
  if (finding.cluster) return finding.cluster;
  return finding.logGroup?.match(EKS_LOG_GROUP)?.[1];
}

/** The container names the finding says were added: a GET must find them in the live pod before we act. */
export function addedContainerNames(finding: Finding): string[] {
  return finding.containers.map((container) => container.name);
}
