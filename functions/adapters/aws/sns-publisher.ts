import { PublishBatchCommand, type PublishBatchRequestEntry, type SNSClient } from "@aws-sdk/client-sns";
import { runBounded } from "../../core/run-bounded.ts";
import { messageBytes, type TopicMessage } from "./sns-message.ts";

/** SNS PublishBatch limits: 10 entries and 256 KiB for the whole request. */
const MAX_ENTRIES = 10;
const MAX_BATCH_BYTES = 256 * 1024;
/** PublishBatch calls in flight at once for publishMessages (remediation outcomes: a few per invocation). */
const DEFAULT_CONCURRENCY = 4;

export class PublishError extends Error {
  constructor(
    message: string,
    readonly failedIds: string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "PublishError";
  }
}

/** What became of one message of a batch. */
export type EntryOutcome = { ok: true } | { ok: false; reason: string };

/** Items in order, cut into PublishBatch requests of at most 10 entries and 256 KiB (`sizeOf` each). */
export function batchesOf<T>(items: readonly T[], sizeOf: (item: T) => number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length === MAX_ENTRIES || (current.length > 0 && bytes + size > MAX_BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** The error's name and message, and its cause's (the SDK wraps the useful part). */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.name}: ${error.cause.message})` : "";
  return `${error.name}: ${error.message}${cause}`;
}

/** Batch IDs allow only alphanumerics, hyphens and underscores, up to 80 characters. */
function batchEntryId(index: number): string {
  return `m${index}`;
}

/**
 * SNS refused the request itself as the sender's fault (an entry it would not take, say), rather than
 * failing on its side or on the way. The SDK has already retried what is worth retrying.
 */
function isSenderFault(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { $fault, $retryable } = error as { $fault?: unknown; $retryable?: { throttling?: boolean } };
  // Throttling is the client's fault too, but ten requests instead of one would not help.
  return $fault === "client" && $retryable?.throttling !== true;
}

async function sendBatch(
  client: SNSClient,
  topicArn: string,
  batch: readonly TopicMessage[],
): Promise<EntryOutcome[]> {
  const entries: PublishBatchRequestEntry[] = batch.map((message, index) => ({
    Id: batchEntryId(index),
    Message: message.body,
    MessageAttributes: message.attributes,
  }));
  const result = await client.send(
    new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: entries }),
  );
  const failed = new Map((result.Failed ?? []).map((entry) => [entry.Id, entry]));
  return batch.map((_, index) => {
    const entry = failed.get(batchEntryId(index));
    return entry ? { ok: false, reason: `${entry.Code}: ${entry.Message}` } : { ok: true };
  });
}

/**
 * Publishes up to 10 messages with one PublishBatch and says what became of each; never throws. Entries SNS
 * lists as failed fail alone. When SNS refuses the whole request as the sender's fault, each message is
 * sent again on its own, so that one message SNS will not take never takes the others down with it.
 */
export async function publishBatch(
  client: SNSClient,
  topicArn: string,
  batch: readonly TopicMessage[],
): Promise<EntryOutcome[]> {
  try {
    return await sendBatch(client, topicArn, batch);
  } catch (error) {
    if (batch.length > 1 && isSenderFault(error)) {
      const alone = await runBounded(batch, MAX_ENTRIES, (message) =>
        publishBatch(client, topicArn, [message]),
      );
      return alone.map((outcome) =>
        outcome.ok
          ? (outcome.value[0] ?? { ok: false, reason: "no outcome" })
          : { ok: false, reason: describeError(outcome.error) },
      );
    }
    const reason = describeError(error);
    return batch.map(() => ({ ok: false, reason }));
  }
}

/**
 * Publishes every message, in batches, `concurrency` PublishBatch calls at a time. Resolves with the ids
 * published; throws PublishError naming the messages that failed (after the SDK's own retries) so the caller
 * can fail the invocation and be retried.
 */
export async function publishMessages(
  client: SNSClient,
  topicArn: string,
  messages: readonly TopicMessage[],
  concurrency = DEFAULT_CONCURRENCY,
): Promise<string[]> {
  const published: string[] = [];
  const failed: string[] = [];
  let lastReason: string | undefined;
  const batches = batchesOf(messages, messageBytes);
  const outcomes = await runBounded(batches, concurrency, (batch) => publishBatch(client, topicArn, batch));
  batches.forEach((batch, batchIndex) => {
    const settled = outcomes[batchIndex];
    batch.forEach((message, index) => {
      const outcome: EntryOutcome | undefined = settled?.ok ? settled.value[index] : undefined;
      if (outcome?.ok) {
        published.push(message.id);
      } else {
        failed.push(message.id);
        lastReason =
          outcome?.reason ?? (settled && !settled.ok ? describeError(settled.error) : "no outcome");
      }
    });
  });
  if (failed.length > 0) {
    throw new PublishError(`failed to publish ${failed.length} of ${messages.length} messages`, failed, {
      cause: new Error(lastReason),
    });
  }
  return published;
}
