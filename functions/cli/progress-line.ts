/**
 * One status line on stderr, redrawn in place, for long runs on a terminal (scan, hunt). Redrawn at most every
 * `redrawMs` and first drawn only after `firstAfterMs`, so a run that ends quickly never flashes a line; time
 * comes from an injected clock, so tests see it without waiting. Disabled (stderr is not a terminal), it draws
 * nothing: only the summary is written. The line is cut to the terminal's width, because a wrapped line cannot
 * be cleared in place.
 *
 * Why not a library: the npm registry's progress bars (cli-progress 3.12, progress 2.0) draw bars towards a
 * known total on their own timers; a scan of standard input has no total, and real timers would make the
 * tests wait. What is needed is this: a throttled, clearable line on an injected clock.
 */

export const CLEAR_LINE = "\r\u001b[2K";

export interface ProgressLineOptions {
  write: (text: string) => void;
  enabled: boolean;
  now: () => number;
  redrawMs?: number;
  firstAfterMs?: number;
  /** The terminal's width; the line is cut to one less. */
  columns?: number;
}

export class ProgressLine {
  private lastDrawn = Number.NEGATIVE_INFINITY;
  private drawn = false;
  readonly startedAt: number;

  constructor(private readonly options: ProgressLineOptions) {
    this.startedAt = options.now();
  }

  /** Redraws with `render(elapsedMs)` unless drawn less than redrawMs ago (or too early); `force` skips both. */
  draw(render: (elapsedMs: number) => string, force = false): void {
    if (!this.options.enabled) return;
    const now = this.options.now();
    const elapsed = now - this.startedAt;
    if (
      !force &&
      (elapsed < (this.options.firstAfterMs ?? 0) || now - this.lastDrawn < (this.options.redrawMs ?? 200))
    )
      return;
    this.lastDrawn = now;
    let text = render(elapsed);
    const columns = this.options.columns;
    if (columns !== undefined && columns > 1 && text.length > columns - 1) text = text.slice(0, columns - 1);
    this.options.write(`${CLEAR_LINE}${text}`);
    this.drawn = true;
  }

  /** Removes the line, before the summary or anything else is written to stderr. */
  clear(): void {
    if (!this.drawn) return;
    this.options.write(CLEAR_LINE);
    this.drawn = false;
  }
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}
