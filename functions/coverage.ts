import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EKSClient } from "@aws-sdk/client-eks";
import { SNSClient } from "@aws-sdk/client-sns";
import { createIdempotencyStore } from "./adapters/aws/act-once.ts";
import { CoverageStateStore } from "./adapters/aws/coverage-state-store.ts";
import { EksClusters } from "./adapters/aws/eks-clusters.ts";
import { awsClient } from "./adapters/lambda/aws-clients.ts";
import { parseCoverageEnvironment } from "./adapters/lambda/coverage-environment.ts";
import {
  COVERAGE_KEY_PREFIX,
  type CoverageDeps,
  type CoverageSummary,
  runCoverage,
} from "./adapters/lambda/coverage-invocation.ts";
import { lambdaHandler } from "./adapters/lambda/lambda-handler.ts";
import { createObservability, type Observability } from "./adapters/lambda/observability.ts";

/**
 * coverage: every watched EKS cluster of the region keeps detect's subscription filter and its audit log, or
 * the alerts topic hears about it. Runs on a schedule and at once on the CloudTrail calls that change coverage
 * (infra/coverage-rules.cjs). Decisions are in functions/core/cluster-coverage, the run in
 * adapters/lambda/coverage-invocation.ts.
 */
export const observability = createObservability("coverage");

/** The handler with its dependencies built by `deps` (once per container); tests pass their own. */
export function createCoverageHandler(deps: () => CoverageDeps, kit: Observability = observability) {
  return lambdaHandler({
    observability: kit,
    deps,
    run: (event, context, built): Promise<CoverageSummary> =>
      runCoverage(event, built, () => context.getRemainingTimeInMillis()),
  });
}

function productionDeps(): CoverageDeps {
  const env = parseCoverageEnvironment(process.env);
  const dynamo = awsClient(DynamoDBClient);
  observability.logger.info("coverage configuration", {
    clusters: env.scope.clusters.length > 0 ? env.scope.clusters : "every cluster in the region",
    excludedClusters: env.scope.excludedClusters,
    filterName: env.desiredFilter.filterName,
    destination: env.desiredFilter.destinationArn,
    silenceMinutes: env.silenceMs / 60_000,
  });
  return {
    settings: {
      region: env.region,
      account: env.account,
      topicArn: env.topicArn,
      scope: env.scope,
      desiredFilter: env.desiredFilter,
      filtersPerLogGroup: env.filtersPerLogGroup,
      silenceMs: env.silenceMs,
      recordTtlSeconds: env.recordTtlSeconds,
      concurrency: env.concurrency,
    },
    clusters: new EksClusters(awsClient(EKSClient)),
    logs: awsClient(CloudWatchLogsClient),
    sns: awsClient(SNSClient),
    state: new CoverageStateStore(dynamo, env.tableName),
    idempotency: createIdempotencyStore(dynamo, { ...env.idempotency, keyPrefix: COVERAGE_KEY_PREFIX }),
    logger: observability.logger,
    metrics: observability.metrics,
  };
}

export const handler = createCoverageHandler(productionDeps);
