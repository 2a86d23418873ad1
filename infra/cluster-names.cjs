// Shared by the per-cluster resource generators (log-subscriptions.cjs, remediate-clusters.cjs): how the
// `clusters` and `excludedClusters` parameters are read and how a cluster name becomes part of a
// CloudFormation logical id. The coverage function reads the same parameters with the same rules
// (functions/core/cluster-coverage/cluster-scope.ts), so a list that packages is a list the function accepts.
"use strict";

/** EKS cluster names: 1-100 characters, alphanumeric first, then alphanumerics, hyphens and underscores. */
const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/;

/** `clusters` as given: a comma-separated string or a YAML list; blanks and repeats dropped. */
function clusterList(value) {
  const items = Array.isArray(value) ? value : String(value ?? "").split(",");
  return [...new Set(items.map((item) => String(item).trim()).filter((item) => item !== ""))];
}

/**
 * The watched scope: `clusters` (empty: every cluster of the region) minus `excludedClusters`. Throws on a
 * name EKS would not accept and on a name in both lists, so a typo fails the packaging instead of silently
 * watching something else.
 */
function clusterScope(clustersValue, excludedValue) {
  const clusters = clusterList(clustersValue);
  const excluded = clusterList(excludedValue);
  for (const [parameter, names] of [
    ["clusters", clusters],
    ["excludedClusters", excluded],
  ]) {
    for (const name of names) {
      if (!CLUSTER_NAME.test(name)) throw new Error(`${parameter}: "${name}" is not an EKS cluster name`);
    }
  }
  const both = clusters.filter((name) => excluded.includes(name));
  if (both.length > 0) {
    throw new Error(`${both.join(", ")} listed in both clusters and excludedClusters`);
  }
  return { clusters, excluded };
}

/** `prod-eu_1` → `ProdEu1`: logical ids allow only alphanumerics. */
function logicalName(cluster) {
  const words = cluster.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return words.map((word) => word[0].toUpperCase() + word.slice(1)).join("");
}

module.exports = { CLUSTER_NAME, clusterList, clusterScope, logicalName };
