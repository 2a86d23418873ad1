import { SEVERITIES, type Severity } from "../core/severity.ts";

/**
 * One progress line on stderr, redrawn in place, for a hunt run on a terminal: the share of the time range
 * read, events read, findings by severity, rate and time left. Redrawn at most every REDRAW_MS (an injected
 * clock, so tests see it without waiting). When stderr is not a terminal nothing is drawn: only the summary.
 */

const REDRAW_MS = 200;
const CLEAR_LINE = "\r\u001b[2K";

export interface ProgressSnapshot {
  /** In [0, 1]. */
  share: number;
  eventsRead: number;
  findingsBySeverity: Readonly<Record<Severity, number>>;
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
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
  private lastDrawn = Number.NEGATIVE_INFINITY;
  private drawn = false;
  private note: string | undefined;
  private readonly startedAt: number;

  constructor(
    private readonly write: (text: string) => void,
    private readonly enabled: boolean,
    private readonly now: () => number,
  ) {
    this.startedAt = now();
  }

  /** A transient remark (throttled, retrying in 4s) shown with the next line. */
  remark(note: string): void {
    this.note = note;
  }

  update(snapshot: ProgressSnapshot, force = false): void {
    if (!this.enabled) return;
    const now = this.now();
    if (!force && now - this.lastDrawn < REDRAW_MS) return;
    this.lastDrawn = now;
    this.write(`${CLEAR_LINE}${formatProgress(snapshot, now - this.startedAt, this.note)}`);
    this.note = undefined;
    this.drawn = true;
  }

  /** Removes the line, before the summary or anything else is written to stderr. */
  clear(): void {
    if (!this.drawn) return;
    this.write(CLEAR_LINE);
    this.drawn = false;
  }
}
