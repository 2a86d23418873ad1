/**
 * A bench section measures one thing and returns a table. `bench/run.ts` runs every section in order and
 * prints their tables, then the targets, then the headline line last; adding a measurement (bundle sizes,
 * cold start, …) is one more module in `SECTIONS` there.
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
  /** Parts of the final one-line summary; run.ts joins every section's parts with ", ". */
  headline?: string[];
}

export interface Section {
  /** Short name to run it alone: `npm run bench -- memory`. */
  key: string;
  title: string;
  run(): Promise<SectionResult>;
}
