import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { KinesisBatchInfo } from "../adapters/aws/read-stream-batch.ts";
import { readStreamBatch } from "../adapters/aws/read-stream-batch.ts";
import type { InvocationSummary } from "../adapters/lambda/detect-invocation.ts";

/**
 * One failed stream batch replayed (`ephemeral-guard replay`): read back from the stream, then run through the
 * detect logic as Lambda would, resuming at the lowest record detect names in its partial batch response
 * (records deferred over the decompression budget come again at the head of the next pass). The idempotency
 * table makes the records read twice publish nothing twice. Throws when a record at the head of a pass still
 * fails (its findings could not be published): the replay is then incomplete and its message stays queued.
 */

export type DetectOnce = (event: { Records: unknown[] }) => Promise<InvocationSummary>;

function sequenceOf(record: unknown): bigint {
  const sequence = (record as { kinesis?: { sequenceNumber?: unknown } }).kinesis?.sequenceNumber;
  return typeof sequence === "string" ? BigInt(sequence) : -1n;
}

export class StreamReplayError extends Error {
  override name = "StreamReplayError";
}

export async function detectStreamRecords(records: readonly unknown[], detect: DetectOnce): Promise<number> {
  let pending = [...records];
  let passes = 0;
  while (pending.length > 0) {
    passes++;
    const summary = await detect({ Records: pending });
    const failed = (summary.batchItemFailures ?? []).map((failure) => BigInt(failure.itemIdentifier));
    if (failed.length === 0) return passes;
    const lowest = failed.reduce((a, b) => (b < a ? b : a));
    if (lowest <= sequenceOf(pending[0])) {
      throw new StreamReplayError(
        `record ${lowest} still fails (${summary.publishFailures} finding(s) not published, ` +
          `${summary.idempotencyFailures} idempotency failure(s)): replay again later`,
      );
    }
    // Every pass starts further on, so this ends within one pass per record.
    pending = pending.filter((record) => sequenceOf(record) >= lowest);
  }
  return passes;
}

export async function replayStreamBatch(
  kinesis: KinesisClient,
  batch: KinesisBatchInfo,
  detect: DetectOnce,
): Promise<{ records: number; passes: number }> {
  const read = await readStreamBatch(kinesis, batch);
  const passes = await detectStreamRecords(read.event.Records, detect);
  return { records: read.records, passes };
}
