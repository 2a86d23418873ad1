import type { RemediationResult } from "../remediation-outcome.ts";
import type { SkipReason } from "./guard-rails.ts";

/** What the Kubernetes API said to a DELETE with a uid precondition, after retries. */
export type DeleteResult =
  | { kind: "accepted" }
  /** `afterUncertainAttempt`: an earlier attempt went unanswered, so it may have been our delete that landed. */
  | { kind: "replaced"; message: string; afterUncertainAttempt?: boolean }
  | { kind: "gone"; afterUncertainAttempt?: boolean }
  | { kind: "unauthenticated"; message: string }
  | { kind: "forbidden"; message: string }
  | { kind: "error"; message: string };

export type DeleteKind = DeleteResult["kind"];

export interface ResultView {
  result: RemediationResult;
  reason: SkipReason | FailureReason | undefined;
  detail: string;
}

export const FAILURE_REASONS = [
  "unauthenticated",
  "forbidden",
  "api-error",
  "cluster-unreachable",
  "internal-error",
  "idempotency-unavailable",
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

interface ViewInput {
  pod: string;
  uid: string;
  dryRun: boolean;
  cluster: string;
  gracePeriodSeconds: number;
}

/** How each API answer is reported; the 401/403 texts point at the one thing an operator must fix. */
const VIEWS: {
  [K in DeleteKind]: (result: Extract<DeleteResult, { kind: K }>, input: ViewInput) => ResultView;
} = {
  accepted: (_, { pod, uid, dryRun, gracePeriodSeconds }) =>
    dryRun
      ? {
          result: "would-delete",
          reason: undefined,
          detail: `Dry run: the API server accepted deleting ${pod} (uid ${uid}); nothing was changed. Set the mode to enforce to act.`,
        }
      : {
          result: "deleted",
          reason: undefined,
          detail: `Deleted ${pod} (uid ${uid}) with a ${gracePeriodSeconds}s grace period; its controller will start a clean replacement.`,
        },
  replaced: (result, { pod, uid }) => ({
    result: "skipped",
    reason: "pod-replaced",
    detail: `${pod} is no longer the pod that received the container (uid ${uid}): it was already replaced, so nothing was deleted. ${result.message}`,
  }),
  gone: (_, { pod }) => ({
    result: "skipped",
    reason: "already-gone",
    detail: `${pod} was already gone: nothing to delete.`,
  }),
  unauthenticated: (result, { cluster }) => ({
    result: "failed",
    reason: "unauthenticated",
    detail: `The API server of ${cluster} rejected the remediate role's token (401): check the EKS access entry for the role (cluster authentication mode API or API_AND_CONFIG_MAP) or its aws-auth mapRoles entry. ${result.message}`,
  }),
  forbidden: (result, { cluster }) => ({
    result: "failed",
    reason: "forbidden",
    detail: `RBAC on ${cluster} does not let group ephemeral-guard-remediator delete pods (403): apply infra/k8s/remediator-rbac.yaml and check the access entry's Kubernetes groups. ${result.message}`,
  }),
  error: (result, { pod }) => ({
    result: "failed",
    reason: "api-error",
    detail: `Could not delete ${pod} (transient errors were retried): ${result.message}. A human must delete it.`,
  }),
};

export function viewDeleteResult(result: DeleteResult, input: ViewInput): ResultView {
  const view = VIEWS[result.kind] as (result: DeleteResult, input: ViewInput) => ResultView;
  return view(result, input);
}
