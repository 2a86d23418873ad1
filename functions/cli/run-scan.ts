import type { Readable, Writable } from "node:stream";
import type { DecodeOptions } from "../core/decode-input.ts";
import { type DetectionStats, Detector } from "../core/detector.ts";
import type { Finding } from "../core/finding.ts";
import type { InputProblem } from "../core/log-record.ts";
import { ocsfFindingLine } from "../core/ocsf-finding.ts";
import { isAtLeast } from "../core/severity.ts";
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
export const EXIT_UNREADABLE_INPUT = 2;

export function formatStats(stats: DetectionStats, shown: number): string {
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

export function formatProblem(problem: InputProblem): string {
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
  const print = (finding: Finding) => {
    if (!isAtLeast(finding.severity, options.minSeverity)) return;
    shown++;
    io.stdout.write(
      options.format === "json"
        ? `${JSON.stringify(finding)}\n`
        : options.format === "ocsf"
          ? `${ocsfFindingLine(finding)}\n`
          : `${formatFindingText(finding, io.colour)}\n\n`,
    );
  };
  for await (const input of readScanInputs(options.paths, io.stdin, decodeOptions)) {
    if (input.kind === "note") {
      io.stderr.write(`ephemeral-guard: ${inert(input.position)}: ${input.message}\n`);
      continue;
    }
    for (const finding of detector.ingest(input.decoded)) print(finding);
  }
  io.stderr.write(`${formatStats(detector.stats, shown)}\n`);
  return detector.stats.problems > 0 ? EXIT_UNREADABLE_INPUT : EXIT_OK;
}
