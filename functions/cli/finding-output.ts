import type { Writable } from "node:stream";
import { errorMessage } from "../core/decode-cloudwatch.ts";
import type { Finding } from "../core/finding.ts";
import { isAtLeast, type Severity, severityRank } from "../core/severity.ts";
import { choice } from "./command-options.ts";
import { type Format, RENDER } from "./finding-formats.ts";
import { inert } from "./format-finding-text.ts";
import { DEFAULT_MAX_HELD_CHARS, SortedOutput } from "./sorted-output.ts";

/**
 * Findings on stdout: filtered by --min-severity, rendered in the chosen format, and either written as they
 * come (`input`: the order read, streamed) or sorted (`severity`: most severe first, then by time; `time`: by
 * the audit event's time). Sorting holds the output until the end, in bounded memory (sorted-output.ts).
 * A finding that cannot be rendered is reported on stderr and counted; the others are still printed.
 */

export const SORTS = ["severity", "time", "input"] as const;
export type Sort = (typeof SORTS)[number];
export const SortOption = choice(SORTS, "an order");

/** Text is read by people, most severe first; json and ocsf feed other programs and stream in input order. */
export function defaultSort(format: Format): Sort {
  return format === "text" ? "severity" : "input";
}

export interface FindingOutputOptions {
  format: Format;
  sort: Sort;
  minSeverity: Severity;
  colour: boolean;
  stdout: Writable;
  /** A line for stderr (the caller clears its progress line first). */
  report: (line: string) => void;
  maxHeldChars?: number;
}

const TIME_DIGITS = 15;
const SEQUENCE_DIGITS = 12;

/** Milliseconds since the epoch, fixed width so that keys compare as text; an unreadable time sorts last. */
function timeKey(time: string): string {
  const ms = Date.parse(time);
  return Number.isFinite(ms) && ms >= 0 ? String(ms).padStart(TIME_DIGITS, "0") : "9".repeat(TIME_DIGITS);
}

const SORT_KEY: Record<Exclude<Sort, "input">, (finding: Finding) => string> = {
  severity: (finding) => `${9 - severityRank(finding.severity)}${timeKey(finding.time)}`,
  time: (finding) => timeKey(finding.time),
};

export class FindingOutput {
  /** Findings at or above --min-severity that were printed. */
  shown = 0;
  /** Findings that could not be rendered (reported one by one). */
  unprintable = 0;
  private sequence = 0;
  private readonly sorted: { output: SortedOutput; key: (finding: Finding) => string } | undefined;

  constructor(private readonly options: FindingOutputOptions) {
    this.sorted =
      options.sort === "input"
        ? undefined
        : {
            output: new SortedOutput({
              maxHeldChars: options.maxHeldChars ?? DEFAULT_MAX_HELD_CHARS,
              report: options.report,
            }),
            key: SORT_KEY[options.sort],
          };
  }

  print(finding: Finding): void {
    if (!isAtLeast(finding.severity, this.options.minSeverity)) return;
    let text: string;
    try {
      text = RENDER[this.options.format](finding, this.options.colour);
    } catch (error) {
      this.unprintable++;
      this.options.report(
        `ephemeral-guard: finding ${inert(finding.auditID)} could not be printed: ${inert(errorMessage(error))}`,
      );
      return;
    }
    this.shown++;
    if (this.sorted === undefined) {
      this.options.stdout.write(text);
      return;
    }
    const sequence = String(this.sequence++).padStart(SEQUENCE_DIGITS, "0");
    this.sorted.output.add(`${this.sorted.key(finding)}${sequence}`, text);
  }

  /** Sorted runs written to temporary files so far (memory stays bounded). */
  get runsWritten(): number {
    return this.sorted?.output.runCount ?? 0;
  }

  /** Writes what sorting held back. */
  async finish(): Promise<void> {
    await this.sorted?.output.writeTo(this.options.stdout);
  }
}
