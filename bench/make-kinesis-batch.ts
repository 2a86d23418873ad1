import {
  awslogsData,
  type BuiltDocument,
  kinesisEvent,
  type StreamRecord,
} from "../scripts/build-cloudwatch-events.ts";
import { type DeliverySize, deliverySize } from "./make-payloads.ts";
import { RandomSource } from "./random-source.ts";
import { FILTERED_DELIVERY_SIZES } from "./streams.ts";
import { Traffic } from "./traffic.ts";

/**
 * One batch of the organization's Kinesis stream as the event source mapping hands it to detect (issue 10):
 * `records` CloudWatch Logs deliveries, each a subscription payload of what the term pattern
 * `ephemeralcontainers` passed from one member account's cluster (the filtered traffic of bench/traffic.ts, one
 * to five events a delivery as bench/streams.ts draws them), the accounts' deliveries interleaved in the shard
 * as CloudWatch Logs puts them. Built with the samples' own `kinesisEvent` and `awslogsData`
 * (scripts/build-cloudwatch-events.ts), so the bench reads the bytes the samples and tests read.
 */

export interface KinesisBatchSpec {
  seed: number;
  records: number;
  /** Member accounts (12-digit ids), one cluster each; a record's account is drawn at random. */
  accounts: readonly string[];
  eventsPerRecord?: DeliverySize;
  /**
   * Tags every auditID (its first 8 hex digits) so that each pass's findings are new to the idempotency table:
   * the same bytes otherwise, pass after pass. Keeps the auditIDs UUIDs of the same length.
   */
  run: number;
}

export interface KinesisBatch {
  event: BuiltDocument;
  records: number;
  /** Audit events over all records. */
  events: number;
  /** Events a finding is expected from (writes and refused writes; bench/traffic.ts `write`). */
  findings: number;
  /** Events by what they are (the filtered mix's names). */
  kinds: Map<string, number>;
  /** Each record's owner, in record order. */
  owners: string[];
  /** Each record's audit event messages, in record order: what the decoder must give back. */
  messages: string[][];
  /** Sum of the records' base64 data: what counts against Lambda's 6 MB payload. */
  base64Bytes: number;
  /** Sum of the records' data messages, decompressed: what counts against detect's batch budget. */
  decompressedBytes: number;
}

/** The bench's member accounts and their clusters. */
export const BENCH_ACCOUNTS = [
  "111122223333",
  "444455556666",
  "210987654321",
  "345678901234",
  "567890123456",
];

const clusterOf = (index: number) =>
  `prod-${["payments", "checkout", "search", "identity", "platform"][index % 5]}`;

function runTag(run: number): string {
  if (!Number.isInteger(run) || run < 0 || run > 0xffffffff)
    throw new RangeError(`run ${run}: not 0..2^32-1`);
  return run.toString(16).padStart(8, "0");
}

export function kinesisBatch(spec: KinesisBatchSpec): KinesisBatch {
  const random = new RandomSource(spec.seed);
  const tag = runTag(spec.run);
  // One cluster per account, each with its own audit traffic (its own pods, nodes, clock).
  const clusters = spec.accounts.map((owner, index) => ({
    owner,
    traffic: new Traffic("filtered", new RandomSource(spec.seed * 100 + index + 1)),
    logGroup: `/aws/eks/${clusterOf(index)}/cluster`,
    logStream: `kube-apiserver-audit-${random.hex(32)}`,
  }));
  const batch: KinesisBatch = {
    event: {},
    records: spec.records,
    events: 0,
    findings: 0,
    kinds: new Map(),
    owners: [],
    messages: [],
    base64Bytes: 0,
    decompressedBytes: 0,
  };
  const streamRecords: StreamRecord[] = [];
  for (let r = 0; r < spec.records; r++) {
    const cluster = random.pick(clusters);
    const wanted = deliverySize(spec.eventsPerRecord ?? FILTERED_DELIVERY_SIZES, random);
    const logEvents = [];
    const texts: string[] = [];
    for (let e = 0; e < wanted; e++) {
      const message = cluster.traffic.next();
      const text = message.text.replace(/"auditID":"[0-9a-f]{8}/, `"auditID":"${tag}`);
      batch.kinds.set(message.kind, (batch.kinds.get(message.kind) ?? 0) + 1);
      if (message.write) batch.findings++;
      texts.push(text);
      logEvents.push({ id: random.digits(56), timestamp: cluster.traffic.clock, message: text });
    }
    const dataMessage = {
      messageType: "DATA_MESSAGE",
      owner: cluster.owner,
      logGroup: cluster.logGroup,
      logStream: cluster.logStream,
      subscriptionFilters: ["ephemeral-guard-ephemeral-containers"],
      logEvents,
    };
    const data = awslogsData(dataMessage);
    batch.events += wanted;
    batch.owners.push(cluster.owner);
    batch.messages.push(texts);
    batch.base64Bytes += data.length;
    batch.decompressedBytes += Buffer.byteLength(JSON.stringify(dataMessage));
    // CloudWatch Logs puts the delivery a second or two after the events were ingested.
    streamRecords.push({ data, arrival: cluster.traffic.clock + 1_000 + random.int(2_000) });
  }
  batch.event = kinesisEvent(streamRecords);
  return batch;
}
