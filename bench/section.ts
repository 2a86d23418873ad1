/**
 * A bench section measures one thing and returns a table. `bench/run.ts` runs every section in order and
 * prints their tables, then the targets, then a summary line and the fixed-form last line; adding a
 * measurement (bundle sizes, cold start, …) is one more module in `SECTIONS` there.
 */
export interface Table {
  columns: string[];
  rows: string[][];
}

export interface TargetResult {
  name: string;
  met: boolean;
  /** What was measured against what was wanted, e.g. `1.21x floor (target <= 1.30x)`. */
  detail: string;
}

export interface SectionResult {
  tables: Table[];
  notes: string[];
  targets: TargetResult[];
  /** Parts of the summary line printed just before the last line; run.ts joins every section's parts. */
  headline?: string[];
  /**
   * The last line of the report, in the form the issue fixes:
   * `bench: filtered 1.21x floor, unfiltered 4.05x faster than floor`. Only the throughput section sets it.
   */
  finalLine?: string;
}

export interface Section {
  /** Short name to run it alone: `npm run bench -- memory`. */
  key: string;
  title: string;
  run(): Promise<SectionResult>;
}
