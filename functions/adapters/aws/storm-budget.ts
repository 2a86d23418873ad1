import { type DynamoDBClient, GetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { clusterKeyOf } from "../../core/aws-origin.ts";
import type { Finding } from "../../core/finding.ts";
import {
  type StormNotice,
  type StormWindow,
  splitByBudget,
  stormNotice,
  stormWindow,
} from "../../core/storm.ts";
import { describeError } from "./act-once.ts";
import { budgetPartition, expiresAt, STORM_TABLE } from "./storm-table.ts";

/**
 * detect's storm budget: one DynamoDB counter per (cluster, window), incremented atomically by the number of
 * that cluster's findings each invocation publishes (one UpdateItem ADD per cluster per invocation). The count
 * before the increment says how much of the budget was left, so every concurrent invocation agrees on which
 * findings are past it, and Slack and the pager (which both read the `storm` attribute set here) agree too.
 *
 * The sink counts only the findings it claimed for publishing, so a redelivery's duplicates use no budget;
 * a finding whose publish failed is counted again when retried, which can only make a storm start earlier.
 *
 * A storm is one page, however long it lasts: a window that follows a window past its budget gets no budget of
 * its own (every finding in it is a member) and no notice of its own (its notice is the one of the window the
 * storm started in, already published). The counter item of such a window remembers where the storm started,
 * so a flood lasting an hour is one page, not one per window. The first window at or under the budget ends the
 * storm: the window after it starts afresh.
 */

export interface StormBudgetOptions {
  tableName: string;
  /** Findings per cluster per window alerted one by one. */
  budget: number;
  windowMinutes: number;
  now?: () => number;
}

/** Counters outlive their window by this much (late retries land in the current window anyway). */
const COUNTER_TTL_AFTER_WINDOW_MS = 60 * 60 * 1000;

export class StormBudgetError extends Error {
  constructor(
    message: string,
    readonly cluster: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StormBudgetError";
  }
}

export interface ClusterCount {
  cluster: string;
  window: StormWindow;
  before: number;
  after: number;
  /** When the previous window was past its budget: where the storm started (that window's start, or earlier). */
  stormStart?: number;
}

export class StormBudget {
  private readonly now: () => number;

  constructor(
    private readonly dynamo: DynamoDBClient,
    readonly options: StormBudgetOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Adds `count` findings to the cluster's current window; throws StormBudgetError when it cannot. */
  async add(cluster: string, count: number): Promise<ClusterCount> {
    const window = stormWindow(this.now(), this.options.windowMinutes);
    try {
      const stormStart = await this.continuingStorm(cluster, window);
      const result = await this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.options.tableName,
          Key: this.key(window, cluster),
          UpdateExpression:
            stormStart === undefined
              ? "ADD findings :count SET #expiresAt = if_not_exists(#expiresAt, :expiresAt)"
              : "ADD findings :count SET #expiresAt = if_not_exists(#expiresAt, :expiresAt), stormStart = if_not_exists(stormStart, :stormStart)",
          ExpressionAttributeNames: { "#expiresAt": STORM_TABLE.expiresAt },
          ExpressionAttributeValues: {
            ":count": { N: String(count) },
            ":expiresAt": { N: expiresAt(window.end + COUNTER_TTL_AFTER_WINDOW_MS) },
            ...(stormStart === undefined ? {} : { ":stormStart": { N: String(stormStart) } }),
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      const after = Number(result.Attributes?.findings?.N);
      if (!Number.isInteger(after)) throw new Error("UpdateItem returned no count");
      // A concurrent invocation may have recorded an earlier start first; the item's value wins.
      const recorded = Number(result.Attributes?.stormStart?.N);
      const counted: ClusterCount = { cluster, window, before: after - count, after };
      if (stormStart !== undefined) counted.stormStart = Number.isFinite(recorded) ? recorded : stormStart;
      return counted;
    } catch (error) {
      throw new StormBudgetError(
        `could not count findings of cluster ${cluster}: ${describeError(error)}`,
        cluster,
        {
          cause: error,
        },
      );
    }
  }

  private key(window: StormWindow, cluster: string) {
    return {
      [STORM_TABLE.partitionKey]: { S: budgetPartition(window, cluster) },
      [STORM_TABLE.sortKey]: { S: "count" },
    };
  }

  /** The start of the storm the previous window was in, if it went past its budget; else undefined. */
  private async continuingStorm(cluster: string, window: StormWindow): Promise<number | undefined> {
    const length = window.end - window.start;
    const previous: StormWindow = { start: window.start - length, end: window.start };
    const item = await this.dynamo.send(
      new GetItemCommand({ TableName: this.options.tableName, Key: this.key(previous, cluster) }),
    );
    const findings = Number(item.Item?.findings?.N ?? "0");
    if (!(findings > this.options.budget)) return undefined;
    const start = Number(item.Item?.stormStart?.N);
    return Number.isFinite(start) ? start : previous.start;
  }
}

export interface StormMarks {
  /** Past its cluster's budget: published with `storm = member`. */
  isMember(finding: Finding): boolean;
  members: number;
  /** One per cluster with members in this batch; announceStorms publishes each once per window. */
  notices: StormNotice[];
  /** Clusters whose counter could not be updated: their findings are not marked, so they all page. */
  unmarked: { cluster: string; findings: number; reason: string }[];
}

/** The cluster a finding is counted under; the same name as in its idempotency key and `cluster` attribute. */
export function stormCluster(finding: Finding): string {
  return clusterKeyOf(finding);
}

/** Counts each cluster's findings and marks those past the budget. Never throws: a failed count fails open. */
export async function markStormMembers(
  budget: StormBudget,
  findings: readonly Finding[],
): Promise<StormMarks> {
  const byCluster = new Map<string, Finding[]>();
  for (const finding of findings) {
    const cluster = stormCluster(finding);
    const list = byCluster.get(cluster);
    if (list) list.push(finding);
    else byCluster.set(cluster, [finding]);
  }
  const members = new Set<Finding>();
  const marks: StormMarks = {
    isMember: (finding) => members.has(finding),
    members: 0,
    notices: [],
    unmarked: [],
  };
  const { budget: limit, windowMinutes } = budget.options;
  await Promise.all(
    [...byCluster].map(async ([cluster, list]) => {
      let counted: ClusterCount;
      try {
        counted = await budget.add(cluster, list.length);
      } catch (error) {
        marks.unmarked.push({ cluster, findings: list.length, reason: describeError(error) });
        return;
      }
      if (counted.stormStart !== undefined) {
        // The storm goes on from an earlier window: everything is a member, covered by that window's notice.
        for (const member of list) members.add(member);
        const start = counted.stormStart;
        const length = counted.window.end - counted.window.start;
        marks.notices.push(
          stormNotice(cluster, { start, end: start + length }, limit, windowMinutes, counted.after),
        );
        return;
      }
      const split = splitByBudget(list, counted.before, limit);
      for (const member of split.members) members.add(member);
      if (split.members.length > 0) {
        marks.notices.push(stormNotice(cluster, counted.window, limit, windowMinutes, counted.after));
      }
    }),
  );
  marks.members = members.size;
  return marks;
}
