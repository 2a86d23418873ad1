import type { Buffer } from "node:buffer";
import * as z from "zod";
import { isRegion, originOfArn } from "./aws-origin.ts";
import {
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  type Delivery,
  decodeInflatedData,
  inflateAwslogsData,
  inflationProblem,
} from "./decode-cloudwatch.ts";
import { isRecord } from "./is-record.ts";
import type { DecodedInput, InputProblem } from "./log-record.ts";

/**
 * A Kinesis Lambda event whose records are CloudWatch Logs subscription payloads: what detect receives in an
 * organization deployment, where every member account's audit log groups subscribe to one Logs destination
 * that puts into a Kinesis stream (issue 10). Each record's data is the same bytes as a subscription's
 * awslogs.data (base64 gzip of a data message, CONTROL_MESSAGEs included).
 *
 * One record costs only itself: a record that is not base64 gzip JSON is a problem naming its sequence number,
 * rejected and counted, never retried (a retry would read the same bytes). What is not read because the batch
 * is over its decompression budget is not a problem: it is `deferred`, and detect hands it back to Lambda in
 * its partial batch response, to come again at the head of a later batch.
 */

/** Lambda writes these; a sequence number is up to 128 digits (Kinesis API). */
const SEQUENCE_NUMBER = /^\d{1,128}$/;

/**
 * What one batch may decompress to, all records together: as much as one subscription payload may, so a
 * Kinesis batch costs detect no more memory than the largest delivery it already takes (plus one record).
 */
export const DEFAULT_MAX_BATCH_DECOMPRESSED_BYTES = DEFAULT_MAX_DECOMPRESSED_BYTES;

const KinesisRecordSchema = z.looseObject({
  kinesis: z.looseObject({
    data: z.string(),
    sequenceNumber: z.string().regex(SEQUENCE_NUMBER, "a Kinesis sequence number"),
    partitionKey: z.string().optional(),
  }),
  eventSourceARN: z.string().optional(),
  awsRegion: z.string().optional(),
  eventID: z.string().optional(),
});

export interface KinesisDecodeOptions {
  /**
   * Decompressed bytes read from one batch, all records together. Lambda hands over at most 6 MB of base64;
   * gzip of a crafted audit line can grow a thousandfold, so the budget, not the batch, bounds memory. A record
   * past it is deferred, not rejected: a write padded to be compressible must not push other accounts' records
   * out of the stream.
   */
  maxBatchDecompressedBytes?: number;
  /** Decompressed bytes of one record (as of one subscription payload); a larger record is rejected. */
  maxDecompressedBytes?: number;
  /** The region to give records whose event names none (a hand-made sample). */
  region?: string;
}

/** `{"Records":[{"kinesis":{…}}, …]}`: recognised by content, as every other form (decode-input.ts). */
export function isKinesisEvent(value: unknown): boolean {
  if (!isRecord(value) || !Array.isArray(value.Records)) return false;
  const [first] = value.Records as unknown[];
  return isRecord(first) && "kinesis" in first;
}

/** The Kinesis sequence number a raw record claims, for naming it in a problem; undefined when not one. */
function claimedSequenceNumber(value: unknown): string | undefined {
  if (!isRecord(value) || !isRecord(value.kinesis)) return undefined;
  const sequence = value.kinesis.sequenceNumber;
  return typeof sequence === "string" && SEQUENCE_NUMBER.test(sequence) ? sequence : undefined;
}

/** Region and partition from the record: its `awsRegion`, else its stream's ARN, else the caller's default. */
function deliveryOrigin(
  record: z.infer<typeof KinesisRecordSchema>,
  fallbackRegion: string | undefined,
): Delivery {
  const fromArn = originOfArn(record.eventSourceARN);
  const region = isRegion(record.awsRegion) ? record.awsRegion : (fromArn.region ?? fallbackRegion);
  // The stream gathers the organization's accounts: each payload's owner says whose cluster it is.
  const origin: Delivery = { accountFromOwner: true };
  if (region) origin.region = region;
  if (fromArn.partition) origin.partition = fromArn.partition;
  return origin;
}

export function decodeKinesisEvent(
  value: unknown,
  position: string,
  options: KinesisDecodeOptions = {},
): DecodedInput {
  const out: DecodedInput = { form: "kinesis", records: [], problems: [], controlMessages: 0, deferred: [] };
  const items = isRecord(value) && Array.isArray(value.Records) ? (value.Records as unknown[]) : [];
  const perRecord = options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  const budget = options.maxBatchDecompressedBytes ?? DEFAULT_MAX_BATCH_DECOMPRESSED_BYTES;
  let used = 0;
  items.forEach((item, index) => {
    const claimed = claimedSequenceNumber(item);
    const where = `${position} Records[${index}]${claimed ? ` (sequence ${claimed})` : ""}`;
    const parsed = KinesisRecordSchema.safeParse(item);
    if (!parsed.success) {
      const problem: InputProblem = {
        position: where,
        kind: "invalid-payload",
        message: `not a Kinesis record with data and a sequence number: ${z.prettifyError(parsed.error)}`,
      };
      if (claimed) problem.batchItem = claimed;
      out.problems.push(problem);
      return;
    }
    const record = parsed.data;
    const batchItem = record.kinesis.sequenceNumber;
    let raw: Buffer;
    try {
      raw = inflateAwslogsData(record.kinesis.data, perRecord);
    } catch (error) {
      out.problems.push({ ...inflationProblem(error, where, perRecord), batchItem });
      return;
    }
    // The first record read always fits (it is within perRecord); a later one that does not fit what is
    // left waits for a batch of its own.
    if (used > 0 && used + raw.length > budget) {
      out.deferred?.push({
        batchItem,
        position: where,
        reason: `the batch had decompressed ${used} bytes of its ${budget} before this record`,
      });
      return;
    }
    used += raw.length;
    const decoded = decodeInflatedData(raw, where, deliveryOrigin(record, options.region));
    out.controlMessages += decoded.controlMessages;
    for (const problem of decoded.problems) out.problems.push({ ...problem, batchItem });
    for (const logRecord of decoded.records) {
      logRecord.batchItem = batchItem;
      out.records.push(logRecord);
    }
  });
  return out;
}
