import type { Readable, Writable } from "node:stream";
import type { DecodeOptions } from "../core/decode-input.ts";
import { Detector } from "../core/detector.ts";
import type { Finding } from "../core/finding.ts";
import { type SliceLimits, slicesOf } from "../core/slice-input.ts";
import { synopsis } from "./command-options.ts";
import { EXIT } from "./exit-codes.ts";
import { FindingOutput } from "./finding-output.ts";
import { inert } from "./format-finding-text.ts";
import { ConfigError, loadScanConfig } from "./load-scan-config.ts";
import { parseScanArgs, USAGE, UsageError } from "./parse-scan-args.ts";
import { count } from "./plural.ts";
import { readScanInputs } from "./read-scan-inputs.ts";
import { ScanProgress } from "./scan-progress.ts";
import { formatProblem, formatStats } from "./scan-summary.ts";

export interface ScanIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Colour the text output (stdout is a terminal, or FORCE_COLOR; never with NO_COLOR). */
  colour: boolean;
  /** Standard input is a terminal: a scan with no PATH prints the usage instead of waiting on it. */
  stdinIsTerminal?: boolean;
  /** Draw progress on stderr (stderr is a terminal). */
  progress?: boolean;
  /** stderr's width, for the progress line. */
  columns?: number;
  now?: () => number;
}

/** Records detected at a time (see slicesOf). */
const SLICE: SliceLimits = { records: 1_000, chars: 4 * 1024 * 1024 };

/** The `scan` command. Returns the exit status; never throws for bad input, only reports it. */
export async function runScan(argv: readonly string[], io: ScanIo): Promise<number> {
  let options: ReturnType<typeof parseScanArgs>;
  try {
    options = parseScanArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(
      `ephemeral-guard scan: ${error.message}\n${synopsis(USAGE)}\n(ephemeral-guard help scan)\n`,
    );
    return EXIT.usage;
  }
  if (options.help) {
    io.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  if (options.paths.length === 0 && io.stdinIsTerminal === true) {
    // Nothing piped in and nothing named: waiting on the terminal would look like a hang.
    io.stderr.write(`ephemeral-guard scan: name a PATH, or pipe audit events in\n${USAGE}\n`);
    return EXIT.usage;
  }
  let config: Awaited<ReturnType<typeof loadScanConfig>>;
  try {
    config = await loadScanConfig(options.config, options.cluster);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.stderr.write(`ephemeral-guard: configuration: ${error.message}\n`);
    return EXIT.usage;
  }

  const progress = new ScanProgress({
    write: (text) => io.stderr.write(text),
    enabled: io.progress === true,
    now: io.now ?? Date.now,
    ...(io.columns !== undefined ? { columns: io.columns } : {}),
  });
  const say = (line: string) => {
    progress.clear();
    io.stderr.write(`${line}\n`);
  };
  const detector = new Detector(config, (problem) => say(formatProblem(problem)));
  const decodeOptions: DecodeOptions = options.logGroup ? { logGroup: options.logGroup } : {};
  const output = new FindingOutput({
    format: options.format,
    sort: options.sort,
    minSeverity: options.minSeverity,
    colour: io.colour,
    stdout: io.stdout,
    report: say,
  });
  let bytesRead = 0;
  const snapshot = () => ({
    bytesRead,
    records: detector.stats.records,
    findingsBySeverity: detector.stats.findingsBySeverity,
  });
  const onBytes = (bytes: number) => {
    bytesRead += bytes;
    progress.update(snapshot);
  };
  const print = (finding: Finding) => output.print(finding);
  for await (const input of readScanInputs(options.paths, io.stdin, { ...decodeOptions, onBytes })) {
    if (input.kind === "note") {
      say(`ephemeral-guard: ${inert(input.position)}: ${input.message}`);
      continue;
    }
    // Slices, so that a file of 200,000 writes never holds 200,000 findings at once.
    for (const slice of slicesOf(input.decoded, SLICE)) {
      for (const finding of detector.ingest(slice)) print(finding);
    }
    progress.update(snapshot);
  }
  progress.clear();
  await output.finish();
  io.stderr.write(`${formatStats(detector.stats, output.shown)}\n`);
  if (output.unprintable > 0) {
    io.stderr.write(`ephemeral-guard: ${count(output.unprintable, "finding")} could not be printed\n`);
  }
  return detector.stats.problems > 0 || output.unprintable > 0 ? EXIT.incomplete : EXIT.ok;
}
