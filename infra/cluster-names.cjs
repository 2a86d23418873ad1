// Shared by the per-cluster resource generators (log-subscriptions.cjs, remediate-clusters.cjs): how the
// `clusters` parameter is read and how a cluster name becomes part of a CloudFormation logical id.
"use strict";

/** EKS cluster names: 1-100 characters, alphanumeric first, then alphanumerics, hyphens and underscores. */
const CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/;

/** `clusters` as given: a comma-separated string or a YAML list; blanks and repeats dropped. */
function clusterList(value) {
  const items = Array.isArray(value) ? value : String(value ?? "").split(",");
  return [...new Set(items.map((item) => String(item).trim()).filter((item) => item !== ""))];
}

/** `prod-eu_1` → `ProdEu1`: logical ids allow only alphanumerics. */
function logicalName(cluster) {
  const words = cluster.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return words.map((word) => word[0].toUpperCase() + word.slice(1)).join("");
}

module.exports = { CLUSTER_NAME, clusterList, logicalName };
