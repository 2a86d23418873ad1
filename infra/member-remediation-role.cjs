// The role the central stack's remediate function assumes to act on this member account's clusters
// (functions/adapters/aws/member-role-credentials.ts), made only when centralRemediateRoleArn is set:
// - named `<remediationRoleName>-<region>`: remediate derives the ARN from the finding's account and region
//   and its own MEMBER_ROLE_NAME, so every member account and region must use the same name;
// - trusted by exactly one principal, the central remediate role, and only with the external id and from
//   inside the organization (aws:PrincipalOrgID): a role of another account, or the central account's other
//   principals, cannot assume it, and neither can the central role without the external id;
// - allowed eks:DescribeCluster (endpoint and CA) and nothing else in IAM; the EKS token is a presigned
//   sts:GetCallerIdentity, which needs no permission. What it may do inside a cluster is its EKS access entry
//   (Kubernetes group `ephemeral-guard-remediator`) and the RBAC of infra/k8s/remediator-rbac.yaml: get and
//   delete pods.
// Access entries are made for the clusters named in remediationClusters. A StackSet deploys one template to
// every account, whose clusters differ, so that list is usually empty there and each cluster's owners create
// the entry themselves (docs/deploy.md, Member accounts): the opt-in to remediation is per cluster.
"use strict";

const { CLUSTER_NAME, clusterList, logicalName } = require("./cluster-names.cjs");

const KUBERNETES_GROUP = "ephemeral-guard-remediator";

async function param(resolveVariable, name) {
  const value = await resolveVariable(`param:${name}, ''`);
  return value === undefined || value === null ? "" : String(value).trim();
}

function trustPolicy(centralRoleArn, externalId, organizationId) {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "CentralRemediateRoleOnly",
        Effect: "Allow",
        Principal: { AWS: centralRoleArn },
        Action: "sts:AssumeRole",
        Condition: {
          StringEquals: {
            "sts:ExternalId": externalId,
            "aws:PrincipalOrgID": organizationId,
          },
        },
      },
    ],
  };
}

function describeClusters(clusters) {
  // Without named clusters: every cluster of this account and region. The role learns endpoints and CAs, which
  // grant nothing by themselves; whether it can reach pods is each cluster's access entry.
  const names = clusters.length > 0 ? clusters : ["*"];
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ClusterEndpointAndCa",
        Effect: "Allow",
        Action: "eks:DescribeCluster",
        Resource: names.map((name) => ({
          "Fn::Sub": `arn:\${AWS::Partition}:eks:\${AWS::Region}:\${AWS::AccountId}:cluster/${name}`,
        })),
      },
    ],
  };
}

module.exports = async ({ resolveVariable }) => {
  // Checked in infra/member-params.cjs (serverless.member.yml resolves it first).
  const centralRoleArn = await param(resolveVariable, "centralRemediateRoleArn");
  if (centralRoleArn === "") {
    return {
      Outputs: {
        RemediationRole: {
          Value: "(none: centralRemediateRoleArn is empty, remediate cannot reach this account)",
        },
      },
    };
  }
  const roleName = await param(resolveVariable, "remediationRoleName");
  const externalId = await param(resolveVariable, "remediationExternalId");
  const organizationId = await param(resolveVariable, "organizationId");
  if (externalId === "" || organizationId === "") {
    throw new Error(
      "centralRemediateRoleArn needs remediationExternalId and organizationId (infra/member-params.cjs)",
    );
  }
  const clusters = clusterList(await param(resolveVariable, "remediationClusters"));
  const resources = {
    MemberRemediationRole: {
      Type: "AWS::IAM::Role",
      Properties: {
        RoleName: { "Fn::Sub": `${roleName}-\${AWS::Region}` },
        Description:
          "ephemeral-guard: assumed by the central remediate function to delete tampered pods here",
        // One hour: what STS grants a chained session anyway (member-role-credentials.ts SESSION_SECONDS).
        MaxSessionDuration: 3600,
        AssumeRolePolicyDocument: trustPolicy(centralRoleArn, externalId, organizationId),
        Policies: [{ PolicyName: "describe-clusters", PolicyDocument: describeClusters(clusters) }],
      },
    },
  };
  const seen = new Map();
  for (const cluster of clusters) {
    if (!CLUSTER_NAME.test(cluster)) {
      throw new Error(`remediationClusters: "${cluster}" is not an EKS cluster name`);
    }
    const name = logicalName(cluster);
    if (seen.has(name)) {
      throw new Error(
        `remediationClusters: "${cluster}" and "${seen.get(name)}" map to the same resource name`,
      );
    }
    seen.set(name, cluster);
    resources[`MemberRemediationAccessEntry${name}`] = {
      Type: "AWS::EKS::AccessEntry",
      Properties: {
        ClusterName: cluster,
        PrincipalArn: { "Fn::GetAtt": ["MemberRemediationRole", "Arn"] },
        Type: "STANDARD",
        KubernetesGroups: [KUBERNETES_GROUP],
      },
    };
  }
  return {
    Resources: resources,
    Outputs: {
      MemberRemediationRoleArn: {
        Description: `Map this role to the ${KUBERNETES_GROUP} group on each cluster remediate may act on`,
        Value: { "Fn::GetAtt": ["MemberRemediationRole", "Arn"] },
      },
      RemediationAccessEntries: {
        Value: clusters.length > 0 ? clusters.join(",") : "(none: each cluster's owners create the entry)",
      },
    },
  };
};

module.exports.KUBERNETES_GROUP = KUBERNETES_GROUP;
