import type { Readable, Writable } from "node:stream";
import { useColour } from "./colour.ts";

/** What a command gets from the process (main.ts), or from a test. */
export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Which of the three streams are terminals. */
  terminal: { stdin: boolean; stdout: boolean; stderr: boolean };
  /** stderr's width, for progress lines. */
  columns?: number;
  /** Aborted on Ctrl-C (hunt stops cleanly on it). */
  signal?: AbortSignal;
}

/** Colour for stdout: a terminal, FORCE_COLOR or NO_COLOR decide (colour.ts). */
export function stdoutColour(io: CliIo): boolean {
  return useColour(io.terminal.stdout, io.env);
}

/** Progress on stderr: only on a terminal (and never coloured, so NO_COLOR has nothing to turn off). */
export function stderrProgress(io: CliIo): boolean {
  return io.terminal.stderr;
}
