import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";

export interface RateLimitOptions {
  tableName: string;
  /** Deletions allowed per cluster per window. */
  limit: number;
  windowSeconds: number;
  now?: () => Date;
}

export type Acquired =
  | { granted: true; key: string; count: number }
  | { granted: false; key: string; limit: number; windowEndsAt: string };

export class RateLimitError extends Error {
  constructor(
    message: string,
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RateLimitError";
  }
}

/** Items outlive their window by this much so a late release still finds its counter; TTL cleans up after. */
const TTL_SLACK_SECONDS = 3600;

/**
 * A fixed-window counter per cluster in DynamoDB. The conditional ADD makes it exact across concurrent
 * invocations: at most `limit` acquisitions succeed per cluster per window, whatever the concurrency.
 * Dry-run uses its own counters so rehearsals neither consume nor reveal the real budget.
 */
export class DeletionRateLimit {
  private readonly now: () => Date;

  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly options: RateLimitOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  windowKey(cluster: string, dryRun: boolean): { key: string; windowEnd: number } {
    const windowMs = this.options.windowSeconds * 1000;
    const start = Math.floor(this.now().getTime() / windowMs) * windowMs;
    return {
      key: `${dryRun ? "dry-run" : "enforce"}#${cluster}#${new Date(start).toISOString()}`,
      windowEnd: start + windowMs,
    };
  }

  async acquire(cluster: string, dryRun: boolean): Promise<Acquired> {
    const { key, windowEnd } = this.windowKey(cluster, dryRun);
    const { limit } = this.options;
    try {
      const result = await this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.options.tableName,
          Key: { counter: { S: key } },
          UpdateExpression: "ADD deletions :one SET expiresAt = if_not_exists(expiresAt, :expiresAt)",
          ConditionExpression: "attribute_not_exists(deletions) OR deletions < :limit",
          ExpressionAttributeValues: {
            ":one": { N: "1" },
            ":limit": { N: String(limit) },
            ":expiresAt": { N: String(Math.ceil(windowEnd / 1000) + TTL_SLACK_SECONDS) },
          },
          ReturnValues: "UPDATED_NEW",
        }),
      );
      return { granted: true, key, count: Number(result.Attributes?.deletions?.N ?? "1") };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        return { granted: false, key, limit, windowEndsAt: new Date(windowEnd).toISOString() };
      }
      throw new RateLimitError(`could not update the deletion counter ${key}: ${String(error)}`, key, {
        cause: error,
      });
    }
  }

  /** Gives a slot back when nothing was deleted after all (pod replaced, gone, or the API refused). */
  async release(key: string): Promise<void> {
    try {
      await this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.options.tableName,
          Key: { counter: { S: key } },
          UpdateExpression: "ADD deletions :minusOne",
          ConditionExpression: "deletions > :zero",
          ExpressionAttributeValues: { ":minusOne": { N: "-1" }, ":zero": { N: "0" } },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return;
      throw new RateLimitError(`could not release a slot of ${key}: ${String(error)}`, key, { cause: error });
    }
  }
}
