import { IdempotencyConfig, IdempotencyItemAlreadyExistsError } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import type { BasePersistenceLayer } from "@aws-lambda-powertools/idempotency/persistence";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SNSClient } from "@aws-sdk/client-sns";
import type { Finding } from "../../core/finding.ts";
import { findingMessage } from "./sns-message.ts";
import { PublishError, publishMessages } from "./sns-publisher.ts";

/**
 * Publishes each finding to the alerts topic exactly once across redeliveries (Lambda async retries,
 * duplicate CloudWatch Logs deliveries, replays from the failure queue), while still batching.
 *
 * Powertools' makeIdempotent wraps one call per key; wrapping one Publish per finding would give up
 * PublishBatch. So this drives the same Powertools DynamoDB persistence layer in three phases:
 *
 * 1. claim: `saveInProgress` for every finding (conditional put; key `<cluster>:<auditID>`). A COMPLETED
 *    record means "already published": skipped. A live INPROGRESS record means another invocation is
 *    publishing it right now (or crashed): not published here, and this invocation fails so that Lambda
 *    retries it after that record has completed or its in-progress expiry (the holder's deadline) passed.
 * 2. publish the claimed findings with PublishBatch (10 per call, SDK retries per call).
 * 3. settle: `saveSuccess` for each published finding; `deleteRecord` for each that failed, so the retry can
 *    claim and publish it again, then fail the invocation.
 *
 * The only duplicate left is a crash (timeout, OOM) between a successful publish and its `saveSuccess`:
 * the record stays INPROGRESS until the deadline and the retry publishes again. Losing nothing wins over
 * that window.
 */

export interface IdempotencyOptions {
  tableName: string;
  expiresAfterSeconds: number;
  /** Fixed rather than derived from the function name so that `npm run replay` shares the records. */
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

export function idempotencyKey(finding: Finding): string {
  return `${finding.cluster ?? "unknown"}:${finding.auditID}`;
}

export interface PublishOnceResult {
  /** Published by this call. */
  published: Finding[];
  /** Already published earlier (COMPLETED record): not published again. */
  duplicates: Finding[];
  /** Published, but the COMPLETED record could not be written: a redelivery after the deadline repeats it. */
  unrecorded: Finding[];
}

export interface PublishOnceFailure {
  finding: Finding;
  stage: "claim" | "publish";
  reason: string;
}

/** Some findings were not published; the invocation must fail so that Lambda (or replay) retries it. */
export class PublishOnceError extends Error {
  constructor(
    readonly failures: PublishOnceFailure[],
    readonly result: PublishOnceResult,
    options?: { cause?: unknown },
  ) {
    const stages = (stage: PublishOnceFailure["stage"]) => failures.filter((f) => f.stage === stage).length;
    super(
      `${failures.length} finding(s) not published (claim: ${stages("claim")}, publish: ${stages("publish")}); ` +
        `${result.published.length} published, ${result.duplicates.length} already published`,
      options,
    );
    this.name = "PublishOnceError";
  }
}

export interface PublishOnceDeps {
  sns: SNSClient;
  topicArn: string;
  store: IdempotencyStore;
  /** Bounds an INPROGRESS record's life, so a crashed attempt never blocks its retry for long. */
  remainingTimeInMillis: () => number;
}

/** Why a claim found a live INPROGRESS record: another invocation holds it (or crashed holding it). */
export const IN_PROGRESS_ELSEWHERE = "being published by another invocation";

type Claim =
  | { kind: "claimed" }
  | { kind: "done" }
  | { kind: "in-progress" }
  | { kind: "error"; reason: string };

/** DynamoDB calls in flight at once; findings per delivery are few, deliveries can be large. */
const CONCURRENCY = 10;

async function inChunks<T, R>(items: readonly T[], run: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let start = 0; start < items.length; start += CONCURRENCY) {
    out.push(...(await Promise.all(items.slice(start, start + CONCURRENCY).map(run))));
  }
  return out;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // PublishError says how many failed; its cause says why (ECONNREFUSED, AuthorizationError, …).
  const cause = error.cause instanceof Error ? ` (${error.cause.name}: ${error.cause.message})` : "";
  return `${error.name}: ${error.message}${cause}`;
}

async function claim(finding: Finding, deps: PublishOnceDeps): Promise<Claim> {
  const data = { key: idempotencyKey(finding) };
  try {
    await deps.store.saveInProgress(data, deps.remainingTimeInMillis());
    return { kind: "claimed" };
  } catch (error) {
    if (!(error instanceof IdempotencyItemAlreadyExistsError))
      return { kind: "error", reason: describe(error) };
    try {
      const record = error.existingRecord ?? (await deps.store.getRecord(data));
      return record.getStatus() === "COMPLETED" ? { kind: "done" } : { kind: "in-progress" };
    } catch (lookupError) {
      return { kind: "error", reason: describe(lookupError) };
    }
  }
}

export async function publishFindingsOnce(
  findings: readonly Finding[],
  deps: PublishOnceDeps,
): Promise<PublishOnceResult> {
  const result: PublishOnceResult = { published: [], duplicates: [], unrecorded: [] };
  const failures: PublishOnceFailure[] = [];
  const claimed: Finding[] = [];

  const claims = await inChunks(findings, (finding) => claim(finding, deps));
  findings.forEach((finding, index) => {
    const outcome = claims[index];
    if (outcome?.kind === "claimed") claimed.push(finding);
    else if (outcome?.kind === "done") result.duplicates.push(finding);
    else if (outcome?.kind === "in-progress") {
      failures.push({ finding, stage: "claim", reason: IN_PROGRESS_ELSEWHERE });
    } else failures.push({ finding, stage: "claim", reason: outcome?.reason ?? "no claim outcome" });
  });

  let failedIds = new Set<string>();
  let publishError: unknown;
  if (claimed.length > 0) {
    try {
      await publishMessages(deps.sns, deps.topicArn, claimed.map(findingMessage));
    } catch (error) {
      publishError = error;
      failedIds =
        error instanceof PublishError
          ? new Set(error.failedIds)
          : new Set(claimed.map((finding) => finding.auditID));
    }
  }

  // Message ids are auditIDs, unique within one invocation (the Detector drops repeats).
  const publishedNow = claimed.filter((finding) => !failedIds.has(finding.auditID));
  const notPublished = claimed.filter((finding) => failedIds.has(finding.auditID));

  const saved = await inChunks(publishedNow, (finding) =>
    deps.store.saveSuccess({ key: idempotencyKey(finding) }, { published: true }).then(
      () => true,
      () => false,
    ),
  );
  publishedNow.forEach((finding, index) => {
    result.published.push(finding);
    if (!saved[index]) result.unrecorded.push(finding);
  });

  // A record left INPROGRESS would only delay the retry until its in-progress expiry: ignore delete errors.
  await inChunks(notPublished, (finding) =>
    deps.store.deleteRecord({ key: idempotencyKey(finding) }).catch(() => undefined),
  );
  const reason = publishError === undefined ? "publish failed" : describe(publishError);
  for (const finding of notPublished) failures.push({ finding, stage: "publish", reason });

  if (failures.length > 0) throw new PublishOnceError(failures, result, { cause: publishError });
  return result;
}
