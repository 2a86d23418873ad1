import type { Acquired } from "../adapters/aws/deletion-rate-limit.ts";
import type { ClusterInfo } from "../adapters/aws/eks-cluster-info.ts";
import type { DeleteRequest, GetPodResult } from "../adapters/kubernetes/kubernetes-pods.ts";
import type { Finding } from "../core/finding.ts";
import { budgetKey, type Home, type Placement, placeCluster } from "../core/remediation/cluster-placement.ts";
import {
  type DeleteResult,
  type FailureReason,
  viewDeleteResult,
} from "../core/remediation/delete-result.ts";
import {
  checkFinding,
  checkPod,
  clusterOf,
  type LivePod,
  type SkipReason,
} from "../core/remediation/guard-rails.ts";
import type { RemediationPolicy } from "../core/remediation/policy.ts";
import {
  REMEDIATION_SCHEMA_VERSION,
  type RemediationOutcome,
  type RemediationResult,
} from "../core/remediation-outcome.ts";

export interface PodsApi {
  getPod(namespace: string, name: string): Promise<GetPodResult>;
  deletePod(request: DeleteRequest): Promise<DeleteResult>;
}

export interface RemediationDeps {
  policy: RemediationPolicy & { mode: "dry-run" | "enforce" };
  /** The function's own account and region; absent, every cluster is taken to be there. */
  home?: Home;
  /** Whether clusters of other accounts and regions can be reached (the member role is configured). */
  reachesMembers?: boolean;
  describeCluster(name: string, placement: Placement): Promise<ClusterInfo>;
  podsFor(cluster: ClusterInfo, placement: Placement): PodsApi;
  rateLimit: {
    acquire(cluster: string, dryRun: boolean): Promise<Acquired>;
    release(key: string): Promise<void>;
  };
  now: () => Date;
  /** Problems worth a log line that do not change the outcome (e.g. a slot that could not be released). */
  warn(message: string, context: Record<string, unknown>): void;
}

interface Report {
  result: RemediationResult;
  reason: SkipReason | FailureReason | undefined;
  detail: string;
  /** The live pod, once read: the only source of the uid and owner an outcome reports. */
  pod?: LivePod | undefined;
}

function outcome(
  finding: Finding,
  deps: Pick<RemediationDeps, "policy" | "now">,
  cluster: string | undefined,
  report: Report,
  placement?: Placement,
): RemediationOutcome {
  // Only what the API server said: the finding's uid and owner are claims, not facts.
  const uid = report.pod?.uid;
  const owner = report.pod?.owner;
  const message: RemediationOutcome = {
    schemaVersion: REMEDIATION_SCHEMA_VERSION,
    kind: "remediation",
    auditID: finding.auditID,
    ...(finding.occurrence !== undefined ? { occurrence: finding.occurrence } : {}),
    pod: {
      namespace: finding.pod.namespace,
      name: finding.pod.name,
      ...(uid ? { uid } : {}),
      ...(owner ? { owner } : {}),
    },
    mode: deps.policy.mode,
    result: report.result,
    detail: report.detail,
    time: deps.now().toISOString(),
  };
  if (cluster !== undefined) message.cluster = cluster;
  if (placement?.kind === "remote") {
    message.account = placement.account;
    message.region = placement.region;
  }
  if (report.reason !== undefined) message.reason = report.reason;
  return message;
}

/**
 * An outcome for a finding that was not acted on at all (its claim could not be made, or remediation crashed):
 * always `failed`, so a human looks at the pod.
 */
export function notRemediated(
  finding: Finding,
  deps: Pick<RemediationDeps, "policy" | "now">,
  reason: FailureReason,
  detail: string,
): RemediationOutcome {
  return outcome(finding, deps, clusterOf(finding), { result: "failed", reason, detail });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

type LiveRead = { ok: true; pod: LivePod } | { ok: false; report: Report };

/** The pod as the API server holds it now; everything after this decides from it alone. */
async function readLivePod(finding: Finding, pods: PodsApi, cluster: string): Promise<LiveRead> {
  const ref = `${finding.pod.namespace}/${finding.pod.name}`;
  const live = await pods.getPod(finding.pod.namespace, finding.pod.name);
  if (live.kind !== "found") {
    const view = viewDeleteResult(live, {
      pod: ref,
      uid: "unknown",
      dryRun: false,
      cluster,
      gracePeriodSeconds: 0,
    });
    return { ok: false, report: view };
  }
  if (live.pod.uid === "") {
    // An empty uid would make the delete precondition vacuous.
    return {
      ok: false,
      report: {
        result: "failed",
        reason: "api-error",
        detail: `The API server returned ${ref} without a uid, so it cannot be deleted safely: a human must check it.`,
      },
    };
  }
  return { ok: true, pod: live.pod };
}

/**
 * Decides and (unless dry-run) acts on one finding. Never throws: every path ends in an outcome to publish,
 * and every doubt ends in "skipped" or "failed", never in a deletion.
 */
export async function remediateFinding(finding: Finding, deps: RemediationDeps): Promise<RemediationOutcome> {
  const { policy } = deps;
  const cluster = clusterOf(finding);
  const placement: Placement =
    cluster === undefined || deps.home === undefined
      ? { kind: "home" }
      : placeCluster(finding, cluster, deps.home);
  const report = (value: Report) => outcome(finding, deps, cluster, value, placement);

  const verdict = checkFinding({
    finding,
    cluster,
    policy,
    placement,
    reachesMembers: deps.reachesMembers === true,
  });
  if (verdict.action === "skip")
    return report({ result: "skipped", reason: verdict.reason, detail: verdict.detail });
  if (cluster === undefined) throw new Error("unreachable: checkFinding skips findings without a cluster");

  const ref = `${finding.pod.namespace}/${finding.pod.name}`;
  const where = placement.kind === "remote" ? ` in account ${placement.account}, ${placement.region}` : "";
  let info: ClusterInfo;
  try {
    info = await deps.describeCluster(cluster, placement);
  } catch (error) {
    return report({
      result: "failed",
      reason: "cluster-unreachable",
      detail: `Could not look up cluster ${cluster}${where} (${errorText(error)}): nothing was deleted; a human must delete ${ref}.`,
    });
  }
  const pods = deps.podsFor(info, placement);
  const dryRun = policy.mode === "dry-run";

  const read = await readLivePod(finding, pods, cluster);
  if (!read.ok) return report(read.report);
  const { pod } = read;

  const podVerdict = checkPod({ finding, pod, policy });
  if (podVerdict.action === "skip") {
    return report({ result: "skipped", reason: podVerdict.reason, detail: podVerdict.detail, pod });
  }

  let slot: Acquired;
  try {
    slot = await deps.rateLimit.acquire(budgetKey(cluster, placement), dryRun);
  } catch (error) {
    return report({
      result: "failed",
      reason: "internal-error",
      detail: `The deletion rate limit could not be checked (${errorText(error)}), so nothing was deleted: a human must delete ${ref}.`,
      pod,
    });
  }
  if (!slot.granted) {
    return report({
      result: "skipped",
      reason: "rate-limited",
      detail: `Needs a human: ${slot.limit} pods were already ${dryRun ? "approved in dry run" : "deleted"} on ${cluster} in this window (until ${slot.windowEndsAt}); ${ref} was left running.`,
      pod,
    });
  }

  const deleted = await pods.deletePod({
    namespace: finding.pod.namespace,
    name: finding.pod.name,
    // The live uid: a replacement created since the GET answers 409 instead of being deleted.
    uid: pod.uid,
    gracePeriodSeconds: policy.gracePeriodSeconds,
    dryRun,
  });
  if (deleted.kind !== "accepted") {
    await deps.rateLimit.release(slot.key).catch((error: unknown) => {
      deps.warn("could not give back a rate-limit slot", { key: slot.key, error: errorText(error) });
    });
  }
  const view = viewDeleteResult(deleted, {
    pod: ref,
    uid: pod.uid,
    dryRun,
    cluster,
    gracePeriodSeconds: policy.gracePeriodSeconds,
  });
  return report({ ...view, pod });
}
