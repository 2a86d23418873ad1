import * as z from "zod";
import { parseAuditEvent } from "./audit-event-schema.ts";
import { buildFinding } from "./build-finding.ts";
import { errorMessage } from "./decode-cloudwatch.ts";
import type { DetectionConfig } from "./detection-config.ts";
import { extractWriteFacts } from "./extract-write-facts.ts";
import type { Finding } from "./finding.ts";
import type { DecodedInput, InputProblem, LogRecord } from "./log-record.ts";
import { scoreWrite } from "./score-write.ts";
import { isScreenedOut } from "./screen-data-message.ts";
import { SKIP_REASONS, type SkipReason, SUBRESOURCE_MARKER, skipReason } from "./select-write.ts";
import { SEVERITIES, type Severity } from "./severity.ts";

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

/** Problems kept in memory for reporting; beyond this they are only counted (stats.problems). */
const MAX_KEPT_PROBLEMS = 1_000;

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
}

/**
 * Turns records into findings, one record at a time, so a bad record costs only itself. Keeps the auditIDs
 * it has reported to drop duplicate deliveries within its lifetime (one CLI run, one Lambda invocation).
 */
export class Detector {
  readonly stats: DetectionStats = {
    records: 0,
    findings: 0,
    findingsBySeverity: zeroes(SEVERITIES),
    skipped: zeroes(SKIP_REASONS),
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
    this.stats.controlMessages += decoded.controlMessages;
    for (const problem of decoded.problems) this.addProblem(problem);
    const findings: Finding[] = [];
    for (const record of decoded.records) {
      const finding = this.process(record);
      if (finding) findings.push(finding);
    }
    return findings;
  }

  process(record: LogRecord): Finding | undefined {
    this.stats.records++;
    const value = this.parse(record);
    if (value === undefined) return undefined;
    const parsed = parseAuditEvent(value);
    if (!parsed.success) {
      return this.skipUnparseable(
        record,
        "invalid-event",
        `not an audit.k8s.io/v1 Event: ${z.prettifyError(parsed.error)}`,
      );
    }
    const event = parsed.data;
    const reason = skipReason(event, this.config);
    if (reason) return this.skip(reason);
    if (this.reported.has(event.auditID)) return this.skip("duplicate");
    this.reported.add(event.auditID);

    let finding: Finding;
    try {
      const facts = extractWriteFacts(event, record.logGroup, this.config.cluster);
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
   * Raw text is only parsed when it could be an ephemeral-container write. A line that is not even shaped
   * like a JSON object is reported, since a truncated write would look like that.
   */
  private parse(record: LogRecord): unknown {
    // Already shown to be a JSON object without the marker: the checks below would skip it the same way.
    if (isScreenedOut(record)) return this.skip("other-resource");
    if (record.text === undefined) return record.value;
    const text = record.text;
    if (text.length > MAX_RECORD_CHARS) {
      this.skipUnparseable(
        record,
        "oversized-payload",
        `${text.length} characters: more than any CloudWatch Logs event, not parsed (limit ${MAX_RECORD_CHARS})`,
      );
      return undefined;
    }
    if (!looksLikeJsonObject(text)) {
      this.skipUnparseable(record, "invalid-json", "not a JSON object (truncated or not an audit event)");
      return undefined;
    }
    if (!text.includes(SUBRESOURCE_MARKER)) {
      this.skip("other-resource");
      return undefined;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      this.skipUnparseable(record, "invalid-json", errorMessage(error));
      return undefined;
    }
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

function looksLikeJsonObject(text: string): boolean {
  let start = 0;
  let end = text.length - 1;
  while (start <= end && text.charCodeAt(start) <= 32) start++;
  while (end >= start && text.charCodeAt(end) <= 32) end--;
  return text.charCodeAt(start) === 123 /* { */ && text.charCodeAt(end) === 125; /* } */
}
