import type { Acquired } from "../adapters/aws/deletion-rate-limit.ts";
import type { ClusterInfo } from "../adapters/aws/eks-cluster-info.ts";
import type { DeleteRequest, GetPodResult } from "../adapters/kubernetes/kubernetes-pods.ts";
import type { Finding } from "../core/finding.ts";
import {
  type DeleteResult,
  type FailureReason,
  viewDeleteResult,
} from "../core/remediation/delete-result.ts";
import {
  addedContainerNames,
  checkFinding,
  checkTarget,
  clusterOf,
  type SkipReason,
  type TargetPod,
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
  describeCluster(name: string): Promise<ClusterInfo>;
  podsFor(cluster: ClusterInfo): PodsApi;
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
  target?: TargetPod | undefined;
}

function outcome(finding: Finding, deps: RemediationDeps, cluster: string | undefined, report: Report) {
  // What we learnt about the pod (a GET) wins over what the audit event said.
  const uid = report.target?.uid || finding.pod.uid;
  const owner = report.target?.owner ?? finding.pod.owner;
  const message: RemediationOutcome = {
    schemaVersion: REMEDIATION_SCHEMA_VERSION,
    kind: "remediation",
    auditID: finding.auditID,
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
  if (report.reason !== undefined) message.reason = report.reason;
  return message;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

type Resolution = { ok: true; target: TargetPod } | { ok: false; report: Report };

/**
 * The pod that received the container. With the response body in the audit event the finding carries its
 * uid and owner; without it (Metadata-level audit), a GET must show the added container before we trust it.
 */
async function resolveTarget(finding: Finding, pods: PodsApi, cluster: string): Promise<Resolution> {
  // An empty uid would make the precondition vacuous: treat it as unknown.
  if (finding.pod.uid !== undefined && finding.pod.uid !== "") {
    return {
      ok: true,
      target: { uid: finding.pod.uid, owner: finding.pod.owner, static: finding.pod.static === true },
    };
  }
  const ref = `${finding.pod.namespace}/${finding.pod.name}`;
  const names = addedContainerNames(finding);
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
  const missing = names.filter((name) => !live.pod.ephemeralContainerNames.includes(name));
  if (names.length === 0 || missing.length > 0) {
    return {
      ok: false,
      report: {
        result: "skipped",
        reason: "container-not-found",
        detail:
          names.length === 0
            ? `Needs a human: the audit event did not record which container was added to ${ref}, so the live pod cannot be confirmed as the one tampered with.`
            : `Needs a human: ${ref} (uid ${live.pod.uid}) has no ephemeral container ${missing.join(", ")}: it is not the pod that received it.`,
        target: live.pod,
      },
    };
  }
  if (live.pod.uid === "") {
    return {
      ok: false,
      report: {
        result: "failed",
        reason: "api-error",
        detail: `The API server returned ${ref} without a uid, so it cannot be deleted safely: a human must check it.`,
      },
    };
  }
  if (live.pod.beingDeleted) {
    return {
      ok: false,
      report: {
        result: "skipped",
        reason: "already-gone",
        detail: `${ref} is already being deleted.`,
        target: live.pod,
      },
    };
  }
  return { ok: true, target: live.pod };
}

/**
 * Decides and (unless dry-run) acts on one finding. Never throws: every path ends in an outcome to publish,
 * and every doubt ends in "skipped" or "failed", never in a deletion.
 */
export async function remediateFinding(finding: Finding, deps: RemediationDeps): Promise<RemediationOutcome> {
  const { policy } = deps;
  const cluster = clusterOf(finding);
  const report = (value: Report) => outcome(finding, deps, cluster, value);

  const verdict = checkFinding({ finding, cluster, policy });
  if (verdict.action === "skip")
    return report({ result: "skipped", reason: verdict.reason, detail: verdict.detail });
  if (cluster === undefined) throw new Error("unreachable: checkFinding skips findings without a cluster");

  const ref = `${finding.pod.namespace}/${finding.pod.name}`;
  let info: ClusterInfo;
  try {
    info = await deps.describeCluster(cluster);
  } catch (error) {
    return report({
      result: "failed",
      reason: "cluster-unreachable",
      detail: `Could not look up cluster ${cluster} (${errorText(error)}): nothing was deleted; a human must delete ${ref}.`,
    });
  }
  const pods = deps.podsFor(info);
  const dryRun = policy.mode === "dry-run";

  const resolved = await resolveTarget(finding, pods, cluster);
  if (!resolved.ok) return report(resolved.report);
  const { target } = resolved;

  const targetVerdict = checkTarget({ finding, target, policy });
  if (targetVerdict.action === "skip") {
    return report({ result: "skipped", reason: targetVerdict.reason, detail: targetVerdict.detail, target });
  }

  let slot: Acquired;
  try {
    slot = await deps.rateLimit.acquire(cluster, dryRun);
  } catch (error) {
    return report({
      result: "failed",
      reason: "internal-error",
      detail: `The deletion rate limit could not be checked (${errorText(error)}), so nothing was deleted: a human must delete ${ref}.`,
      target,
    });
  }
  if (!slot.granted) {
    return report({
      result: "skipped",
      reason: "rate-limited",
      detail: `Needs a human: ${slot.limit} pods were already ${dryRun ? "approved in dry run" : "deleted"} on ${cluster} in this window (until ${slot.windowEndsAt}); ${ref} was left running.`,
      target,
    });
  }

  const deleted = await pods.deletePod({
    namespace: finding.pod.namespace,
    name: finding.pod.name,
    uid: target.uid,
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
    uid: target.uid,
    dryRun,
    cluster,
    gracePeriodSeconds: policy.gracePeriodSeconds,
  });
  return report({ ...view, target });
}
