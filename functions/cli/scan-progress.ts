import { SEVERITIES, type Severity } from "../core/severity.ts";
import { formatBytes, formatDuration, ProgressLine, type ProgressLineOptions } from "./progress-line.ts";

/**
 * scan's progress line on a terminal: bytes and audit records read, their rate, and findings by severity.
 * Drawn only once a scan has run for a second, so short scans print just the summary.
 */

export const SCAN_PROGRESS_AFTER_MS = 1_000;

export interface ScanSnapshot {
  bytesRead: number;
  records: number;
  findingsBySeverity: Readonly<Record<Severity, number>>;
}

export function formatScanProgress(snapshot: ScanSnapshot, elapsedMs: number): string {
  const findings = [...SEVERITIES]
    .reverse()
    .filter((level) => snapshot.findingsBySeverity[level] > 0)
    .map((level) => `${snapshot.findingsBySeverity[level]} ${level}`)
    .join(", ");
  const seconds = elapsedMs / 1000;
  const rate =
    seconds > 0
      ? ` (${Math.round(snapshot.records / seconds)} records/s, ${formatBytes(Math.round(snapshot.bytesRead / seconds))}/s)`
      : "";
  return (
    `scan: ${formatBytes(snapshot.bytesRead)} and ${snapshot.records} records read${rate}, ` +
    `findings: ${findings || "none"}, ${formatDuration(elapsedMs)}`
  );
}

export class ScanProgress {
  private readonly line: ProgressLine;

  constructor(options: Omit<ProgressLineOptions, "firstAfterMs">) {
    this.line = new ProgressLine({ firstAfterMs: SCAN_PROGRESS_AFTER_MS, ...options });
  }

  update(snapshot: () => ScanSnapshot): void {
    this.line.draw((elapsed) => formatScanProgress(snapshot(), elapsed));
  }

  clear(): void {
    this.line.clear();
  }
}
