import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import type { Context } from "aws-lambda";
import { createIdempotencyStore } from "./adapters/aws/publish-findings-once.ts";
import { awsClient } from "./adapters/lambda/aws-clients.ts";
import { type DetectEnvironment, parseDetectEnvironment } from "./adapters/lambda/detect-environment.ts";
import {
  type BatchItemFailure,
  detectInvocation,
  type FindingSink,
  type InvocationSummary,
} from "./adapters/lambda/detect-invocation.ts";
import { snsFindingSink, stdoutFindingSink, stormControl } from "./adapters/lambda/finding-sinks.ts";
import { lambdaHandler } from "./adapters/lambda/lambda-handler.ts";
import { createObservability } from "./adapters/lambda/observability.ts";

/**
 * detect: CloudWatch Logs subscription deliveries of EKS audit logs in (or, in an organization deployment,
 * batches of the Kinesis stream the organization's log groups put them into), ephemeral-container findings out
 * to the alerts topic.
 */
export const observability = createObservability("detect");

interface DetectDeps {
  environment: DetectEnvironment;
  /** The sink for one invocation: it needs that invocation's deadline. */
  sinkFor(context: Context): FindingSink;
}

function productionDeps(): DetectDeps {
  const environment = parseDetectEnvironment(process.env);
  // A rule switched off leaves no trace in findings: the logs say which rules were tuned, once per container.
  const tuned = environment.detection.rules;
  if (tuned) observability.logger.info("rule overrides in force", { ruleOverrides: tuned });
  const target = environment.publish;
  if (target.mode === "stdout") {
    const print = stdoutFindingSink((line) => process.stdout.write(`${line}\n`));
    return { environment, sinkFor: () => print };
  }
  const sns = awsClient(SNSClient);
  const dynamo = awsClient(DynamoDBClient);
  const store = createIdempotencyStore(dynamo, target.idempotency);
  const storm = stormControl(dynamo, target, observability.logger, observability.metrics);
  return {
    environment,
    sinkFor: (context) =>
      snsFindingSink(sns, target.topicArn, store, () => context.getRemainingTimeInMillis(), storm),
  };
}

export const handler = lambdaHandler({
  observability,
  deps: productionDeps,
  run: async (
    event,
    context,
    deps,
  ): Promise<InvocationSummary | { batchItemFailures: BatchItemFailure[] }> => {
    const summary = await detectInvocation(event, {
      detection: deps.environment.detection,
      sink: deps.sinkFor(context),
      logger: observability.logger,
      metrics: observability.metrics,
      ...(deps.environment.region ? { region: deps.environment.region } : {}),
    });
    // From a Kinesis event source mapping (FunctionResponseTypes: ReportBatchItemFailures), the response is
    // exactly the partial batch response: Lambda reads nothing else from it.
    return summary.batchItemFailures ? { batchItemFailures: summary.batchItemFailures } : summary;
  },
});
