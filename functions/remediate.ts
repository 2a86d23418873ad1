import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EKSClient } from "@aws-sdk/client-eks";
import { SNSClient } from "@aws-sdk/client-sns";
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
          tableName: env.tableName,
          eks,
          dynamo,
          credentials: () => eks.config.credentials(),
          warn,
        });
  logger.info("remediate configuration", { ...policy });
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
