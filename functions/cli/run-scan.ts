import type { Readable, Writable } from "node:stream";
import { findingMessage } from "../adapters/aws/sns-message.ts";
import { errorMessage } from "../core/decode-cloudwatch.ts";
import type { DecodeOptions } from "../core/decode-input.ts";
import { type DetectionStats, Detector } from "../core/detector.ts";
import type { Finding } from "../core/finding.ts";
import type { InputProblem } from "../core/log-record.ts";
import { isAtLeast } from "../core/severity.ts";
import { type SliceLimits, slicesOf } from "../core/slice-input.ts";
import { formatFindingText, inert } from "./format-finding-text.ts";
import { ConfigError, loadScanConfig } from "./load-scan-config.ts";
import { parseScanArgs, USAGE, UsageError } from "./parse-scan-args.ts";
import { readScanInputs } from "./read-scan-inputs.ts";

export interface ScanIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Colour the text output (stdout is a terminal and NO_COLOR is unset). */
  colour: boolean;
}

export const EXIT_OK = 0;
export const EXIT_USAGE = 1;
/** Some input could not be read, or some finding could not be scored or printed: the rest was printed. */
export const EXIT_UNREADABLE_INPUT = 2;

/** Records detected at a time (see slicesOf). */
const SLICE: SliceLimits = { records: 1_000, chars: 4 * 1024 * 1024 };

function formatStats(stats: DetectionStats, shown: number): string {
  const bySeverity = Object.entries(stats.findingsBySeverity)
    .filter(([, count]) => count > 0)
    .map(([level, count]) => `${count} ${level}`)
    .join(", ");
  const skipped = Object.entries(stats.skipped)
    .filter(([, count]) => count > 0)
    .map(([reason, count]) => `${count} ${reason}`)
    .join(", ");
  return [
    `ephemeral-guard: ${stats.records} audit records read, ${stats.findings} findings${bySeverity ? ` (${bySeverity})` : ""}, ${shown} shown`,
    `ephemeral-guard: skipped: ${skipped || "none"}${stats.controlMessages > 0 ? `; ${stats.controlMessages} CloudWatch control messages` : ""}`,
    `ephemeral-guard: ${stats.problems} input problems`,
  ].join("\n");
}

function formatProblem(problem: InputProblem): string {
  return `ephemeral-guard: ${inert(problem.position)}: ${problem.kind}: ${inert(problem.message)}`;
}

/** The `scan` command. Returns the exit status; never throws for bad input, only reports it. */
export async function runScan(argv: readonly string[], io: ScanIo): Promise<number> {
  let options: ReturnType<typeof parseScanArgs>;
  try {
    options = parseScanArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`ephemeral-guard: ${error.message}\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  if (options.help) {
    io.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  let config: Awaited<ReturnType<typeof loadScanConfig>>;
  try {
    config = await loadScanConfig(options.config, options.cluster);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.stderr.write(`ephemeral-guard: configuration: ${error.message}\n`);
    return EXIT_USAGE;
  }

  const detector = new Detector(config, (problem) => io.stderr.write(`${formatProblem(problem)}\n`));
  const decodeOptions: DecodeOptions = options.logGroup ? { logGroup: options.logGroup } : {};
  let shown = 0;
  let unprintable = 0;
  // JSON is the message detect would publish (bounded and shortened the same way), so the two agree.
  const render = (finding: Finding) =>
    options.format === "json"
      ? `${findingMessage(finding).body}\n`
      : `${formatFindingText(finding, io.colour)}\n\n`;
  /** One finding that cannot be rendered is reported and counted; the others are still printed. */
  const print = (finding: Finding) => {
    if (!isAtLeast(finding.severity, options.minSeverity)) return;
    let text: string;
    try {
      text = render(finding);
    } catch (error) {
      unprintable++;
      io.stderr.write(
        `ephemeral-guard: finding ${inert(finding.auditID)} could not be printed: ${inert(errorMessage(error))}\n`,
      );
      return;
    }
    shown++;
    io.stdout.write(text);
  };
  for await (const input of readScanInputs(options.paths, io.stdin, decodeOptions)) {
    if (input.kind === "note") {
      io.stderr.write(`ephemeral-guard: ${inert(input.position)}: ${input.message}\n`);
      continue;
    }
    // Slices, so that a file of 200,000 writes never holds 200,000 findings at once.
    for (const slice of slicesOf(input.decoded, SLICE)) {
      for (const finding of detector.ingest(slice)) print(finding);
    }
  }
  io.stderr.write(`${formatStats(detector.stats, shown)}\n`);
  if (unprintable > 0) io.stderr.write(`ephemeral-guard: ${unprintable} findings could not be printed\n`);
  return detector.stats.problems > 0 || unprintable > 0 ? EXIT_UNREADABLE_INPUT : EXIT_OK;
}
