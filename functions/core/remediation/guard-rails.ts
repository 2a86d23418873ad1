import { matchesAny } from "../classify-identity.ts";
import type { Finding, Owner } from "../finding.ts";
import { isAtLeast } from "../severity.ts";
import type { Placement } from "./cluster-placement.ts";
import type { RemediationPolicy } from "./policy.ts";

/** Why the automation left a pod alone. Stable identifiers: they go into outcomes and metrics. */
export const SKIP_REASONS = [
  "not-created",
  "below-threshold",
  "unknown-cluster",
  "account-not-configured",
  "cluster-not-configured",
  "protected-namespace",
  "break-glass-actor",
  "uid-mismatch",
  "container-not-found",
  "container-mismatch",
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
  /** Where the cluster is (cluster-placement.ts); absent means the function's own account and region. */
  placement?: Placement;
  /** Whether remediate may assume the member role of another account or region (its MEMBER_ROLE_* settings). */
  reachesMembers?: boolean;
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
    // Acting on a cluster the finding does not name unambiguously could reach the wrong one.
    reason: "unknown-cluster",
    blocks: ({ placement }) => placement?.kind === "inconsistent",
    detail: ({ finding, placement }) =>
      `The finding does not say unambiguously which cluster it is about (${placement?.kind === "inconsistent" ? placement.detail : ""}): a human must delete ${podRef(finding)} if needed.`,
  },
  {
    reason: "account-not-configured",
    blocks: ({ placement, reachesMembers }) => placement?.kind === "remote" && reachesMembers !== true,
    detail: ({ finding, placement }) =>
      `Cluster ${placement?.kind === "remote" ? placement.arn : ""} is in another account or region, and remediate is not configured to reach one (memberRemediationRoleName): a human must delete ${podRef(finding)} if needed.`,
  },
  {
    // An organization's central stack may remediate member clusters only (no clusters of its own listed, so no
    // access entry here): a finding about one of its own clusters is for a human, said as such rather than
    // met as an unreachable cluster.
    reason: "cluster-not-configured",
    blocks: ({ cluster, policy, placement, reachesMembers }) =>
      placement?.kind !== "remote" &&
      cluster !== undefined &&
      policy.clusters.length === 0 &&
      reachesMembers === true,
    detail: ({ cluster, finding }) =>
      `Cluster ${cluster} is in remediate's own account, which remediates member accounts' clusters only (no clusters listed, no access entry): a human must delete ${podRef(finding)} if needed.`,
  },
  {
    // The list names the clusters of remediate's own account; a member's clusters are the ones its member
    // stack gives the member role access to.
    reason: "cluster-not-configured",
    blocks: ({ cluster, policy, placement }) =>
      placement?.kind !== "remote" &&
      cluster !== undefined &&
      policy.clusters.length > 0 &&
      !matchesAny(cluster, policy.clusters),
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

/** An ephemeral container as the live pod's spec holds it. */
export interface LiveEphemeralContainer {
  name: string;
  image: string | undefined;
  targetContainerName: string | undefined;
}

/**
 * The pod as the API server holds it when remediation reads it. Remediation decides from this alone: the
 * finding's uid, owner and static flag come from a message anyone allowed to publish to the topic could
 * have written, so they are never used to justify a deletion.
 */
export interface LivePod {
  uid: string;
  /** The controlling owner reference, if any. */
  owner: Owner | undefined;
  /** A mirror pod of a static manifest (annotation `kubernetes.io/config.mirror`, or owned by a Node). */
  static: boolean;
  /** A deletionTimestamp is set: the pod is already on its way out. */
  beingDeleted: boolean;
  ephemeralContainers: LiveEphemeralContainer[];
}

export interface PodContext {
  finding: Finding;
  pod: LivePod;
  policy: RemediationPolicy;
}

function controller(pod: LivePod): Owner | undefined {
  return pod.owner !== undefined && pod.owner.controller !== false ? pod.owner : undefined;
}

/** Attacker-written strings (images, names) quoted for a detail line: JSON-escaped and bounded. */
function quoted(value: string | undefined): string {
  if (value === undefined) return "(none)";
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}…"` : text;
}

/**
 * Whether the live image is the one the finding names. Equal strings, or the stated image pinned to a digest
 * (`busybox:1.36` → `busybox:1.36@sha256:…`), which is what image-verifying admission webhooks write into the
 * spec; anything else is another image.
 */
export function sameImage(stated: string | undefined, live: string | undefined): boolean {
  if (stated === live) return true;
  if (stated === undefined || live === undefined || stated.includes("@")) return false;
  return live.startsWith(stated) && /^@sha256:[0-9a-f]{64}$/.test(live.slice(stated.length));
}

/** How one container the finding names differs from the live pod's spec. */
export type ContainerProblem =
  | { name: string; problem: "missing" }
  | {
      name: string;
      problem: "different";
      stated: { image: string | undefined; target: string | undefined };
      live: { image: string | undefined; target: string | undefined };
    };

/**
 * Every container the finding says was added must be in the live spec under the same name, with the same
 * image and the same target container. A finding that names none cannot be matched at all.
 */
export function containerProblems(finding: Finding, pod: LivePod): ContainerProblem[] {
  const problems: ContainerProblem[] = [];
  for (const stated of finding.containers) {
    const live = pod.ephemeralContainers.find((container) => container.name === stated.name);
    if (live === undefined) {
      problems.push({ name: stated.name, problem: "missing" });
    } else if (
      !sameImage(stated.image, live.image) ||
      stated.targetContainerName !== live.targetContainerName
    ) {
      problems.push({
        name: stated.name,
        problem: "different",
        stated: { image: stated.image, target: stated.targetContainerName },
        live: { image: live.image, target: live.targetContainerName },
      });
    }
  }
  return problems;
}

function missingContainers({ finding, pod }: PodContext): string[] {
  return containerProblems(finding, pod)
    .filter((problem) => problem.problem === "missing")
    .map((problem) => problem.name);
}

function differentContainers({ finding, pod }: PodContext) {
  return containerProblems(finding, pod).filter((problem) => problem.problem === "different");
}

/** What a human should look at when the live pod contradicts the finding. */
const CONTRADICTION =
  "Check the pod; if it matches what the audit log recorded, someone published a finding that does not (check who can publish to the alerts topic)";

/**
 * Checks on the live pod, in order: is it the pod the finding is about (uid, containers), and would deleting
 * it be undone by a controller rather than cause an outage or do nothing (static pods).
 */
export const POD_RULES: readonly Rule<PodContext>[] = [
  {
    reason: "already-gone",
    blocks: ({ pod }) => pod.beingDeleted,
    detail: ({ finding, pod }) => `${podRef(finding)} (uid ${pod.uid}) is already being deleted.`,
  },
  {
    reason: "uid-mismatch",
    // Only ever a reason to refuse: a finding without a uid (Metadata-level audit) is matched by its containers.
    blocks: ({ finding, pod }) =>
      finding.pod.uid !== undefined && finding.pod.uid !== "" && finding.pod.uid !== pod.uid,
    detail: ({ finding, pod }) =>
      `${podRef(finding)} is now uid ${pod.uid}, not uid ${quoted(finding.pod.uid)} named in the finding: it is not the pod that received the container (most likely that one was already replaced), so it was left alone. If it has an ephemeral container of its own, a human must check it.`,
  },
  {
    reason: "static-pod",
    blocks: ({ pod }) => pod.static || pod.owner?.kind === "Node",
    detail: ({ finding }) =>
      `Needs a human: ${podRef(finding)} is a mirror of a static pod; deleting it through the API does not stop it. Remove the manifest on the node.`,
  },
  {
    reason: "container-not-found",
    blocks: (context) => context.finding.containers.length === 0 || missingContainers(context).length > 0,
    detail: (context) =>
      context.finding.containers.length === 0
        ? `Needs a human: the audit event did not record which container was added to ${podRef(context.finding)}, so the live pod cannot be confirmed as the one tampered with.`
        : `Needs a human: ${podRef(context.finding)} (uid ${context.pod.uid}) has no ephemeral container ${missingContainers(context).map(quoted).join(", ")}, so it is not the pod the finding describes and was left alone. ${CONTRADICTION}.`,
  },
  {
    reason: "container-mismatch",
    blocks: (context) => differentContainers(context).length > 0,
    detail: (context) => {
      const lines = differentContainers(context).map(
        ({ name, stated, live }) =>
          `${quoted(name)} runs image ${quoted(live.image)} targeting ${quoted(live.target)}, but the finding says image ${quoted(stated.image)} targeting ${quoted(stated.target)}`,
      );
      return `Needs a human: in ${podRef(context.finding)} (uid ${context.pod.uid}) ephemeral container ${lines.join("; ")}. The finding does not describe this pod, so it was left alone (an admission webhook that rewrites images also causes this). ${CONTRADICTION}.`;
    },
  },
  {
    reason: "bare-pod",
    blocks: ({ pod, policy }) => controller(pod) === undefined && !policy.allowBarePods,
    detail: ({ finding }) =>
      `Needs a human: ${podRef(finding)} has no controller to recreate it, and bare pods are not allowed to be deleted automatically.`,
  },
  {
    reason: "unrecognised-controller",
    blocks: ({ pod, policy }) => {
      const owner = controller(pod);
      return owner !== undefined && !policy.recreatingControllers.includes(owner.kind);
    },
    detail: ({ finding, pod, policy }) =>
      `Needs a human: ${podRef(finding)} is controlled by ${pod.owner?.kind}/${pod.owner?.name}, not one of ${policy.recreatingControllers.join(", ")}.`,
  },
];

function firstBlocking<C>(rules: readonly Rule<C>[], context: C): Verdict {
  const rule = rules.find((candidate) => candidate.blocks(context));
  return rule === undefined ? PROCEED : { action: "skip", reason: rule.reason, detail: rule.detail(context) };
}

export function checkFinding(context: FindingContext): Verdict {
  return firstBlocking(FINDING_RULES, context);
}

/** The live pod against the finding and the policy; only a pod that passes every rule may be deleted. */
export function checkPod(context: PodContext): Verdict {
  return firstBlocking(POD_RULES, context);
}

/** `/aws/eks/<cluster>/cluster` → `<cluster>`. */
const EKS_LOG_GROUP = /^\/aws\/eks\/([^/]+)\/cluster$/;

export function clusterOf(finding: Finding): string | undefined {
  if (finding.cluster) return finding.cluster;
  return finding.logGroup?.match(EKS_LOG_GROUP)?.[1];
}
