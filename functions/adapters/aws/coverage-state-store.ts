import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  type ScanCommandOutput,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import {
  type CoverageRecord,
  CoverageRecordSchema,
} from "../../core/cluster-coverage/coverage-transition.ts";

/**
 * One item per cluster in the coverage table (key `cluster`), written conditionally on the version read so
 * that two runs at once (the schedule and a CloudTrail event) never both announce one change. `expiresAt` is
 * the table's TTL attribute: every check pushes it forward, so only clusters no longer checked (deleted, or
 * taken out of scope) age out.
 */

/** A coverage table holds one small item per cluster; 50 pages of 1 MB is far beyond any account. */
const MAX_SCAN_PAGES = 50;

export class CoverageStateError extends Error {
  constructor(
    message: string,
    readonly cluster: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CoverageStateError";
  }
}

export interface StoredRecords {
  records: CoverageRecord[];
  /** Items that did not read as records (written by another version?): logged by the caller, then ignored. */
  unreadable: { cluster: string; problem: string }[];
}

function text(value: string): AttributeValue {
  return { S: value };
}

function toItem(record: CoverageRecord, expiresAt: number): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    cluster: text(record.cluster),
    state: text(record.state),
    version: { N: String(record.version) },
    since: text(record.since),
    checkedAt: text(record.checkedAt),
    expiresAt: { N: String(expiresAt) },
  };
  if (record.coveredAt) item.coveredAt = text(record.coveredAt);
  if (record.auditOnSince) item.auditOnSince = text(record.auditOnSince);
  if (record.pendingAlert) item.pendingAlert = text(JSON.stringify(record.pendingAlert));
  return item;
}

type Read = { ok: true; record: CoverageRecord } | { ok: false; cluster: string; problem: string };

function fromItem(item: Record<string, AttributeValue>): Read {
  const cluster = item.cluster?.S ?? "";
  let pendingAlert: unknown;
  if (item.pendingAlert?.S !== undefined) {
    try {
      pendingAlert = JSON.parse(item.pendingAlert.S);
    } catch {
      return { ok: false, cluster, problem: "pendingAlert is not JSON" };
    }
  }
  const parsed = CoverageRecordSchema.safeParse({
    cluster,
    state: item.state?.S,
    version: item.version?.N === undefined ? undefined : Number(item.version.N),
    since: item.since?.S,
    checkedAt: item.checkedAt?.S,
    ...(item.coveredAt?.S ? { coveredAt: item.coveredAt.S } : {}),
    ...(item.auditOnSince?.S ? { auditOnSince: item.auditOnSince.S } : {}),
    ...(pendingAlert !== undefined ? { pendingAlert } : {}),
  });
  if (!parsed.success)
    return { ok: false, cluster, problem: parsed.error.issues.map((i) => i.message).join("; ") };
  return { ok: true, record: parsed.data };
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export type WriteResult = "written" | "superseded";

export class CoverageStateStore {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /**
   * The cluster's record. An item that does not read as a record counts as none (the cluster is then seen
   * afresh: blind states still alert); `unreadable` says so for the logs.
   */
  async get(
    cluster: string,
  ): Promise<{ record: CoverageRecord | undefined; version: number | undefined; unreadable?: string }> {
    try {
      const output = await this.dynamo.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: { cluster: text(cluster) },
          ConsistentRead: true,
        }),
      );
      if (!output.Item) return { record: undefined, version: undefined };
      const read = fromItem(output.Item);
      const version = output.Item.version?.N === undefined ? undefined : Number(output.Item.version.N);
      return read.ok
        ? { record: read.record, version }
        : { record: undefined, version, unreadable: read.problem };
    } catch (error) {
      throw new CoverageStateError(
        `could not read the coverage record of ${cluster}: ${describeError(error)}`,
        cluster,
        {
          cause: error,
        },
      );
    }
  }

  async scan(): Promise<StoredRecords> {
    const records: CoverageRecord[] = [];
    const unreadable: StoredRecords["unreadable"] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    for (let page = 0; page < MAX_SCAN_PAGES; page++) {
      let output: ScanCommandOutput;
      try {
        output = await this.dynamo.send(
          new ScanCommand({ TableName: this.tableName, ExclusiveStartKey: startKey, ConsistentRead: true }),
        );
      } catch (error) {
        throw new CoverageStateError(
          `could not scan the coverage table: ${describeError(error)}`,
          undefined,
          {
            cause: error,
          },
        );
      }
      for (const item of output.Items ?? []) {
        const read = fromItem(item);
        if (read.ok) records.push(read.record);
        else unreadable.push({ cluster: read.cluster, problem: read.problem });
      }
      startKey = output.LastEvaluatedKey;
      if (!startKey) return { records, unreadable };
    }
    throw new CoverageStateError(
      `the coverage table still had more after ${MAX_SCAN_PAGES} pages`,
      undefined,
    );
  }

  /**
   * Writes `record` if the stored version is still `expectedVersion` (none stored when undefined);
   * "superseded" when another run wrote first (its decision stands, including its alert).
   */
  async write(
    record: CoverageRecord,
    expectedVersion: number | undefined,
    expiresAt: number,
  ): Promise<WriteResult> {
    try {
      await this.dynamo.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem(record, expiresAt),
          ...(expectedVersion === undefined
            ? {
                ConditionExpression: "attribute_not_exists(#cluster)",
                ExpressionAttributeNames: { "#cluster": "cluster" },
              }
            : {
                ConditionExpression: "#version = :expected",
                ExpressionAttributeNames: { "#version": "version" },
                ExpressionAttributeValues: { ":expected": { N: String(expectedVersion) } },
              }),
        }),
      );
      return "written";
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return "superseded";
      throw new CoverageStateError(
        `could not write the coverage record of ${record.cluster}: ${describeError(error)}`,
        record.cluster,
        {
          cause: error,
        },
      );
    }
  }

  /** Forgets a published pending alert, if the record is still at `version`. Never throws: the alert is sent. */
  async clearPendingAlert(cluster: string, version: number): Promise<boolean> {
    try {
      await this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { cluster: text(cluster) },
          UpdateExpression: "REMOVE pendingAlert",
          ConditionExpression: "#version = :version",
          ExpressionAttributeNames: { "#version": "version" },
          ExpressionAttributeValues: { ":version": { N: String(version) } },
        }),
      );
      return true;
    } catch {
      // Left in place, it is published again on the next check and recognised as done (act-once).
      return false;
    }
  }
}
