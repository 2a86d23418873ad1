import { IdempotencyConfig, IdempotencyItemAlreadyExistsError } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import type { BasePersistenceLayer } from "@aws-lambda-powertools/idempotency/persistence";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";

/**
 * Exactly-once side effects (publishing a finding, posting to Slack, deleting a pod) across redeliveries, on
 * the Powertools DynamoDB idempotency persistence layer. Powertools' makeIdempotent wraps one call per key;
 * the functions here need per-item decisions inside one invocation, so they drive the same layer in phases:
 *
 * 1. claim: `saveInProgress` (a conditional put). A COMPLETED record means "already done": skip it. A live
 *    INPROGRESS record means another invocation is doing it right now (or crashed doing it): not done here,
 *    and the caller fails so that it is retried after that record completed or its in-progress expiry (the
 *    holder's deadline) passed.
 * 2. act on what was claimed.
 * 3. settle: `saveSuccess` when the act succeeded; `deleteRecord` when it failed, so a retry can claim again.
 *
 * The only repeat left is a crash (timeout, OOM) between a successful act and its `saveSuccess`: the record
 * stays INPROGRESS until the deadline and the retry acts again. Losing nothing wins over that window.
 */

export interface IdempotencyOptions {
  tableName: string;
  expiresAfterSeconds: number;
  /** Fixed rather than derived from the function name, so that tools (replay, hunt) share the records. */
  keyPrefix: string;
}

export type IdempotencyStore = Pick<
  BasePersistenceLayer,
  "saveInProgress" | "saveSuccess" | "deleteRecord" | "getRecord"
>;

export function createIdempotencyStore(
  client: DynamoDBClient,
  options: IdempotencyOptions,
): IdempotencyStore {
  const store = new DynamoDBPersistenceLayer({ tableName: options.tableName, awsSdkV3Client: client });
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

/** Why a claim found a live INPROGRESS record: another invocation holds it (or crashed holding it). */
export const IN_PROGRESS_ELSEWHERE = "being handled by another invocation";

export type Claim =
  | { kind: "claimed" }
  | { kind: "done" }
  | { kind: "in-progress" }
  | { kind: "error"; reason: string };

/** The error's name and message, and its cause's (Powertools and the SDK wrap the useful part). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.name}: ${error.cause.message})` : "";
  return `${error.name}: ${error.message}${cause}`;
}

/** Claims `key` until `remainingTimeInMillis` from now (the holder's deadline); never throws. */
export async function claim(
  store: IdempotencyStore,
  key: string,
  remainingTimeInMillis: number,
): Promise<Claim> {
  const data = { key };
  try {
    await store.saveInProgress(data, remainingTimeInMillis);
    return { kind: "claimed" };
  } catch (error) {
    if (!(error instanceof IdempotencyItemAlreadyExistsError))
      return { kind: "error", reason: describeError(error) };
    try {
      const record = error.existingRecord ?? (await store.getRecord(data));
      return record.getStatus() === "COMPLETED" ? { kind: "done" } : { kind: "in-progress" };
    } catch (lookupError) {
      return { kind: "error", reason: describeError(lookupError) };
    }
  }
}

/** Marks a claimed key done; false when the record could not be written (a late redelivery may repeat it). */
export async function settleSuccess(store: IdempotencyStore, key: string): Promise<boolean> {
  return store.saveSuccess({ key }, { done: true }).then(
    () => true,
    () => false,
  );
}

/**
 * Gives a claim back after the act failed, so a retry can claim it again. A record left INPROGRESS would only
 * delay that retry until its in-progress expiry, so errors here are ignored.
 */
export async function release(store: IdempotencyStore, key: string): Promise<void> {
  await store.deleteRecord({ key }).catch(() => undefined);
}

export type OnceResult<T> =
  /** Done by this call; `recorded` false when the COMPLETED record could not be written. */
  | { kind: "acted"; value: T; recorded: boolean }
  /** Done earlier (COMPLETED record): not done again. */
  | { kind: "duplicate" }
  /** Another invocation holds the claim: not done here; the caller should fail so it is retried. */
  | { kind: "in-progress" }
  /** The claim could not be made (table unreachable, …): not done; retry. */
  | { kind: "claim-failed"; reason: string }
  /** Claimed, then the act threw: released, not done; retry. */
  | { kind: "act-failed"; error: unknown };

/** One side effect, at most once per key across invocations (see the module comment for the window). */
export async function actOnce<T>(
  store: IdempotencyStore,
  key: string,
  remainingTimeInMillis: number,
  act: () => Promise<T>,
): Promise<OnceResult<T>> {
  const claimed = await claim(store, key, remainingTimeInMillis);
  if (claimed.kind === "done") return { kind: "duplicate" };
  if (claimed.kind === "in-progress") return { kind: "in-progress" };
  if (claimed.kind === "error") return { kind: "claim-failed", reason: claimed.reason };
  let value: T;
  try {
    value = await act();
  } catch (error) {
    await release(store, key);
    return { kind: "act-failed", error };
  }
  return { kind: "acted", value, recorded: await settleSuccess(store, key) };
}
