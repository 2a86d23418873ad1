// How detect gets the audit logs: the coverage function (functions/coverage.ts) puts detect's subscription
// filter on the log group of every watched cluster and keeps it there (docs/deploy.md says why the function and
// not CloudFormation). What the stack itself provides is the one permission CloudWatch Logs needs to invoke
// detect: from this account's EKS control-plane log groups (`/aws/eks/<cluster>/cluster`) in this region, and
// from no other log group. Generated to check `clusters` and `excludedClusters` at packaging time.
"use strict";

const { clusterScope } = require("./cluster-names.cjs");

function watched({ clusters, excluded }) {
  const except = excluded.length > 0 ? ` except ${excluded.join(",")}` : "";
  return clusters.length > 0
    ? clusters.filter((name) => !excluded.includes(name)).join(",")
    : `(every cluster of the region${except})`;
}

module.exports = async ({ resolveVariable }) => {
  const scope = clusterScope(
    await resolveVariable("param:clusters"),
    await resolveVariable("param:excludedClusters"),
  );
  return {
    Resources: {
      DetectLogsPermission: {
        Type: "AWS::Lambda::Permission",
        Properties: {
          Action: "lambda:InvokeFunction",
          FunctionName: { "Fn::GetAtt": ["DetectLambdaFunction", "Arn"] },
          Principal: "logs.amazonaws.com",
          SourceAccount: { Ref: "AWS::AccountId" },
          SourceArn: {
            "Fn::Sub": `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/eks/*/cluster:*`,
          },
        },
      },
    },
    Outputs: {
      WatchedClusters: {
        Description: "Clusters whose audit log group the coverage function keeps subscribed to detect",
        Value: watched(scope),
      },
    },
  };
};
