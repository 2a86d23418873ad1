import { createHash } from "node:crypto";
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
} from "@aws-sdk/client-dynamodb";
import { type Finding, findingKey } from "../../core/finding.ts";
import {
  type StormMember,
  StormMemberSchema,
  type StormWindow,
  stormMember,
  stormWindow,
  windowStartText,
} from "../../core/storm.ts";
import {
  expiresAt,
  membersPartition,
  PENDING_PARTITION,
  pendingSortKey,
  STORM_TABLE,
} from "./storm-table.ts";

/**
 * notify-slack's side of storm control: storm members held back for a digest, one small item each under the
 * (cluster, window) they arrived in, and one `pending` item per (cluster, window) that still owes a digest.
 *
 * The window is the one in which notify-slack records the member, not the one detect counted it in: a member
 * delivered late (Lambda's async queue can hold a throttled event for hours) then lands in a window whose digest
 * is still to come, instead of in one already posted. The digest for a window is read only after the window
 * ended plus a delay longer than an invocation can run (storm-digests.ts), so no member is recorded into a
 * window after its digest was read.
 */

export interface StormDigestStoreOptions {
  tableName: string;
  windowMinutes: number;
  /** How long member and pending items are kept (DynamoDB TTL), counted from the end of their window. */
  expiresAfterSeconds: number;
  now?: () => number;
}

export interface PendingDigest {
  cluster: string;
  window: StormWindow;
}

export interface MembersRead {
  members: StormMember[];
  /** False when reading stopped at `maxItems`: the digest's counts are lower bounds. */
  complete: boolean;
  /** Items that were not readable members (written by something else): skipped and counted. */
  unreadable: number;
}

export class StormDigestStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StormDigestStoreError";
  }
}

/** Pending items this container has already written, so a storm does not rewrite one item thousands of times. */
const MAX_REMEMBERED_PENDING = 1_000;
/** Sort keys longer than this (audit IDs can be chosen by the client) are hashed. */
const MAX_SORT_KEY = 200;
/** Items per Query page; the digest reads at most `maxItems` in all. */
const PAGE_SIZE = 1_000;

function memberSortKey(auditID: string): string {
  return auditID.length <= MAX_SORT_KEY
    ? auditID
    : `sha256:${createHash("sha256").update(auditID).digest("hex")}`;
}

function text(value: string): AttributeValue {
  return { S: value };
}

function readString(item: Record<string, AttributeValue>, name: string): string | undefined {
  const value = item[name];
  return value && "S" in value ? value.S : undefined;
}

function readNumber(item: Record<string, AttributeValue>, name: string): number | undefined {
  const value = item[name];
  const parsed = value && "N" in value ? Number(value.N) : Number.NaN;
  return Number.isFinite(parsed) ? parsed : undefined;
}

export class StormDigestStore {
  private readonly now: () => number;
  private readonly pendingWritten = new Set<string>();

  constructor(
    private readonly dynamo: DynamoDBClient,
    readonly options: StormDigestStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  private expiry(window: StormWindow): AttributeValue {
    return { N: expiresAt(window.end + this.options.expiresAfterSeconds * 1000) };
  }

  /**
   * Records a storm member under the current window. The pending item goes first: a member without one would
   * never be digested, while a pending item without members only gives an empty digest, which is skipped.
   */
  async hold(cluster: string, finding: Finding, postedAlone: boolean): Promise<StormWindow> {
    const window = stormWindow(this.now(), this.options.windowMinutes);
    const pendingKey = pendingSortKey(window, cluster);
    const member = stormMember(finding, postedAlone);
    try {
      if (!this.pendingWritten.has(pendingKey)) {
        await this.dynamo.send(
          new PutItemCommand({
            TableName: this.options.tableName,
            Item: {
              [STORM_TABLE.partitionKey]: text(PENDING_PARTITION),
              [STORM_TABLE.sortKey]: text(pendingKey),
              cluster: text(cluster),
              windowStart: { N: String(window.start) },
              windowEnd: { N: String(window.end) },
              [STORM_TABLE.expiresAt]: this.expiry(window),
            },
          }),
        );
        if (this.pendingWritten.size >= MAX_REMEMBERED_PENDING) this.pendingWritten.clear();
        this.pendingWritten.add(pendingKey);
      }
      await this.dynamo.send(
        new PutItemCommand({
          TableName: this.options.tableName,
          Item: {
            [STORM_TABLE.partitionKey]: text(membersPartition(window, cluster)),
            [STORM_TABLE.sortKey]: text(memberSortKey(findingKey(finding))),
            auditID: text(member.auditID),
            severity: text(member.severity),
            outcome: text(member.outcome),
            actor: text(member.actor),
            pod: text(member.pod),
            time: text(member.time),
            ...(member.logGroup ? { logGroup: text(member.logGroup) } : {}),
            postedAlone: { BOOL: member.postedAlone },
            [STORM_TABLE.expiresAt]: this.expiry(window),
          },
        }),
      );
    } catch (error) {
      throw new StormDigestStoreError(
        `could not hold a storm member of ${cluster} for the ${windowStartText(window)} digest: ${String(error)}`,
        { cause: error },
      );
    }
    return window;
  }

  /** Pending digests whose window ended at least `delayMs` ago, oldest first, at most `limit`. */
  async due(delayMs: number, limit: number): Promise<PendingDigest[]> {
    const cutoff = this.now() - delayMs;
    const due: PendingDigest[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.dynamo.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: "#pk = :pending AND #sk < :cutoff",
          ExpressionAttributeNames: { "#pk": STORM_TABLE.partitionKey, "#sk": STORM_TABLE.sortKey },
          ExpressionAttributeValues: {
            ":pending": text(PENDING_PARTITION),
            ":cutoff": text(new Date(cutoff).toISOString()),
          },
          Limit: PAGE_SIZE,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const cluster = readString(item, "cluster");
        const start = readNumber(item, "windowStart");
        const end = readNumber(item, "windowEnd");
        if (cluster === undefined || start === undefined || end === undefined) continue;
        if (end <= cutoff) due.push({ cluster, window: { start, end } });
        if (due.length >= limit) return due;
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return due;
  }

  /** The members held for one (cluster, window), at most `maxItems`. */
  async members(cluster: string, window: StormWindow, maxItems: number): Promise<MembersRead> {
    const read: MembersRead = { members: [], complete: true, unreadable: 0 };
    let seen = 0;
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.dynamo.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: "#pk = :members",
          ExpressionAttributeNames: { "#pk": STORM_TABLE.partitionKey },
          ExpressionAttributeValues: { ":members": text(membersPartition(window, cluster)) },
          Limit: Math.min(PAGE_SIZE, maxItems - seen),
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        seen++;
        const parsed = StormMemberSchema.safeParse({
          auditID: readString(item, "auditID"),
          severity: readString(item, "severity"),
          outcome: readString(item, "outcome"),
          actor: readString(item, "actor"),
          pod: readString(item, "pod"),
          time: readString(item, "time"),
          logGroup: readString(item, "logGroup"),
          postedAlone: item.postedAlone && "BOOL" in item.postedAlone ? item.postedAlone.BOOL : undefined,
        });
        if (parsed.success) read.members.push(parsed.data);
        else read.unreadable++;
      }
      startKey = page.LastEvaluatedKey;
      if (startKey && seen >= maxItems) {
        read.complete = false;
        break;
      }
    } while (startKey);
    return read;
  }

  /** The digest went out (or had nothing to say): the window no longer owes one. */
  async settle(pending: PendingDigest): Promise<void> {
    await this.dynamo.send(
      new DeleteItemCommand({
        TableName: this.options.tableName,
        Key: {
          [STORM_TABLE.partitionKey]: text(PENDING_PARTITION),
          [STORM_TABLE.sortKey]: text(pendingSortKey(pending.window, pending.cluster)),
        },
      }),
    );
  }
}
