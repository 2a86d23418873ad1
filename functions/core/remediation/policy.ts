import * as z from "zod";
import { DEFAULT_PROTECTED_NAMESPACES } from "../detection-config.ts";
import { SeveritySchema } from "../severity.ts";

export const RemediationModeSchema = z.enum(["off", "dry-run", "enforce"]);
export type RemediationMode = z.infer<typeof RemediationModeSchema>;

/** Controllers that recreate a pod after it is deleted, so deleting it costs a restart, not an outage. */
export const DEFAULT_RECREATING_CONTROLLERS = ["ReplicaSet", "StatefulSet", "DaemonSet", "Job"] as const;

const patternList = z.array(z.string().min(1));

/**
 * Everything the guard-rails are told. The Lambda builds it from its environment (remediate-environment.ts);
 * the pure decision code only ever sees this.
 */
export const RemediationPolicySchema = z.strictObject({
  mode: RemediationModeSchema.default("off"),
  /** Findings below this severity are never acted on (the subscription filter should already drop them). */
  severityThreshold: SeveritySchema.default("critical"),
  /** Clusters with an access entry for the remediate role. Empty means any cluster. */
  clusters: patternList.default([]),
  /** Pods here are never deleted automatically: the outcome asks a human to act. Globs with `*`. */
  protectedNamespaces: patternList.default([...DEFAULT_PROTECTED_NAMESPACES]),
  /** Pods with no controller to recreate them are spared unless this is true. Mirror pods are always spared. */
  allowBarePods: z.boolean().default(false),
  /** Owner kinds trusted to recreate a deleted pod. Pods controlled by anything else are spared. */
  recreatingControllers: patternList.min(1).default([...DEFAULT_RECREATING_CONTROLLERS]),
  /** Break-glass identities (globs): whatever they do, the automation stands aside. */
  breakGlassUsers: patternList.default([]),
  breakGlassGroups: patternList.default([]),
  /** At most this many deletions per cluster per window, shared by all concurrent invocations. */
  rateLimit: z.number().int().min(1).default(3),
  rateWindowSeconds: z.number().int().min(1).default(600),
  /**
   * Seconds the containers get to stop. At least 1: 0 makes the API server forget the pod at once while its
   * containers may still run on the node (and a StatefulSet could start a second copy).
   */
  gracePeriodSeconds: z.number().int().min(1).max(3600).default(10),
});
export type RemediationPolicy = z.infer<typeof RemediationPolicySchema>;
export type RemediationPolicyInput = z.input<typeof RemediationPolicySchema>;

export function remediationPolicy(input: RemediationPolicyInput = {}): RemediationPolicy {
  return RemediationPolicySchema.parse(input);
}
