import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { createIdempotencyStore } from "./adapters/aws/publish-findings-once.ts";
import { parseDetectEnvironment } from "./adapters/lambda/detect-environment.ts";
import {
  detectInvocation,
  type FindingSink,
  type InvocationSummary,
} from "./adapters/lambda/detect-invocation.ts";
import { snsFindingSink, stdoutFindingSink } from "./adapters/lambda/finding-sinks.ts";
import { logger, metrics } from "./adapters/lambda/observability.ts";

/**
 * detect: CloudWatch Logs subscription deliveries of EKS audit logs in, ephemeral-container findings out
 * to the alerts topic. Configuration and clients are built once per container; a misconfiguration fails
 * the init loudly instead of running half-configured.
 */
const environment = parseDetectEnvironment(process.env);
const target = environment.publish;

/**
 * A hung connection should cost one attempt, not the whole invocation: the SDK retries (3 attempts) within
 * these bounds, and whatever still fails fails the invocation in time for Lambda's retry.
 */
const clientConfig = { requestHandler: { connectionTimeout: 3_000, requestTimeout: 10_000 } };

const publisher =
  target.mode === "sns"
    ? {
        sns: new SNSClient(clientConfig),
        store: createIdempotencyStore(new DynamoDBClient(clientConfig), target.idempotency),
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
  // Never the event itself: deliveries carry whole audit events (request bodies, env values).
  .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
  .use(logMetrics(metrics, { captureColdStartMetric: true }));
