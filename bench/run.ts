import os from "node:os";
import { stopDetectPeers } from "./detect-harness.ts";
import { hasExposedGc } from "./measure.ts";
import { finalLine, type Section, type SectionResult, type Table } from "./section.ts";
import { deliveriesSection } from "./sections/deliveries.ts";
import { deployedBundleSection } from "./sections/deployed-bundle.ts";
import { endToEndSection } from "./sections/end-to-end.ts";
import { filteredStagesSection } from "./sections/filtered-stages.ts";
import { kinesisBatchSection } from "./sections/kinesis-batch.ts";
import { memorySection } from "./sections/memory.ts";
import { throughputSection } from "./sections/throughput.ts";

/**
 * `npm run bench`: a report, not a test. Every section prints its table; targets are marked MET or MISSED;
 * the last line is the one-line summary. Exits 0 even when a target is missed, non-zero only if a section
 * could not run at all.
 */
const SECTIONS: readonly Section[] = [
  throughputSection,
  filteredStagesSection,
  memorySection,
  deliveriesSection,
  endToEndSection,
  kinesisBatchSection,
  deployedBundleSection,
];

/** Section keys given on the command line run only those sections; none runs all. */
function selectedSections(): readonly Section[] {
  const keys = process.argv.slice(2);
  if (keys.length === 0) return SECTIONS;
  const unknown = keys.filter((key) => !SECTIONS.some((section) => section.key === key));
  if (unknown.length > 0) {
    throw new RangeError(
      `unknown bench section ${unknown.join(", ")}; known: ${SECTIONS.map((s) => s.key).join(", ")}`,
    );
  }
  return SECTIONS.filter((section) => keys.includes(section.key));
}

function renderTable(table: Table): string {
  const widths = table.columns.map((column, index) =>
    Math.max(column.length, ...table.rows.map((row) => (row[index] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) =>
        index === 0 ? cell.padEnd(widths[index] ?? 0) : cell.padStart(widths[index] ?? 0),
      )
      .join("  ");
  return [
    line(table.columns),
    line(widths.map((width) => "-".repeat(width))),
    ...table.rows.map((row) => line(row)),
  ].join("\n");
}

async function main(): Promise<void> {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  console.log(
    `ephemeral-guard bench — node ${process.version}, ${os.cpus().length} x ${cpu}, ` +
      // Timings on a shared machine move with its load; ratios (interleaved passes) move much less.
      `load average ${os.loadavg()[0]?.toFixed(2)}, ` +
      `gc ${hasExposedGc() ? "exposed (forced between passes)" : "NOT exposed: run with --expose-gc for steadier numbers"}`,
  );
  const started = performance.now();
  const results: SectionResult[] = [];
  for (const section of selectedSections()) {
    const sectionStart = performance.now();
    console.log(`\n== ${section.title}`);
    const result = await section.run();
    results.push(result);
    for (const table of result.tables) console.log(`${renderTable(table)}\n`);
    for (const note of result.notes) console.log(`  ${note}`);
    console.log(`  (${((performance.now() - sectionStart) / 1000).toFixed(1)} s)`);
  }

  const targets = results.flatMap((result) => result.targets);
  const missed = targets.filter((target) => !target.met);
  console.log("\n== Targets");
  for (const target of targets) {
    console.log(`  ${target.met ? "MET   " : "MISSED"}  ${target.name}: ${target.detail}`);
  }
  console.log(
    missed.length === 0
      ? `  all ${targets.length} targets met`
      : `  *** ${missed.length} of ${targets.length} targets MISSED ***`,
  );
  console.log(`  total ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const summary = results.flatMap((result) => result.headline ?? []);
  if (summary.length > 0) console.log(`  summary: ${summary.join(", ")}`);
  // The issue fixes the last line's form; each section gives its parts ("-" for a section not run).
  console.log(finalLine(Object.assign({}, ...results.map((result) => result.finalLine ?? {}))));
}

main()
  .catch((error: unknown) => {
    console.error("bench failed:", error);
    process.exitCode = 1;
  })
  .finally(() => stopDetectPeers());
