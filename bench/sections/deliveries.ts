import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { HeapCapReport } from "../../test/helpers/detect-under-heap-cap.ts";
import { formatBytes } from "../measure.ts";
import type { Section, SectionResult, TargetResult } from "../section.ts";

/**
 * Worst-case deliveries (test/helpers/detect-under-heap-cap.ts) at their most, each in a fresh process whose
 * V8 heap is capped as in test/detect-memory.test.ts: a 6 MB delivery of any shape must stay within a 512 MB
 * function. The suite runs lighter forms of the same shapes; this runs all of them in full.
 */

const CHILD = fileURLToPath(new URL("../../test/helpers/detect-under-heap-cap.ts", import.meta.url));
const HEAP_CAP_MB = 256;
const FUNCTION_MB = 512;
const SHAPES = ["containers", "direct", "nesting", "strings", "events"] as const;

interface Outcome {
  report?: HeapCapReport;
  error?: string;
}

function runShape(shape: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const args = [`--max-old-space-size=${HEAP_CAP_MB}`, "--import", "tsx", CHILD, shape, "--most"];
    execFile(
      process.execPath,
      args,
      {
        maxBuffer: 1024 * 1024,
        timeout: 300_000,
        env: { ...process.env, POWERTOOLS_METRICS_DISABLED: "true" },
      },
      (error, stdout, stderr) => {
        const line = stdout.split("\n").find((text) => text.startsWith('{"shape"'));
        resolve({
          report: line === undefined ? undefined : (JSON.parse(line) as HeapCapReport),
          error: error
            ? (stderr.match(/FATAL ERROR[^\n]*/)?.[0] ?? stderr.split("\n").slice(-3).join(" "))
            : undefined,
        });
      },
    );
  });
}

export const deliveriesSection: Section = {
  key: "deliveries",
  title: `Worst-case deliveries at their most, each in a process with a ${HEAP_CAP_MB} MB heap (a ${FUNCTION_MB} MB function)`,
  async run(): Promise<SectionResult> {
    const rows: string[][] = [];
    const failed: string[] = [];
    let peakRss = 0;
    for (const shape of SHAPES) {
      const started = performance.now();
      const outcome = await runShape(shape);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const report = outcome.report;
      if (!report) {
        failed.push(`${shape}: ${outcome.error ?? "no report"}`);
        rows.push([shape, "FAILED", "-", "-", "-", "-", "-", "-", seconds]);
        continue;
      }
      peakRss = Math.max(peakRss, report.peakRssBytes);
      rows.push([
        shape,
        "completed",
        report.records.toLocaleString("en-US"),
        formatBytes(report.decompressedBytes),
        formatBytes(report.eventBytes),
        report.findings.toLocaleString("en-US"),
        formatBytes(report.maxMessageBytes),
        formatBytes(report.peakRssBytes),
        seconds,
      ]);
    }
    const targets: TargetResult[] = [
      {
        name: `every worst-case delivery completes within a ${HEAP_CAP_MB} MB heap, under ${FUNCTION_MB} MB resident`,
        met: failed.length === 0 && peakRss < FUNCTION_MB * 1024 * 1024,
        detail:
          failed.length === 0
            ? `all ${SHAPES.length} completed; highest peak RSS ${formatBytes(peakRss)} (this process, tsx included)`
            : failed.join("; "),
      },
    ];
    return {
      tables: [
        {
          columns: [
            "shape",
            "result",
            "records",
            "decompressed",
            "event",
            "findings",
            "largest message",
            "peak RSS",
            "seconds",
          ],
          rows,
        },
      ],
      notes: [
        "containers: one record at the 2 MiB record limit of tiny containers (the last privileged), one of 12 MiB held but not parsed, 64 MiB filled; " +
          "direct: a 6 MB audit event invoked directly (480,000 containers); nesting/strings/events: as many writes as fit in 64 MiB with a " +
          "securityContext nested 10,000 levels / every string 128 K characters / one small finding each",
      ],
      targets,
    };
  },
};
