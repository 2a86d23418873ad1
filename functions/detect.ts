import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { parseDetectEnvironment } from "./adapters/detect-environment.ts";
import { detectInvocation, type FindingSink, type InvocationSummary } from "./adapters/detect-invocation.ts";
import { snsFindingSink, stdoutFindingSink } from "./adapters/finding-sinks.ts";
import { logger, metrics } from "./adapters/observability.ts";
import { createIdempotencyStore } from "./adapters/publish-findings-once.ts";

/**
 * detect: CloudWatch Logs subscription deliveries of EKS audit logs in, ephemeral-container findings out
 * to the alerts topic. Configuration and clients are built once per container; a misconfiguration fails
 * the init loudly instead of running half-configured.
 */
const environment = parseDetectEnvironment(process.env);
const target = environment.publish;

const publisher =
  target.mode === "sns"
    ? {
        sns: new SNSClient({}),
        store: createIdempotencyStore(new DynamoDBClient({}), target.idempotency),
        topicArn: target.topicArn,
      }
    : undefined;

const printFindings = stdoutFindingSink((line) => process.stdout.write(`${line}\n`));

function sinkFor(context: Context): FindingSink {
  if (!publisher) return printFindings;
  return snsFindingSink(publisher.sns, publisher.topicArn, publisher.store, () =>
    context.getRemainingTimeInMillis(),
  );
}

async function detect(event: unknown, context: Context): Promise<InvocationSummary> {
  return detectInvocation(event, {
    detection: environment.detection,
    sink: sinkFor(context),
    logger,
    metrics,
  });
}

export const handler = middy<unknown, InvocationSummary, Error, Context>(detect)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
