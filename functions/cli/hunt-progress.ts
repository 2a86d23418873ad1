import { SEVERITIES, type Severity } from "../core/severity.ts";
import { formatDuration, ProgressLine } from "./progress-line.ts";

/**
 * hunt's progress line on a terminal (progress-line.ts): the share of the time range read, events read,
 * findings by severity, rate and time left.
 */

export interface ProgressSnapshot {
  /** In [0, 1]. */
  share: number;
  eventsRead: number;
  findingsBySeverity: Readonly<Record<Severity, number>>;
}

export function formatProgress(snapshot: ProgressSnapshot, elapsedMs: number, note?: string): string {
  const share = Math.min(1, Math.max(0, snapshot.share));
  const findings = SEVERITIES.filter((level) => snapshot.findingsBySeverity[level] > 0)
    .reverse()
    .map((level) => `${snapshot.findingsBySeverity[level]} ${level}`)
    .join(", ");
  const rate = elapsedMs > 0 ? Math.round((snapshot.eventsRead * 1000) / elapsedMs) : 0;
  const left = share > 0 && share < 1 ? `, ~${formatDuration((elapsedMs * (1 - share)) / share)} left` : "";
  return (
    `hunt: ${(share * 100).toFixed(1)}% of the range, ${snapshot.eventsRead} events (${rate}/s), ` +
    `findings: ${findings || "none"}${left}${note ? ` [${note}]` : ""}`
  );
}

export class HuntProgress {
  private readonly line: ProgressLine;
  private note: string | undefined;

  constructor(write: (text: string) => void, enabled: boolean, now: () => number, columns?: number) {
    this.line = new ProgressLine({ write, enabled, now, ...(columns !== undefined ? { columns } : {}) });
  }

  /** A transient remark (throttled, retrying in 4s) shown with the next line. */
  remark(note: string): void {
    this.note = note;
  }

  update(snapshot: ProgressSnapshot, force = false): void {
    let drawn = false;
    this.line.draw((elapsed) => {
      drawn = true;
      return formatProgress(snapshot, elapsed, this.note);
    }, force);
    if (drawn) this.note = undefined;
  }

  /** Removes the line, before the summary or anything else is written to stderr. */
  clear(): void {
    this.line.clear();
  }
}
