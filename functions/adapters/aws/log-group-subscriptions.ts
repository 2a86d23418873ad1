import {
  type CloudWatchLogsClient,
  DescribeSubscriptionFiltersCommand,
  type DescribeSubscriptionFiltersCommandOutput,
  PutSubscriptionFilterCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import type { DesiredFilter, ExistingFilter } from "../../core/cluster-coverage/subscription-plan.ts";

/**
 * The subscription filters of one log group: read them, put detect's. Nothing here deletes a filter: the
 * coverage role is not even allowed to (infra/coverage.yml), so it can add and restore coverage, never remove it.
 */

/** DescribeSubscriptionFilters pages of 50; a log group holds 2 filters (a few more if the quota grows). */
const MAX_FILTER_PAGES = 5;

/** Errors that say the call will not work as made: retrying the same put is pointless until a human acts. */
const REFUSALS = new Set([
  "AccessDeniedException",
  "InvalidParameterException",
  "LimitExceededException",
  "ValidationException",
  "InvalidOperationException",
]);

export class LogGroupUnavailableError extends Error {
  constructor(
    message: string,
    readonly logGroup: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "LogGroupUnavailableError";
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "Error";
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export type FiltersRead = { exists: false } | { exists: true; filters: ExistingFilter[] };

/** The log group's subscription filters; `exists: false` when the log group does not exist. */
export async function readSubscriptionFilters(
  logs: CloudWatchLogsClient,
  logGroup: string,
): Promise<FiltersRead> {
  const filters: ExistingFilter[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_FILTER_PAGES; page++) {
    let output: DescribeSubscriptionFiltersCommandOutput;
    try {
      output = await logs.send(new DescribeSubscriptionFiltersCommand({ logGroupName: logGroup, nextToken }));
    } catch (error) {
      if (errorName(error) === "ResourceNotFoundException") return { exists: false };
      throw new LogGroupUnavailableError(
        `DescribeSubscriptionFilters ${logGroup} failed: ${describeError(error)}`,
        logGroup,
        { cause: error },
      );
    }
    for (const filter of output.subscriptionFilters ?? []) {
      filters.push({
        filterName: filter.filterName ?? "",
        destinationArn: filter.destinationArn ?? "",
        filterPattern: filter.filterPattern ?? "",
        ...(filter.roleArn ? { roleArn: filter.roleArn } : {}),
      });
    }
    nextToken = output.nextToken;
    if (!nextToken) return { exists: true, filters };
  }
  throw new LogGroupUnavailableError(
    `DescribeSubscriptionFilters ${logGroup} still had more after ${MAX_FILTER_PAGES} pages`,
    logGroup,
  );
}

export type PutResult =
  | { put: true }
  /** CloudWatch Logs refused (the log group vanished, the last slot was taken meanwhile, access denied…). */
  | { put: false; refusal: string; missingLogGroup: boolean };

/**
 * Puts (creates or overwrites) detect's filter. Refusals are returned; anything else (throttling after the
 * SDK's retries, the network) is thrown, so the check is inconclusive rather than a false "not fixable".
 */
export async function putSubscriptionFilter(
  logs: CloudWatchLogsClient,
  logGroup: string,
  desired: DesiredFilter,
): Promise<PutResult> {
  try {
    await logs.send(
      new PutSubscriptionFilterCommand({
        logGroupName: logGroup,
        filterName: desired.filterName,
        filterPattern: desired.filterPattern,
        destinationArn: desired.destinationArn,
        // The organization destination's check role (member stacks); a Lambda destination takes none.
        ...(desired.roleArn === undefined ? {} : { roleArn: desired.roleArn }),
      }),
    );
    return { put: true };
  } catch (error) {
    const name = errorName(error);
    if (name === "ResourceNotFoundException") {
      return { put: false, refusal: describeError(error), missingLogGroup: true };
    }
    if (REFUSALS.has(name)) return { put: false, refusal: describeError(error), missingLogGroup: false };
    throw new LogGroupUnavailableError(
      `PutSubscriptionFilter ${logGroup} failed: ${describeError(error)}`,
      logGroup,
      {
        cause: error,
      },
    );
  }
}
