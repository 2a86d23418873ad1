// remediate's per-cluster resources, generated because YAML cannot iterate over the `clusters` parameter:
// - eks:DescribeCluster on exactly those clusters (endpoint and CA, to reach the API server);
// - an EKS access entry per cluster mapping the remediate role to the Kubernetes group
//   `ephemeral-guard-remediator`, which infra/k8s/remediator-rbac.yaml lets get and delete pods.
// Nothing is created while remediationMode is `off`; `dry-run` and `enforce` need named clusters to reach, or
// the packaging fails, except in organization mode (ingestion=kinesis) with memberRemediationRoleName set: a
// central account may have no clusters of its own, and remediate then acts only on member clusters, through
// their member roles (infra/central-ingestion.cjs), with nothing granted on this account's clusters.
// Set remediationAccessEntries=false for clusters whose
// authentication mode is CONFIG_MAP only: map the role in aws-auth instead (infra/k8s/aws-auth-snippet.yaml).
"use strict";

const { CLUSTER_NAME, clusterScope, logicalName } = require("./cluster-names.cjs");

const KUBERNETES_GROUP = "ephemeral-guard-remediator";
const MODES = ["off", "dry-run", "enforce"];

/** Optional parameters: absent from serverless.yml `params` means the default. */
async function optionalParam(resolveVariable, name, fallback) {
  try {
    const value = await resolveVariable(`param:${name}`);
    return value === undefined || value === null || value === "" ? fallback : String(value);
  } catch {
    return fallback;
  }
}

/**
 * Organization mode with member remediation: remediate has clusters to act on in the member accounts even when
 * this account lists none. The parameters themselves are checked in infra/deploy-params.cjs (the role name only
 * with ingestion=kinesis, and with an external id).
 */
async function reachesMembers(resolveVariable) {
  const ingestion = await optionalParam(resolveVariable, "ingestion", "subscription");
  const roleName = (await optionalParam(resolveVariable, "memberRemediationRoleName", "")).trim();
  return ingestion === "kinesis" && roleName !== "";
}

module.exports = async ({ resolveVariable }) => {
  const mode = String(await resolveVariable("param:remediationMode"));
  if (!MODES.includes(mode)) {
    throw new Error(`remediationMode: "${mode}" is not one of ${MODES.join(", ")}`);
  }
  const scope = clusterScope(
    await resolveVariable("param:clusters"),
    await optionalParam(resolveVariable, "excludedClusters", ""),
  );
  // clusterScope refuses a cluster both listed and excluded, so the listed ones are the ones to reach.
  const clusters = scope.clusters;
  const accessEntries = (await optionalParam(resolveVariable, "remediationAccessEntries", "true")) === "true";
  if (mode === "off") {
    return { Outputs: { RemediatedClusters: { Value: "(none: remediationMode is off)" } } };
  }
  if (clusters.length === 0 && (await reachesMembers(resolveVariable))) {
    // Nothing on this account's clusters: no access entry, no DescribeCluster. A finding on one of them (coverage
    // still watches every cluster of the region) is not acted on: remediate cannot look the cluster up, and its
    // outcome says a human must act.
    return {
      Outputs: {
        RemediatedClusters: {
          Value: "(none in this account: remediate acts on member clusters only, through their member roles)",
        },
      },
    };
  }
  if (clusters.length === 0) {
    // Empty `clusters` makes coverage watch every cluster of the region, but access entries and the
    // DescribeCluster permission are made per named cluster: remediate could not reach any pod.
    throw new Error(
      `remediationMode=${mode} has no cluster to act on: the clusters parameter is empty, and remediate reaches ` +
        "a cluster only through the access entry and DescribeCluster permission made for each listed cluster. " +
        'Name the clusters to remediate (--param="clusters=prod-eu,prod-us"), set remediationMode=off, or, for ' +
        "a central account that remediates only member accounts' clusters, use organization mode with " +
        'memberRemediationRoleName (--param="ingestion=kinesis" --param="memberRemediationRoleName=…").',
    );
  }
  const resources = {};
  const seen = new Map();
  for (const cluster of clusters) {
    if (!CLUSTER_NAME.test(cluster)) throw new Error(`clusters: "${cluster}" is not an EKS cluster name`);
    const name = logicalName(cluster);
    if (seen.has(name)) {
      throw new Error(`clusters: "${cluster}" and "${seen.get(name)}" map to the same resource name`);
    }
    seen.set(name, cluster);
    if (accessEntries) {
      resources[`RemediateAccessEntry${name}`] = {
        Type: "AWS::EKS::AccessEntry",
        Properties: {
          ClusterName: cluster,
          PrincipalArn: { "Fn::GetAtt": ["RemediateRole", "Arn"] },
          Type: "STANDARD",
          KubernetesGroups: [KUBERNETES_GROUP],
        },
      };
    }
  }
  resources.RemediateDescribeClusters = {
    Type: "AWS::IAM::Policy",
    Properties: {
      PolicyName: "remediate-describe-clusters",
      Roles: [{ Ref: "RemediateRole" }],
      PolicyDocument: {
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "ClusterEndpointAndCa",
            Effect: "Allow",
            Action: "eks:DescribeCluster",
            Resource: clusters.map((cluster) => ({
              "Fn::Sub": `arn:\${AWS::Partition}:eks:\${AWS::Region}:\${AWS::AccountId}:cluster/${cluster}`,
            })),
          },
        ],
      },
    },
  };
  return {
    Resources: resources,
    Outputs: { RemediatedClusters: { Value: clusters.join(",") } },
  };
};
