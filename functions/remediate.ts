import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EKSClient } from "@aws-sdk/client-eks";
import { SNSClient } from "@aws-sdk/client-sns";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { remediateEnvironment } from "./adapters/lambda/remediate-environment.ts";
import {
  createRemediateHandler,
  type HandlerDeps,
  type RemediateSummary,
} from "./remediation/remediate-invocation.ts";
import { wireRemediation } from "./remediation/wiring.ts";

/**
 * remediate: findings from the alerts topic in, pods deleted (or not) and one outcome per finding out to the
 * same topic. The decisions are in functions/core/remediation, the orchestration in functions/remediation.
 */
const logger = new Logger({ serviceName: "remediate" });
const metrics = new Metrics({ namespace: "EphemeralGuard", serviceName: "remediate" });

function defaultDeps(): HandlerDeps {
  const env = remediateEnvironment();
  const sns = new SNSClient({ region: env.region });
  const eks = new EKSClient({ region: env.region });
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
          dynamo: new DynamoDBClient({ region: env.region }),
          credentials: () => eks.config.credentials(),
          warn,
        });
  logger.info("remediate configuration", { ...policy });
  return { remediation, sns, topicArn: env.topicArn, logger, metrics };
}

let lambdaHandler: ((event: unknown) => Promise<RemediateSummary>) | undefined;

/** Built on the first invocation, once per container: the environment is parsed once, caches live here. */
export const handler = middy<unknown, RemediateSummary, Error, Context>(async (event: unknown) => {
  lambdaHandler ??= createRemediateHandler(defaultDeps());
  return lambdaHandler(event);
})
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
