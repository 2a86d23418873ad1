import * as z from "zod";

/**
 * Which EKS clusters the coverage function watches: every cluster of the region when `clusters` is empty, only
 * the listed ones otherwise, minus `excludedClusters`. Names are exact (no globs), so a typo cannot silently
 * widen or narrow the scope; the packaging (infra/log-subscriptions.cjs) checks them the same way.
 */

/** EKS cluster names: 1-100 characters, alphanumeric first, then alphanumerics, hyphens and underscores. */
export const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/;

export const ClusterNameSchema = z.string().regex(CLUSTER_NAME, "is not an EKS cluster name");

export const ClusterScopeSchema = z
  .object({
    /** Empty: every cluster in the region. */
    clusters: z.array(ClusterNameSchema).default([]),
    excludedClusters: z.array(ClusterNameSchema).default([]),
  })
  .superRefine((scope, context) => {
    const both = scope.clusters.filter((name) => scope.excludedClusters.includes(name));
    if (both.length > 0) {
      context.addIssue({
        code: "custom",
        path: ["excludedClusters"],
        message: `${both.join(", ")} listed in both clusters and excludedClusters`,
      });
    }
  });
export type ClusterScope = z.output<typeof ClusterScopeSchema>;

export function clusterScope(input: z.input<typeof ClusterScopeSchema> = {}): ClusterScope {
  return ClusterScopeSchema.parse(input);
}

/** Whether coverage watches `cluster`. */
export function inScope(scope: ClusterScope, cluster: string): boolean {
  if (scope.excludedClusters.includes(cluster)) return false;
  return scope.clusters.length === 0 || scope.clusters.includes(cluster);
}

/** The clusters a run checks: those in scope that exist, plus listed ones that do not (to say they are missing). */
export function clustersToCheck(scope: ClusterScope, existing: readonly string[]): string[] {
  const found = existing.filter((name) => inScope(scope, name));
  const listedButMissing = scope.clusters.filter((name) => inScope(scope, name) && !existing.includes(name));
  return [...new Set([...found, ...listedButMissing])].sort();
}

/** `/aws/eks/<cluster>/cluster`: where EKS sends a cluster's control-plane logs. */
export function clusterLogGroup(cluster: string): string {
  return `/aws/eks/${cluster}/cluster`;
}

const LOG_GROUP = /^\/aws\/eks\/([^/]+)\/cluster$/;

/** The cluster whose control-plane log group `logGroup` is, or undefined for any other log group. */
export function clusterOfLogGroup(logGroup: string): string | undefined {
  const name = LOG_GROUP.exec(logGroup)?.[1];
  return name !== undefined && CLUSTER_NAME.test(name) ? name : undefined;
}
