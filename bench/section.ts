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
  /** This section's parts of the last line (run.ts puts them in the form the issue fixes). */
  finalLine?: Partial<FinalLine>;
}

/**
 * The last line of the report, in the form issue 12 fixes:
 * `bench: filtered X.XXx floor, unfiltered Y.YYx gunzip limit, e2e 1000 findings Z.ZZs, init W.WWx node`.
 */
export interface FinalLine {
  /** `1.15x floor` */
  filtered: string;
  /** `1.20x gunzip limit` */
  unfiltered: string;
  /** `e2e 1000 findings 1.50s` */
  e2e: string;
  /** `init 1.40x node` */
  init: string;
}

export function finalLine(parts: Partial<FinalLine>): string {
  return (
    `bench: filtered ${parts.filtered ?? "-"}, unfiltered ${parts.unfiltered ?? "-"}, ` +
    `${parts.e2e ?? "e2e 1000 findings -"}, ${parts.init ?? "init -"}`
  );
}

export interface Section {
  /** Short name to run it alone: `npm run bench -- memory`. */
  key: string;
  title: string;
  run(): Promise<SectionResult>;
}
