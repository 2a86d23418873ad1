import { IdempotencyConfig } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import type { IdempotencyOptions, IdempotencyStore } from "./act-once.ts";

/**
 * Settling claims in batches: one BatchWriteItem marks up to 25 claimed keys done, where Powertools'
 * saveSuccess makes one UpdateItem each. Publishing a flood of findings costs a claim and a settle per finding
 * and, over the loopback peers, the SDK's and DynamoDB's work per request is what takes the time (npm run
 * bench -- publish), so this takes one request of every two away. Claims stay one conditional PutItem each:
 * BatchWriteItem cannot be conditional.
 *
 * The records are written as saveSuccess leaves them (Powertools 2.35.0's default attribute names, the same
 * hashed key), so Powertools' own claims and reads, here or in `npm run replay`, see them as done. A settle
 * overwrites the record this invocation claimed; it needs no condition, as saveSuccess has none.
 */

const MAX_ITEMS_PER_BATCH = 25;
/** BatchWriteItem may leave items unprocessed (throttling): they are sent again this many times. */
const MAX_ATTEMPTS = 3;

export interface SettleMany {
  /** Marks each claimed key done; false for a key whose COMPLETED record could not be written. */
  settleMany(keys: readonly string[]): Promise<boolean[]>;
}

export type BatchSettlingStore = IdempotencyStore & SettleMany;

class BatchSettlingPersistenceLayer extends DynamoDBPersistenceLayer implements SettleMany {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly table: string,
  ) {
    super({ tableName: table, awsSdkV3Client: dynamodb });
  }

  async settleMany(keys: readonly string[]): Promise<boolean[]> {
    const expiration = Math.round(Date.now() / 1000 + this.expiresAfterSeconds);
    const written = new Array<boolean>(keys.length).fill(false);
    const requests = keys.map((key, index) => ({
      index,
      request: {
        PutRequest: {
          Item: {
            ...this.getKey(this.getHashedIdempotencyKey({ key })),
            ...marshall({ expiration, status: "COMPLETED", data: { done: true } }),
          },
        },
      } satisfies WriteRequest,
    }));
    for (let start = 0; start < requests.length; start += MAX_ITEMS_PER_BATCH) {
      let pending = requests.slice(start, start + MAX_ITEMS_PER_BATCH);
      for (let attempt = 0; attempt < MAX_ATTEMPTS && pending.length > 0; attempt++) {
        const result = await this.dynamodb
          .send(
            new BatchWriteItemCommand({
              RequestItems: { [this.table]: pending.map((entry) => entry.request) },
            }),
          )
          .catch(() => undefined);
        if (!result) break;
        const unprocessed = new Set(
          (result.UnprocessedItems?.[this.table] ?? []).map((request) =>
            JSON.stringify(request.PutRequest?.Item),
          ),
        );
        for (const entry of pending) {
          if (!unprocessed.has(JSON.stringify(entry.request.PutRequest.Item))) written[entry.index] = true;
        }
        pending = pending.filter((entry) => !written[entry.index]);
      }
    }
    return written;
  }
}

/** The idempotency store of act-once.ts (same table, key prefix and expiry), able to settle in batches. */
export function createBatchSettlingStore(
  client: DynamoDBClient,
  options: IdempotencyOptions,
): BatchSettlingStore {
  const store = new BatchSettlingPersistenceLayer(client, options.tableName);
  store.configure({
    config: new IdempotencyConfig({
      eventKeyJmesPath: "key",
      expiresAfterSeconds: options.expiresAfterSeconds,
      throwOnNoIdempotencyKey: true,
    }),
    keyPrefix: options.keyPrefix,
  });
  return store;
}

export function canSettleMany(store: IdempotencyStore): store is BatchSettlingStore {
  return typeof (store as Partial<SettleMany>).settleMany === "function";
}
