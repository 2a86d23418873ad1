import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import * as z from "zod";
import { type KinesisBatchInfo, KinesisBatchInfoSchema } from "./read-stream-batch.ts";

/**
 * Replays detect invocations that Lambda gave up on. Its on-failure destination wraps each failed async
 * invocation in a record whose `requestPayload` is the original event; this feeds that event to the detect
 * logic again and deletes the message only once it succeeded. The idempotency table makes a replay of an
 * event whose findings were partly (or entirely) published before publish nothing twice.
 *
 * In an organization deployment detect also reads a Kinesis stream, and the stream mapping's on-failure
 * destination records where the failed batch was (`KinesisBatchInfo`: stream, shard, sequence numbers), not
 * its data: those records are handed to `replayStream`, which reads the batch back from the stream.
 */

/** What Lambda writes to an on-failure destination (fields this tool needs). */
const DestinationRecordSchema = z.object({
  requestContext: z.object({
    requestId: z.string().optional(),
    functionArn: z.string(),
    condition: z.string().optional(),
    approximateInvokeCount: z.number().optional(),
  }),
  requestPayload: z.unknown().optional(),
  KinesisBatchInfo: KinesisBatchInfoSchema.optional(),
});

type DestinationRecord = z.infer<typeof DestinationRecordSchema>;

export interface ReplayOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** Runs the detect logic on one original event; throws when it did not fully succeed. */
  replay: (event: unknown, deadlineMs: number) => Promise<void>;
  /** Reads a failed stream batch back and runs the detect logic on it; throws when it did not fully succeed. */
  replayStream?: (batch: KinesisBatchInfo, deadlineMs: number) => Promise<void>;
  /** Stop after this many messages (bounds one run). */
  maxMessages: number;
  /** How long a received message stays hidden from other readers while it is replayed. */
  visibilityTimeoutSeconds: number;
  /** Only records of functions whose name ends with this are replayed (others are left in the queue). */
  functionNameSuffix: string;
  log: (event: ReplayEvent) => void;
}

export type ReplayEvent =
  | { kind: "replayed"; messageId: string; requestId?: string }
  | { kind: "failed"; messageId: string; requestId?: string; reason: string }
  | { kind: "unreadable"; messageId: string; reason: string };

export interface ReplayStats {
  received: number;
  replayed: number;
  failed: number;
  unreadable: number;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function functionName(functionArn: string): string {
  // arn:aws:lambda:region:account:function:name[:qualifier]
  return functionArn.split(":")[6] ?? "";
}

export async function replayFailedInvocations(options: ReplayOptions): Promise<ReplayStats> {
  const stats: ReplayStats = { received: 0, replayed: 0, failed: 0, unreadable: 0 };
  const { sqs, queueUrl, log } = options;
  // Each message is received at most once per run: failures stay hidden until their visibility timeout.
  while (stats.received < options.maxMessages) {
    const batch = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, options.maxMessages - stats.received),
        VisibilityTimeout: options.visibilityTimeoutSeconds,
        WaitTimeSeconds: 2,
      }),
    );
    const messages = batch.Messages ?? [];
    if (messages.length === 0) break;
    for (const message of messages) {
      stats.received++;
      const messageId = message.MessageId ?? "(no id)";
      let record: z.infer<typeof DestinationRecordSchema>;
      try {
        const parsed = DestinationRecordSchema.safeParse(JSON.parse(message.Body ?? ""));
        if (!parsed.success) throw new Error(z.prettifyError(parsed.error));
        record = parsed.data;
        if (record.requestPayload === undefined && record.KinesisBatchInfo === undefined)
          throw new Error("neither requestPayload nor KinesisBatchInfo: nothing to replay");
        if (!functionName(record.requestContext.functionArn).endsWith(options.functionNameSuffix)) {
          throw new Error(`a failure of ${record.requestContext.functionArn}, not of a detect function`);
        }
      } catch (error) {
        stats.unreadable++;
        log({ kind: "unreadable", messageId, reason: reasonOf(error) });
        continue;
      }
      const requestId = record.requestContext.requestId;
      try {
        await replayOne(options, record, Date.now() + options.visibilityTimeoutSeconds * 1000);
      } catch (error) {
        stats.failed++;
        log({ kind: "failed", messageId, ...(requestId ? { requestId } : {}), reason: reasonOf(error) });
        continue;
      }
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
      stats.replayed++;
      log({ kind: "replayed", messageId, ...(requestId ? { requestId } : {}) });
    }
  }
  return stats;
}

async function replayOne(
  options: ReplayOptions,
  record: DestinationRecord,
  deadlineMs: number,
): Promise<void> {
  const batch = record.KinesisBatchInfo;
  if (batch === undefined) return options.replay(record.requestPayload, deadlineMs);
  if (!options.replayStream) throw new Error("a stream batch, and this replay does not read streams");
  return options.replayStream(batch, deadlineMs);
}
