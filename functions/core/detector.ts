import * as z from "zod";
import { type AuditEvent, parseAuditEvent } from "./audit-event-schema.ts";
import { buildFinding } from "./build-finding.ts";
import { errorMessage } from "./decode-cloudwatch.ts";
import type { DetectionConfig } from "./detection-config.ts";
import { eventKey, eventOccurrence } from "./event-key.ts";
import { extractWriteFacts } from "./extract-write-facts.ts";
import type { Finding } from "./finding.ts";
import type { DecodedInput, InputProblem, LogRecord } from "./log-record.ts";
import { readCutEvent } from "./read-cut-event.ts";
import { scoreWrite } from "./score-write.ts";
import { isScreenedOut } from "./screen-data-message.ts";
import { mayCarryMarker, SKIP_REASONS, type SkipReason, skipReason } from "./select-write.ts";
import { SEVERITIES, type Severity } from "./severity.ts";
import type { CutFacts } from "./write-facts.ts";

export interface DetectionStats {
  /** Audit event records looked at (excludes control messages and unreadable payloads). */
  records: number;
  findings: number;
  findingsBySeverity: Record<Severity, number>;
  skipped: Record<SkipReason, number>;
  controlMessages: number;
  /** Inputs or records that could not be read; each is also in `problems`. */
  problems: number;
}

/**
 * Longer records are not parsed. CloudWatch Logs cuts events at 1 MB (256 KB before 2025), so only a delivery
 * that did not come from it can hold one; parsing costs about 35 times a record's size at peak (a 16 MiB event
 * of 1,000,000 tiny containers peaked at 570 MB), and a 512 MB function must survive any delivery.
 */
export const MAX_RECORD_CHARS = 2 * 1024 * 1024;

/**
 * What is read of a longer record, as of a cut event: a write padded past any event size must still be seen.
 * The identity, the target and the start of the body come first in an audit event; 256 KB (CloudWatch's event
 * limit before 2025) holds them and bounds the prefix reader's work on hostile input.
 */
export const OVERSIZED_PREFIX_CHARS = 256 * 1024;

/** Problems kept in memory for reporting; beyond this they are only counted (stats.problems). */
const MAX_KEPT_PROBLEMS = 1_000;

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
}

/*
 * Made once and copied per detector: detect makes one detector per delivery, and Object.fromEntries per
 * detector was ~1.7 ms of a filtered bench pass (1,000 deliveries); a spread copy of a fixed-shape object
 * is a fraction of that. Frozen so that no detector's counts can leak into the next one's.
 */
const NO_FINDINGS_BY_SEVERITY: Readonly<Record<Severity, number>> = Object.freeze(zeroes(SEVERITIES));
const NOTHING_SKIPPED: Readonly<Record<SkipReason, number>> = Object.freeze(zeroes(SKIP_REASONS));

/** A finding and, when it came in a Kinesis batch, the sequence number of its stream record. */
export interface Detected {
  finding: Finding;
  batchItem?: string;
}

/**
 * Turns records into findings, one record at a time, so a bad record costs only itself. Keeps the auditIDs
 * it has reported to drop duplicate deliveries within its lifetime (one CLI run, one Lambda invocation).
 */
export class Detector {
  readonly stats: DetectionStats = {
    records: 0,
    findings: 0,
    findingsBySeverity: { ...NO_FINDINGS_BY_SEVERITY },
    skipped: { ...NOTHING_SKIPPED },
    controlMessages: 0,
    problems: 0,
  };
  readonly problems: InputProblem[] = [];
  private readonly reported = new Set<string>();

  constructor(
    private readonly config: DetectionConfig,
    private readonly onProblem?: (problem: InputProblem) => void,
  ) {}

  /** Records a problem found while decoding (or detecting). */
  addProblem(problem: InputProblem): void {
    this.stats.problems++;
    if (this.problems.length < MAX_KEPT_PROBLEMS) this.problems.push(problem);
    this.onProblem?.(problem);
  }

  /** Everything one decoded input holds: its problems, its control messages and its records. */
  ingest(decoded: DecodedInput): Finding[] {
    // Nobody here hands deferred stream records back to be read again (detect does, through ingestTraced):
    // each is a problem of its own rather than a record silently not read.
    for (const item of decoded.deferred ?? []) {
      this.addProblem({
        position: item.position,
        kind: "oversized-payload",
        batchItem: item.batchItem,
        message: `not read: ${item.reason}`,
      });
    }
    this.stats.controlMessages += decoded.controlMessages;
    for (const problem of decoded.problems) this.addProblem(problem);
    // As ingestTraced, without a Detected wrapper per finding and a second array to unwrap them into (the CLI
    // and npm run bench's filtered stream, ~2,000 findings a pass, come this way).
    const findings: Finding[] = [];
    for (const record of decoded.records) {
      const finding = this.process(record);
      if (finding) findings.push(finding);
    }
    return findings;
  }

  /**
   * As ingest, each finding with the stream record it came from (a Kinesis batch's sequence number), so that
   * what could not be published names exactly its records in a partial batch response.
   */
  ingestTraced(decoded: DecodedInput): Detected[] {
    this.stats.controlMessages += decoded.controlMessages;
    for (const problem of decoded.problems) this.addProblem(problem);
    const detected: Detected[] = [];
    for (const record of decoded.records) {
      const finding = this.process(record);
      if (!finding) continue;
      detected.push(record.batchItem === undefined ? { finding } : { finding, batchItem: record.batchItem });
    }
    return detected;
  }

  process(record: LogRecord): Finding | undefined {
    this.stats.records++;
    // Already shown to be a JSON object without the marker: the checks below would skip it the same way.
    if (isScreenedOut(record)) return this.skip("other-resource");
    let value = record.value;
    let text = record.text;
    let oversized = false;
    if (text !== undefined && text.length > MAX_RECORD_CHARS) {
      // Too large to parse whole (see MAX_RECORD_CHARS); a padded write must still be seen, so its start is
      // read as a cut event.
      text = text.slice(0, OVERSIZED_PREFIX_CHARS);
      oversized = true;
    }
    if (text !== undefined) {
      // Raw text is only parsed when it could be an ephemeral-container write; a line that is not even shaped
      // like a JSON object is reported. Not a substring test alone: an escaped letter
      // (`\u0065phemeralcontainers`) parses to the same event.
      const objectShaped = looksLikeJsonObject(text);
      if (!mayCarryMarker(text)) {
        return objectShaped
          ? this.skip("other-resource")
          : this.skipUnparseable(record, "invalid-json", NOT_AN_OBJECT);
      }
      if (oversized || !objectShaped) return this.processCut(record, text, NOT_AN_OBJECT, oversized);
      try {
        value = JSON.parse(text) as unknown;
      } catch (error) {
        return this.processCut(record, text, errorMessage(error));
      }
    }
    const parsed = parseAuditEvent(value);
    if (!parsed.success) {
      return this.skipUnparseable(
        record,
        "invalid-event",
        `not an audit.k8s.io/v1 Event: ${z.prettifyError(parsed.error)}`,
      );
    }
    return this.report(parsed.data, record, skipReason(parsed.data, this.config));
  }

  private report(
    event: AuditEvent,
    record: LogRecord,
    reason: SkipReason | undefined,
    cut?: CutFacts,
  ): Finding | undefined {
    if (reason) return this.skip(reason);
    // Not the auditID alone: a client can choose it (event-key.ts). The text only counts for a cut event.
    const occurrence = eventOccurrence(event, cut ? record.text : undefined);
    // Per account and region too: in an organization's stream, two accounts' events are never each other's
    // duplicates, whatever auditID a client chose.
    const origin = record.origin;
    const key = origin?.account
      ? `${origin.account}:${origin.region ?? ""}:${eventKey(event.auditID, occurrence)}`
      : eventKey(event.auditID, occurrence);
    if (this.reported.has(key)) return this.skip("duplicate");
    this.reported.add(key);

    let finding: Finding;
    try {
      const facts = extractWriteFacts(
        event,
        record.logGroup,
        this.config.cluster,
        cut,
        record.timestamp,
        occurrence,
        record.origin,
      );
      finding = buildFinding(facts, scoreWrite(facts, this.config));
    } catch (error) {
      // No known input throws here; if one ever does (a recursion past the stack, say), it costs only itself.
      return this.skipUnparseable(record, "invalid-event", `could not be scored: ${errorMessage(error)}`);
    }
    this.stats.findings++;
    this.stats.findingsBySeverity[finding.severity]++;
    return finding;
  }

  /**
   * Text that mentions the marker but is not a whole JSON object: an event cut mid-JSON (CloudWatch Logs cuts
   * events over its size limit, and a write can be padded until it is), or garbage. When its readable part
   * shows a write to pods/ephemeralcontainers it is scored on that, and still counted as a problem of its own
   * kind so that cut events show in the Rejects metric and its alarm; anything else is unparseable as before.
   */
  private processCut(
    record: LogRecord,
    text: string,
    parseError: string,
    oversized = false,
  ): Finding | undefined {
    const reading = readCutEvent(text);
    if (reading.kind === "unreadable") return this.skipUnparseable(record, "invalid-json", parseError);
    const { event, cut } = reading;
    const reason = skipReason(event, this.config, cut.unseen.has("verb"));
    if (reason === "other-resource") return this.skipUnparseable(record, "invalid-json", parseError);
    const finding = this.report(event, record, reason, cut);
    const where = cut.inside ? ` inside ${cut.inside}` : "";
    const broken = oversized
      ? `has ${record.text?.length} characters, more than any CloudWatch Logs event (${MAX_RECORD_CHARS}): its first ${OVERSIZED_PREFIX_CHARS} were read${where}`
      : cut.endOfText
        ? `is cut off after ${cut.length} characters${where}`
        : `stops being JSON at character ${cut.readable} of ${cut.length}${where}`;
    this.addProblem({
      position: record.position,
      kind: "cut-event",
      message:
        `audit event on pods/ephemeralcontainers ${broken}: ` +
        (finding
          ? `reported from its readable part as a ${finding.severity} finding`
          : `its readable part was read and skipped (${reason ?? "duplicate"})`),
    });
    return finding;
  }

  private skip(reason: SkipReason): undefined {
    this.stats.skipped[reason]++;
    return undefined;
  }

  private skipUnparseable(record: LogRecord, kind: InputProblem["kind"], message: string): undefined {
    this.addProblem({ position: record.position, kind, message });
    return this.skip("unparseable");
  }
}

const NOT_AN_OBJECT = "not a JSON object (truncated or not an audit event)";

function looksLikeJsonObject(text: string): boolean {
  let start = 0;
  let end = text.length - 1;
  while (start <= end && text.charCodeAt(start) <= 32) start++;
  while (end >= start && text.charCodeAt(end) <= 32) end--;
  return text.charCodeAt(start) === 123 /* { */ && text.charCodeAt(end) === 125; /* } */
}
