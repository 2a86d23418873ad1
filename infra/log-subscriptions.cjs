// One CloudWatch Logs subscription filter per configured cluster, and the permission that lets CloudWatch
// Logs invoke detect from exactly those log groups. Generated because YAML variables cannot iterate over the
// `clusters` parameter. Serverless (osls, v3, v4) calls this with its variable resolver.
"use strict";

const { CLUSTER_NAME, clusterList, logicalName } = require("./cluster-names.cjs");

// The pattern and the name suffix are shared with the functions (functions/adapters/aws/subscription-filter.ts).
// The pattern is the term `ephemeralcontainers`, not a JSON pattern, so that events cut mid-JSON (a write padded
// past CloudWatch Logs' event size limit) still reach detect: see `why` in subscription-filter.json.
const { filterPattern: FILTER_PATTERN, filterNameSuffix } = require("./subscription-filter.json");

module.exports = async ({ resolveVariable }) => {
  const clusters = clusterList(await resolveVariable("param:clusters"));
  const resources = {};
  const seen = new Map();
  for (const cluster of clusters) {
    if (!CLUSTER_NAME.test(cluster)) {
      throw new Error(`clusters: "${cluster}" is not an EKS cluster name`);
    }
    const name = logicalName(cluster);
    if (seen.has(name)) {
      throw new Error(`clusters: "${cluster}" and "${seen.get(name)}" map to the same resource name`);
    }
    seen.set(name, cluster);
    const logGroup = `/aws/eks/${cluster}/cluster`;
    const permission = `DetectLogsPermission${name}`;
    resources[permission] = {
      Type: "AWS::Lambda::Permission",
      Properties: {
        Action: "lambda:InvokeFunction",
        FunctionName: { "Fn::GetAtt": ["DetectLambdaFunction", "Arn"] },
        Principal: "logs.amazonaws.com",
        SourceAccount: { Ref: "AWS::AccountId" },
        SourceArn: {
          "Fn::Sub": `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:${logGroup}:*`,
        },
      },
    };
    resources[`DetectSubscriptionFilter${name}`] = {
      Type: "AWS::Logs::SubscriptionFilter",
      DependsOn: [permission],
      Properties: {
        LogGroupName: logGroup,
        FilterName: { "Fn::Join": ["-", [{ Ref: "AWS::StackName" }, filterNameSuffix]] },
        FilterPattern: FILTER_PATTERN,
        DestinationArn: { "Fn::GetAtt": ["DetectLambdaFunction", "Arn"] },
      },
    };
  }
  if (clusters.length === 0) {
    // Valid but idle: nothing invokes detect until clusters are configured (docs/deploy.md).
    return { Outputs: { WatchedClusters: { Value: "(none: set the clusters parameter)" } } };
  }
  return {
    Resources: resources,
    Outputs: { WatchedClusters: { Value: clusters.join(",") } },
  };
};
