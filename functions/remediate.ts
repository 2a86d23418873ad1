import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EKSClient } from "@aws-sdk/client-eks";
import { SNSClient } from "@aws-sdk/client-sns";
import { STSClient } from "@aws-sdk/client-sts";
import { MemberRoleCredentials } from "./adapters/aws/member-role-credentials.ts";
import { awsClient } from "./adapters/lambda/aws-clients.ts";
import { lambdaHandler } from "./adapters/lambda/lambda-handler.ts";
import { createObservability } from "./adapters/lambda/observability.ts";
import { parseRemediateEnvironment } from "./adapters/lambda/remediate-environment.ts";
import {
  createRemediateHandler,
  type HandlerDeps,
  type Invocation,
  type RemediateSummary,
} from "./remediation/remediate-invocation.ts";
import { remediationIdempotency, wireRemediation } from "./remediation/wiring.ts";

/**
 * remediate: findings from the alerts topic in, pods deleted (or not) and one outcome per finding out to the
 * same topic. The decisions are in functions/core/remediation, the orchestration in functions/remediation.
 */
export const observability = createObservability("remediate");

function productionDeps(): (event: unknown, invocation: Invocation) => Promise<RemediateSummary> {
  const { logger, metrics } = observability;
  const env = parseRemediateEnvironment(process.env);
  const eks = awsClient(EKSClient);
  const dynamo = awsClient(DynamoDBClient);
  const warn = (message: string, context: Record<string, unknown>) => logger.warn(message, context);
  const { policy } = env;
  const remediation =
    policy.mode === "off"
      ? undefined
      : wireRemediation({
          policy: { ...policy, mode: policy.mode },
          region: env.region,
          account: env.account,
          tableName: env.tableName,
          eks,
          dynamo,
          credentials: () => eks.config.credentials(),
          // The member roles are assumed through the STS endpoint of the function's own region.
          members:
            env.members === undefined
              ? undefined
              : { roles: new MemberRoleCredentials(awsClient(STSClient), env.members) },
          warn,
        });
  // The external id is not a secret (it guards against confused deputies, not intruders), but stays out of logs.
  logger.info("remediate configuration", {
    ...policy,
    account: env.account,
    memberRoleName: env.members?.roleName ?? "(none: other accounts and regions are not remediated)",
  });
  const deps: HandlerDeps = {
    remediation,
    idempotency: remediationIdempotency(dynamo, env.idempotency),
    sns: awsClient(SNSClient),
    topicArn: env.topicArn,
    logger,
    metrics,
  };
  return createRemediateHandler(deps);
}

export const handler = lambdaHandler({
  observability,
  deps: productionDeps,
  run: (event, context, remediate) =>
    remediate(event, { remainingTimeInMillis: () => context.getRemainingTimeInMillis() }),
});
