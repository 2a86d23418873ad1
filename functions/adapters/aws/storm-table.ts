import { type StormWindow, windowStartText } from "../../core/storm.ts";

/**
 * The storm-state table (infra/storm.yml): string partition key `pk`, string sort key `sk`, TTL on
 * `expiresAt`. Three kinds of item share it, told apart by the partition key's leading word so that each
 * role's IAM policy can be limited to its own kind (`dynamodb:LeadingKeys`):
 *
 * - `budget#<window start>#<cluster>` / `count`: detect's finding counter for one cluster and window;
 * - `members#<window start>#<cluster>` / `<auditID>`: notify-slack's record of one storm member;
 * - `pending` / `<window start>#<cluster>`: a (cluster, window) whose digest notify-slack still owes (the
 *   item also holds the cluster and the window's bounds, so a later change of the window length cannot
 *   misread it).
 *
 * The window start is fixed-width ISO text, so pending windows sort by time and the cluster (last, after the
 * separator) can hold any character without making two keys equal.
 */
export const STORM_TABLE = { partitionKey: "pk", sortKey: "sk", expiresAt: "expiresAt" } as const;

export const BUDGET_PREFIX = "budget#";
export const MEMBERS_PREFIX = "members#";
export const PENDING_PARTITION = "pending";

export function budgetPartition(window: StormWindow, cluster: string): string {
  return `${BUDGET_PREFIX}${windowStartText(window)}#${cluster}`;
}

export function membersPartition(window: StormWindow, cluster: string): string {
  return `${MEMBERS_PREFIX}${windowStartText(window)}#${cluster}`;
}

export function pendingSortKey(window: StormWindow, cluster: string): string {
  return `${windowStartText(window)}#${cluster}`;
}

/** DynamoDB TTL is epoch seconds. */
export function expiresAt(epochMs: number): string {
  return String(Math.ceil(epochMs / 1000));
}
