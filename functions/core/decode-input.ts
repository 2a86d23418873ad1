import {
  awslogsDataOf,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  decodeAwslogsData,
  decodeDataMessage,
  decodeFilterLogEvents,
  errorMessage,
  isDataMessage,
} from "./decode-cloudwatch.ts";
import { decodeKinesisEvent, isKinesisEvent } from "./decode-kinesis.ts";
import { isRecord } from "./is-record.ts";
import type { DecodedInput, LogRecord } from "./log-record.ts";
import { mayCarryMarker } from "./select-write.ts";

export interface DecodeOptions {
  maxDecompressedBytes?: number;
  /** A Kinesis batch's decompression budget, all records together (decode-kinesis.ts). */
  maxBatchDecompressedBytes?: number;
  /** Log group to attach when the input itself does not name one (JSON Lines, filter-log-events output). */
  logGroup?: string;
  /**
   * The region of deliveries that do not say theirs: a same-account subscription's log group is in the detect
   * function's own region (AWS_REGION). Its findings get that region and no account (decode-cloudwatch.ts
   * Delivery says why), so their exactly-once keys stay as they were. A Kinesis record's own region
   * (awsRegion, eventSourceARN) comes first.
   */
  region?: string;
}

function looksLikeAuditEvent(value: unknown): boolean {
  return (
    isRecord(value) && (value.kind === "Event" || (typeof value.auditID === "string" && "verb" in value))
  );
}

function regionOnly(region: string | undefined): { region?: string } {
  return region ? { region } : {};
}

function withLogGroup(record: LogRecord, logGroup: string | undefined): LogRecord {
  return logGroup ? { ...record, logGroup } : record;
}

/**
 * Any already-parsed input: a Lambda invocation event or a whole JSON file. The form is recognised by its
 * content, never by a file name, so the CLI and the Lambda accept exactly the same things.
 */
export function decodeDocument(value: unknown, position: string, options: DecodeOptions = {}): DecodedInput {
  if (isRecord(value) && "awslogs" in value) {
    const data = awslogsDataOf(value);
    if (data === undefined) {
      return {
        form: "cloudwatch-subscription",
        records: [],
        problems: [{ position, kind: "invalid-payload", message: "awslogs.data is missing or not a string" }],
        controlMessages: 0,
      };
    }
    return decodeAwslogsData(
      data,
      position,
      options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES,
      regionOnly(options.region),
    );
  }
  if (isKinesisEvent(value)) return decodeKinesisEvent(value, position, options);
  if (isDataMessage(value)) return decodeDataMessage(value, position, regionOnly(options.region));
  if (isRecord(value) && Array.isArray(value.events))
    return decodeFilterLogEvents(value, position, options.logGroup);
  if (looksLikeAuditEvent(value)) {
    return {
      form: "audit-event",
      records: [withLogGroup({ value, position }, options.logGroup)],
      problems: [],
      controlMessages: 0,
    };
  }
  const items = Array.isArray(value)
    ? value
    : isRecord(value) && value.kind === "EventList"
      ? value.items
      : undefined;
  if (Array.isArray(items)) {
    return {
      form: "audit-event-list",
      records: items.map((item, index) =>
        withLogGroup({ value: item, position: `${position}[${index}]` }, options.logGroup),
      ),
      problems: [],
      controlMessages: 0,
    };
  }
  return {
    form: "unknown",
    records: [],
    problems: [
      {
        position,
        kind: "unknown-shape",
        message:
          "not an audit event, an EventList, a CloudWatch Logs subscription event or data message, a Kinesis event, nor filter-log-events output",
      },
    ],
    controlMessages: 0,
  };
}

/** JSON Lines as kube-apiserver's log backend writes them: one audit event per line, parsed lazily. */
export function decodeJsonLines(text: string, source: string, options: DecodeOptions = {}): DecodedInput {
  const out: DecodedInput = { form: "json-lines", records: [], problems: [], controlMessages: 0 };
  let lineNumber = 0;
  for (const line of text.split("\n")) {
    lineNumber++;
    const trimmed = line.trim();
    if (trimmed === "") continue;
    out.records.push(withLogGroup({ text: trimmed, position: `${source}:${lineNumber}` }, options.logGroup));
  }
  return out;
}

/**
 * A whole text whose form is unknown: one JSON document (pretty-printed event, subscription payload, …)
 * or JSON Lines. A text that is neither is read as JSON Lines, so each broken line is reported on its own
 * and the good lines still count.
 */
export function decodeText(text: string, source: string, options: DecodeOptions = {}): DecodedInput {
  const trimmed = text.trim();
  if (trimmed === "") return { form: "unknown", records: [], problems: [], controlMessages: 0 };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (error) {
    // More than one line: JSON Lines. One line that does not parse: report why it did not, unless it may be
    // an ephemeral-container write cut mid-JSON, which the detector reads for what it shows.
    if (trimmed.includes("\n") || mayCarryMarker(trimmed)) return decodeJsonLines(text, source, options);
    return {
      form: "unknown",
      records: [],
      problems: [{ position: `${source}:1`, kind: "invalid-json", message: errorMessage(error) }],
      controlMessages: 0,
    };
  }
  return decodeDocument(value, source, options);
}
