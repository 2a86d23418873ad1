/**
 * Builds events/cloudwatch/*.json — what Lambda and `aws logs` hand over — and events/kinesis/*.json — what
 * Lambda hands over from the organization's Kinesis stream — from the single audit events in events/audit, so
 * the transport samples never drift from the cases they carry. Deterministic: inputs are
 * sorted, ids and timestamps derive from the events, and node's zlib gives the same gzip for the same input.
 * Run `npm run events:build` after changing events/audit; test/events/cloudwatch-events-in-step.test.ts
 * fails until you do.
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

export const EVENTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "events");
export const CLOUDWATCH_DIR = join(EVENTS_DIR, "cloudwatch");
export const KINESIS_DIR = join(EVENTS_DIR, "kinesis");

export const OWNER = "111122223333";
export const LOG_GROUP = "/aws/eks/prod-eu1/cluster";
export const LOG_STREAM = "kube-apiserver-audit-6f1c9e0b2d4a47f8a3e5c7b9d1f0a2c4";
export const SUBSCRIPTION_FILTER = "ephemeral-guard-prod-eu1";
/** Milliseconds CloudWatch takes to ingest an audit line in these samples (filter-log-events `ingestionTime`). */
const INGESTION_DELAY_MS = 1_742;

interface AuditSample {
  file: string;
  event: { verb?: unknown; stageTimestamp?: unknown; requestReceivedTimestamp?: unknown };
  /** The event as kube-apiserver logs it: one line of compact JSON. */
  message: string;
  timestamp: number;
}

interface LogEvent {
  id: string;
  timestamp: number;
  message: string;
}

export type BuiltDocument = Record<string, unknown>;

function readAuditSamples(eventsDir: string): AuditSample[] {
  const auditDir = join(eventsDir, "audit");
  return readdirSync(auditDir)
    .filter((file) => file.endsWith(".json"))
    .sort()
    .map((file) => {
      const event = JSON.parse(readFileSync(join(auditDir, file), "utf8")) as AuditSample["event"];
      const time = event.stageTimestamp ?? event.requestReceivedTimestamp;
      const timestamp = typeof time === "string" ? Date.parse(time) : Number.NaN;
      if (Number.isNaN(timestamp)) throw new Error(`events/audit/${file}: no stageTimestamp to date it by`);
      return { file, event, message: JSON.stringify(event), timestamp };
    });
}

function sample(samples: readonly AuditSample[], file: string): AuditSample {
  const found = samples.find((s) => s.file === file);
  if (!found) throw new Error(`events/audit/${file} is missing: the CloudWatch samples are built from it`);
  return found;
}

/** CloudWatch event ids are 56-digit strings; these start with the timestamp like the real ones do. */
function eventId(timestamp: number, message: string): string {
  const digest = BigInt(`0x${createHash("sha256").update(message).digest("hex")}`).toString();
  return `${timestamp}${digest.padStart(43, "0").slice(0, 43)}`;
}

function logEvent(s: { timestamp: number; message: string }): LogEvent {
  return { id: eventId(s.timestamp, s.message), timestamp: s.timestamp, message: s.message };
}

function byTime(samples: readonly AuditSample[]): AuditSample[] {
  return [...samples].sort((a, b) => a.timestamp - b.timestamp || (a.file < b.file ? -1 : 1));
}

function dataMessage(logEvents: LogEvent[], owner: string = OWNER): BuiltDocument {
  return {
    messageType: "DATA_MESSAGE",
    owner,
    logGroup: LOG_GROUP,
    logStream: LOG_STREAM,
    subscriptionFilters: [SUBSCRIPTION_FILTER],
    logEvents,
  };
}

/** A data message as CloudWatch Logs delivers it: base64 of gzip of its JSON. */
export function awslogsData(message: BuiltDocument): string {
  return gzipSync(Buffer.from(JSON.stringify(message), "utf8"), { level: 9 }).toString("base64");
}

/** `{"awslogs":{"data":…}}` exactly as Lambda receives it from a subscription filter. */
export function awslogsEnvelope(message: BuiltDocument): BuiltDocument {
  return { awslogs: { data: awslogsData(message) } };
}

/** Where CloudWatch Logs cuts a message: its 256 KB event limit less the 26 bytes it counts per event. */
const CUT_AT = 262_144 - 26;
const PADDED_AUDIT_ID = "9b1d3f5a-7c9e-4b1d-8f3a-5c7e9b1d3f46";

interface PaddableEvent {
  auditID: string;
  requestObject: { spec: { ephemeralContainers: Array<Record<string, unknown>> } };
}

/** The event with an env value of 300,000 characters first in its added container, as kubectl orders keys. */
function withPaddedEnv(message: string, auditID: string): PaddableEvent {
  const event = JSON.parse(message) as PaddableEvent;
  event.auditID = auditID;
  const [container, ...rest] = event.requestObject.spec.ephemeralContainers;
  const pad = { name: "PAD", value: "A".repeat(300_000) };
  event.requestObject.spec.ephemeralContainers = [{ env: [pad], ...container }, ...rest];
  return event;
}

function controlMessage(timestamp: number): BuiltDocument {
  return {
    messageType: "CONTROL_MESSAGE",
    owner: "CloudwatchLogs",
    logGroup: "",
    logStream: "",
    subscriptionFilters: [],
    logEvents: [
      {
        id: "",
        timestamp,
        message: "CWL CONTROL MESSAGE: Checking health of destination Lambda function.",
      },
    ],
  };
}

const isWrite = (s: AuditSample) => s.event.verb === "patch" || s.event.verb === "update";

/** Every CloudWatch sample, by file name under events/cloudwatch. */
export function buildCloudWatchEvents(eventsDir: string = EVENTS_DIR): Map<string, BuiltDocument> {
  const samples = readAuditSamples(eventsDir);
  const built = new Map<string, BuiltDocument>();

  // What the subscription filter passes: every write on the subresource, whatever its stage or outcome.
  const writes = byTime(samples.filter(isWrite));
  built.set("subscription-all-write-cases.json", awslogsEnvelope(dataMessage(writes.map(logEvent))));

  const first = writes[0];
  built.set("control-message.json", awslogsEnvelope(controlMessage(first ? first.timestamp - 60_000 : 0)));

  // A record torn mid-object between two good ones, before anything in it names a resource: unreadable, not a
  // cut write (subscription-cut-padded-write.json is one of those).
  const good = sample(samples, "kubectl-debug-general-target.json");
  const cut = sample(samples, "kubectl-debug-netadmin-profile.json");
  const after = sample(samples, "privileged-sysadmin-profile.json");
  const broken = {
    timestamp: cut.timestamp,
    message: cut.message.slice(0, cut.message.indexOf('"requestURI"') - 8),
  };
  built.set(
    "subscription-batch-with-broken-record.json",
    awslogsEnvelope(dataMessage([logEvent(good), logEvent(broken), logEvent(after)])),
  );

  // kubectl debug --profile=sysadmin padded through --custom with a huge env value, so that its audit event is
  // over CloudWatch Logs' 256 KB event limit (262,144 bytes, less the 26 it counts per event) and arrives cut.
  // kubectl sends a container's keys in alphabetical order: env, and the padding in it, comes before the
  // name and securityContext, so the readable part shows who wrote to which pod, and no container.
  const padded = sample(samples, "privileged-sysadmin-profile.json");
  const paddedMessage = JSON.stringify(withPaddedEnv(padded.message, PADDED_AUDIT_ID)).slice(0, CUT_AT);
  built.set(
    "subscription-cut-padded-write.json",
    awslogsEnvelope(
      dataMessage([logEvent(good), logEvent({ timestamp: padded.timestamp, message: paddedMessage })]),
    ),
  );

  // The decoded payload, as logged by a function that prints its input.
  const session = byTime(
    ["kubectl-debug-restricted-profile.json", "kubectl-debug-general-target.json", "rbac-forbidden.json"].map(
      (file) => sample(samples, file),
    ),
  );
  built.set("data-message-kubectl-debug-session.json", dataMessage(session.map(logEvent)));

  // `aws logs filter-log-events --log-group-name /aws/eks/prod-eu1/cluster --filter-pattern …` output.
  const incident = byTime(
    ["token-volume-mount.json", "secret-env.json", "privileged-sysadmin-profile.json"].map((file) =>
      sample(samples, file),
    ),
  );
  built.set("filter-log-events-secret-access.json", {
    events: incident.map((s) => ({
      logStreamName: LOG_STREAM,
      timestamp: s.timestamp,
      message: s.message,
      ingestionTime: s.timestamp + INGESTION_DELAY_MS,
      eventId: eventId(s.timestamp, s.message),
    })),
    searchedLogStreams: [],
  });
  return built;
}

/** The central account's stream in an organization deployment (issue 10), and the member accounts. */
export const CENTRAL_ACCOUNT = "999988887777";
export const KINESIS_REGION = "eu-west-1";
export const STREAM_ARN = `arn:aws:kinesis:${KINESIS_REGION}:${CENTRAL_ACCOUNT}:stream/ephemeral-guard-audit`;
/** A second member account with a cluster of the same name as OWNER's: only the account tells them apart. */
export const OTHER_OWNER = "444455556666";
const SHARD = "shardId-000000000003";

/** Kinesis sequence numbers are decimal strings of up to 128 digits; these are 56, like real ones. */
function sequenceNumber(index: number): string {
  return `4965${String(index).padStart(4, "0")}${"0".repeat(16)}${createHash("sha256")
    .update(`sequence ${index}`)
    .digest("hex")
    .replace(/[a-f]/g, "")
    .padEnd(32, "7")
    .slice(0, 32)}`;
}

export interface StreamRecord {
  /** base64 of what CloudWatch Logs put: gzip of a data message, or anything else for a corrupt record. */
  data: string;
  arrival: number;
}

/**
 * The event Lambda hands detect from the stream: one batch of one shard, records in sequence order. Also what
 * `npm run bench` feeds the detect handler (a batch of 100 records: awslogsData of each payload).
 */
export function kinesisEvent(records: readonly StreamRecord[]): BuiltDocument {
  return {
    Records: records.map((record, index) => {
      const sequence = sequenceNumber(index + 1);
      return {
        kinesis: {
          kinesisSchemaVersion: "1.0",
          // CloudWatch Logs chooses the partition key; it is opaque to the reader.
          partitionKey: createHash("sha256").update(record.data).digest("hex").slice(0, 32),
          sequenceNumber: sequence,
          data: record.data,
          approximateArrivalTimestamp: record.arrival / 1000,
        },
        eventSource: "aws:kinesis",
        eventVersion: "1.0",
        eventID: `${SHARD}:${sequence}`,
        eventName: "aws:kinesis:record",
        invokeIdentityArn: `arn:aws:iam::${CENTRAL_ACCOUNT}:role/ephemeral-guard-detect`,
        awsRegion: KINESIS_REGION,
        eventSourceARN: STREAM_ARN,
      };
    }),
  };
}

/** Every Kinesis sample, by file name under events/kinesis. */
export function buildKinesisEvents(eventsDir: string = EVENTS_DIR): Map<string, BuiltDocument> {
  const samples = readAuditSamples(eventsDir);
  const built = new Map<string, BuiltDocument>();
  const session = byTime(
    ["kubectl-debug-restricted-profile.json", "kubectl-debug-general-target.json", "rbac-forbidden.json"].map(
      (file) => sample(samples, file),
    ),
  );
  const other = sample(samples, "privileged-sysadmin-profile.json");
  const last = session[session.length - 1] ?? other;
  // Two member accounts whose clusters share one name (/aws/eks/prod-eu1/cluster), a destination health
  // check, and a record whose data is not gzip (a corrupt put): one shard's batch as detect receives it.
  built.set(
    "batch-two-accounts-control-and-corrupt-record.json",
    kinesisEvent([
      { data: awslogsData(dataMessage(session.map(logEvent))), arrival: last.timestamp + 900 },
      { data: awslogsData(controlMessage(last.timestamp)), arrival: last.timestamp + 950 },
      {
        data: Buffer.from("not gzip: cut by a broken producer").toString("base64"),
        arrival: last.timestamp + 990,
      },
      {
        data: awslogsData(dataMessage([logEvent(other)], OTHER_OWNER)),
        arrival: Math.max(other.timestamp, last.timestamp) + 1_000,
      },
    ]),
  );
  return built;
}

function writeSamples(eventsDir: string, folder: string, built: Map<string, BuiltDocument>): string[] {
  const dir = join(eventsDir, folder);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [file, document] of built) {
    writeFileSync(join(dir, file), `${JSON.stringify(document, null, 2)}\n`);
    written.push(join("events", folder, file));
  }
  return written;
}

export function writeCloudWatchEvents(eventsDir: string = EVENTS_DIR): string[] {
  return writeSamples(eventsDir, "cloudwatch", buildCloudWatchEvents(eventsDir));
}

export function writeKinesisEvents(eventsDir: string = EVENTS_DIR): string[] {
  return writeSamples(eventsDir, "kinesis", buildKinesisEvents(eventsDir));
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(resolve(invokedPath)).href) {
  for (const file of [...writeCloudWatchEvents(), ...writeKinesisEvents()]) console.log(`wrote ${file}`);
}
