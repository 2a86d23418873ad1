import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { SnsDeliverySchema } from "../adapters/aws/sns-delivery.ts";
import { CloudTrailEventSchema } from "../core/cluster-coverage/coverage-trigger.ts";
import { errorMessage } from "../core/decode-cloudwatch.ts";
import { type DecodeOptions, decodeText } from "../core/decode-input.ts";
import { DetectionConfigSchema } from "../core/detection-config.ts";
import type { DecodedInput, InputProblem, LogRecord } from "../core/log-record.ts";

/** Records handed to the detector at a time, so memory stays flat on a multi-gigabyte JSON Lines file. */
const CHUNK_RECORDS = 1_000;
/** A non-JSON-Lines document is read whole; refuse beyond this rather than exhaust memory. */
const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;
const GZIP_MAGIC = [0x1f, 0x8b];

export type ScanInputEvent =
  | { kind: "decoded"; decoded: DecodedInput }
  | { kind: "note"; position: string; message: string };

function problemInput(problem: InputProblem): ScanInputEvent {
  return {
    kind: "decoded",
    decoded: { form: "unknown", records: [], problems: [problem], controlMessages: 0 },
  };
}

/** Files under a directory, depth first in name order so that output is stable; dot-files are skipped. */
async function* walk(path: string): AsyncGenerator<string> {
  const info = await stat(path);
  if (!info.isDirectory()) {
    yield path;
    return;
  }
  const entries = (await readdir(path, { withFileTypes: true }))
    .filter((entry) => !entry.name.startsWith("."))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) yield* walk(child);
    else if (entry.isFile()) yield child;
  }
}

/** Told how many bytes were read from a file or standard input (before gunzip), as they are read. */
export type OnBytes = (bytes: number) => void;

/** Peeks at the first bytes to undo gzip (rotated kube-apiserver audit logs are often compressed). */
async function openText(stream: Readable, onBytes: OnBytes | undefined): Promise<Readable> {
  const iterator = stream[Symbol.asyncIterator]();
  const first = await iterator.next();
  const head: Buffer | undefined = first.done ? undefined : Buffer.from(first.value as Uint8Array);
  async function* replay(): AsyncGenerator<Buffer> {
    if (head) {
      onBytes?.(head.length);
      yield head;
    }
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      const chunk = Buffer.from(next.value as Uint8Array);
      onBytes?.(chunk.length);
      yield chunk;
    }
  }
  const joined = Readable.from(replay());
  const gzipped = head !== undefined && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  return gzipped ? joined.pipe(createGunzip()) : joined;
}

/**
 * Documents that belong in events/ but are not audit input, recognised by content so that scanning the folder
 * names them instead of reporting them as unreadable: a detection configuration, an SNS delivery (what
 * notify-slack and remediate receive), and a CloudTrail call routed by EventBridge (what coverage receives).
 */
const NOT_AUDIT_INPUT: ReadonlyArray<{ matches: (value: unknown) => boolean; note: string }> = [
  {
    matches: (value) =>
      typeof value === "object" &&
      value !== null &&
      Object.keys(value).length > 0 &&
      DetectionConfigSchema.safeParse(value).success,
    note: "detection configuration, not audit input: skipped (use --config)",
  },
  {
    matches: (value) => SnsDeliverySchema.safeParse(value).success,
    note: "an SNS delivery (input of notify-slack and remediate), not audit input: skipped",
  },
  {
    matches: (value) => CloudTrailEventSchema.safeParse(value).success,
    note: "a CloudTrail call via EventBridge (input of coverage), not audit input: skipped",
  },
  {
    // notify-slack's schedule (storm digests), and any other EventBridge event among the samples.
    matches: (value) =>
      typeof value === "object" &&
      value !== null &&
      typeof (value as Record<string, unknown>)["detail-type"] === "string" &&
      typeof (value as Record<string, unknown>).source === "string",
    note: "an EventBridge event (input of a scheduled function), not audit input: skipped",
  },
];

function notAuditInputNote(text: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return NOT_AUDIT_INPUT.find((kind) => kind.matches(value))?.note;
}

/**
 * Reads one stream and yields what it holds. The form is decided by content: when the first non-empty line
 * is a complete JSON value the stream is JSON Lines and is processed line by line; otherwise it is one
 * (pretty-printed) JSON document and is read whole.
 */
async function* readStream(
  stream: Readable,
  source: string,
  options: ScanReadOptions,
): AsyncGenerator<ScanInputEvent> {
  const lines = createInterface({
    input: await openText(stream, options.onBytes),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let mode: "undecided" | "lines" | "document" = "undecided";
  const document: string[] = [];
  let documentBytes = 0;
  let lineNumber = 0;
  let chunk: LogRecord[] = [];
  const flush = (): ScanInputEvent => {
    const decoded: DecodedInput = { form: "json-lines", records: chunk, problems: [], controlMessages: 0 };
    chunk = [];
    return { kind: "decoded", decoded };
  };

  for await (const line of lines) {
    lineNumber++;
    if (mode === "undecided") {
      if (line.trim() === "") continue;
      mode = isCompleteJson(line) ? "lines" : "document";
    }
    if (mode === "document") {
      documentBytes += line.length + 1;
      if (documentBytes > MAX_DOCUMENT_BYTES) {
        yield problemInput({
          position: source,
          kind: "oversized-payload",
          message: `not JSON Lines and larger than ${MAX_DOCUMENT_BYTES} bytes`,
        });
        return;
      }
      document.push(line);
      continue;
    }
    const trimmed = line.trim();
    if (trimmed === "") continue;
    const position = `${source}:${lineNumber}`;
    // A line holding a whole document (a captured Lambda event, a compact EventList or array of events) is
    // decoded as one; a line that is an audit event is still decoded as one, so the test may be loose.
    if (isDocumentLine(trimmed)) {
      yield { kind: "decoded", decoded: decodeText(trimmed, position, options) };
      continue;
    }
    const record: LogRecord = { text: trimmed, position };
    if (options.logGroup) record.logGroup = options.logGroup;
    chunk.push(record);
    if (chunk.length >= CHUNK_RECORDS) yield flush();
  }
  if (chunk.length > 0) yield flush();
  if (mode !== "document") return;
  const text = document.join("\n");
  const decoded = decodeText(text, source, options);
  const note =
    decoded.form === "unknown" && decoded.problems[0]?.kind === "unknown-shape"
      ? notAuditInputNote(text)
      : undefined;
  if (note) {
    yield { kind: "note", position: source, message: note };
    return;
  }
  yield { kind: "decoded", decoded };
}

/** Markers of JSON documents that hold many events, as opposed to a JSON Lines audit event. */
const DOCUMENT_LINE_MARKERS = ['"awslogs"', '"logEvents"', '"EventList"'];

function isDocumentLine(trimmed: string): boolean {
  return (
    trimmed.startsWith("[") ||
    trimmed.startsWith('{"events"') ||
    // A captured Kinesis Lambda event (a batch of the organization's stream), one per line.
    trimmed.startsWith('{"Records"') ||
    DOCUMENT_LINE_MARKERS.some((marker) => trimmed.includes(marker))
  );
}

function isCompleteJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

export interface ScanReadOptions extends DecodeOptions {
  onBytes?: OnBytes;
}

/** Every input named on the command line, in order; `-` is standard input. Unreadable paths are problems. */
export async function* readScanInputs(
  paths: readonly string[],
  stdin: Readable,
  options: ScanReadOptions,
): AsyncGenerator<ScanInputEvent> {
  for (const path of paths.length === 0 ? ["-"] : paths) {
    if (path === "-") {
      yield* readStream(stdin, "<stdin>", options);
      continue;
    }
    try {
      for await (const file of walk(path)) {
        try {
          yield* readStream(createReadStream(file), file, options);
        } catch (error) {
          yield problemInput({
            position: file,
            kind: "invalid-payload",
            message: `cannot read: ${errorMessage(error)}`,
          });
        }
      }
    } catch (error) {
      yield problemInput({
        position: path,
        kind: "invalid-payload",
        message: `cannot read: ${errorMessage(error)}`,
      });
    }
  }
}
