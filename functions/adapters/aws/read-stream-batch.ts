import { Buffer } from "node:buffer";
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import * as z from "zod";
import { originOfArn } from "../../core/aws-origin.ts";

/**
 * A Kinesis batch that detect's event source mapping gave up on, read back from the stream. The mapping's
 * on-failure destination records where the batch was (stream, shard, first and last sequence numbers), not
 * its data; the data is in the stream only while the stream retains it (24 hours unless its retention was
 * raised). This reads the records from the first to the last sequence number again and hands them over as the
 * Kinesis Lambda event detect received, so that detect's own logic runs on them.
 */

/** What Lambda writes to a stream mapping's on-failure destination (fields this tool needs). */
export const KinesisBatchInfoSchema = z.looseObject({
  shardId: z.string().min(1).max(128),
  startSequenceNumber: z.string().regex(/^\d{1,128}$/),
  endSequenceNumber: z.string().regex(/^\d{1,128}$/),
  /** Records the batch had: at most 10,000 (the mapping's largest batch). */
  batchSize: z.number().int().min(1).max(10_000).optional(),
  streamArn: z.string().regex(/^arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[A-Za-z0-9_.-]{1,128}$/),
});
export type KinesisBatchInfo = z.infer<typeof KinesisBatchInfoSchema>;

/**
 * GetRecords calls for one batch. A batch is at most 10,000 records and 6 MB, which one call can return
 * (10,000 records, 10 MB); more calls happen when Kinesis returns less, and an empty page can come before
 * records that exist. Past this many calls the batch is reported unread, never read forever.
 */
export const MAX_GET_RECORDS_CALLS = 50;

export interface StreamBatch {
  /** `{"Records":[…]}` as Lambda hands it to detect, in sequence order. */
  event: { Records: unknown[] };
  /** Records read (those between the batch's first and last sequence numbers). */
  records: number;
}

/** The batch cannot be read back whole: why, for the operator. */
export class StreamBatchError extends Error {
  override name = "StreamBatchError";
}

function lambdaRecord(
  info: KinesisBatchInfo,
  region: string | undefined,
  record: {
    SequenceNumber?: string;
    PartitionKey?: string;
    Data?: Uint8Array;
    ApproximateArrivalTimestamp?: Date;
  },
): unknown {
  return {
    kinesis: {
      kinesisSchemaVersion: "1.0",
      partitionKey: record.PartitionKey ?? "",
      sequenceNumber: record.SequenceNumber,
      data: Buffer.from(record.Data ?? new Uint8Array()).toString("base64"),
      ...(record.ApproximateArrivalTimestamp
        ? { approximateArrivalTimestamp: record.ApproximateArrivalTimestamp.getTime() / 1000 }
        : {}),
    },
    eventSource: "aws:kinesis",
    eventVersion: "1.0",
    eventID: `${info.shardId}:${record.SequenceNumber}`,
    eventName: "aws:kinesis:record",
    ...(region ? { awsRegion: region } : {}),
    eventSourceARN: info.streamArn,
  };
}

/**
 * The records of the batch, read with GetShardIterator (AT_SEQUENCE_NUMBER, the first) and GetRecords up to
 * the last. Throws StreamBatchError when the stream no longer holds the first record (retention passed: the
 * batch is lost from the stream) or the last cannot be reached within MAX_GET_RECORDS_CALLS.
 */
export async function readStreamBatch(kinesis: KinesisClient, info: KinesisBatchInfo): Promise<StreamBatch> {
  const start = BigInt(info.startSequenceNumber);
  const end = BigInt(info.endSequenceNumber);
  if (end < start) throw new StreamBatchError(`the batch ends (${end}) before it starts (${start})`);
  const region = originOfArn(info.streamArn).region;
  const opened = await kinesis.send(
    new GetShardIteratorCommand({
      StreamARN: info.streamArn,
      ShardId: info.shardId,
      ShardIteratorType: "AT_SEQUENCE_NUMBER",
      StartingSequenceNumber: info.startSequenceNumber,
    }),
  );
  let iterator = opened.ShardIterator;
  const records: unknown[] = [];
  let first = true;
  for (let calls = 0; calls < MAX_GET_RECORDS_CALLS; calls++) {
    if (!iterator) throw new StreamBatchError(`shard ${info.shardId} closed before sequence number ${end}`);
    const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
    for (const record of page.Records ?? []) {
      const sequence = BigInt(record.SequenceNumber ?? "0");
      if (first && sequence !== start) {
        throw new StreamBatchError(
          `the stream no longer holds sequence number ${start} of ${info.shardId} (its retention passed): ` +
            "the batch cannot be read back",
        );
      }
      first = false;
      if (sequence > end) return { event: { Records: records }, records: records.length };
      records.push(lambdaRecord(info, region, record));
      if (sequence === end) return { event: { Records: records }, records: records.length };
    }
    // Nothing more to read now: the shard's end is reached, and the last record was not in it.
    if ((page.Records ?? []).length === 0 && page.MillisBehindLatest === 0) {
      throw new StreamBatchError(
        first
          ? `the stream no longer holds sequence number ${start} of ${info.shardId} (its retention passed): the batch cannot be read back`
          : `shard ${info.shardId} ends before sequence number ${end}`,
      );
    }
    iterator = page.NextShardIterator;
  }
  throw new StreamBatchError(
    `sequence number ${end} of ${info.shardId} not reached in ${MAX_GET_RECORDS_CALLS} GetRecords calls`,
  );
}
