import { PublishBatchCommand, type PublishBatchRequestEntry, type SNSClient } from "@aws-sdk/client-sns";
import type { TopicMessage } from "./sns-message.ts";

/** SNS PublishBatch limits: 10 entries and 256 KiB for the whole request. */
const MAX_ENTRIES = 10;
const MAX_BATCH_BYTES = 256 * 1024;

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

function entrySize(message: TopicMessage): number {
  let size = Buffer.byteLength(message.body);
  for (const [name, value] of Object.entries(message.attributes)) {
    size +=
      Buffer.byteLength(name) + Buffer.byteLength(value.DataType) + Buffer.byteLength(value.StringValue);
  }
  return size;
}

function batches(messages: readonly TopicMessage[]): TopicMessage[][] {
  const out: TopicMessage[][] = [];
  let current: TopicMessage[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = entrySize(message);
    if (current.length === MAX_ENTRIES || (current.length > 0 && bytes + size > MAX_BATCH_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Batch IDs allow only alphanumerics, hyphens and underscores, up to 80 characters. */
function batchEntryId(index: number): string {
  return `m${index}`;
}

/**
 * Publishes every message, in batches. Resolves with the ids published; throws PublishError naming the
 * messages that failed (after the SDK's own retries) so the caller can fail the invocation and be retried.
 */
export async function publishMessages(
  client: SNSClient,
  topicArn: string,
  messages: readonly TopicMessage[],
): Promise<string[]> {
  const published: string[] = [];
  const failed: string[] = [];
  let lastError: unknown;
  for (const batch of batches(messages)) {
    const entries: PublishBatchRequestEntry[] = batch.map((message, index) => ({
      Id: batchEntryId(index),
      Message: message.body,
      MessageAttributes: message.attributes,
    }));
    try {
      const result = await client.send(
        new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: entries }),
      );
      const failedEntryIds = new Set((result.Failed ?? []).map((entry) => entry.Id));
      batch.forEach((message, index) => {
        (failedEntryIds.has(batchEntryId(index)) ? failed : published).push(message.id);
      });
      if (result.Failed?.length)
        lastError = new Error(result.Failed.map((f) => `${f.Code}: ${f.Message}`).join("; "));
    } catch (error) {
      lastError = error;
      failed.push(...batch.map((message) => message.id));
    }
  }
  if (failed.length > 0) {
    throw new PublishError(`failed to publish ${failed.length} of ${messages.length} messages`, failed, {
      cause: lastError,
    });
  }
  return published;
}
