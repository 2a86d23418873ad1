import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { formatBytes } from "../measure.ts";
import type { MemoryReport } from "../memory-child.ts";
import type { Section, SectionResult, TargetResult } from "../section.ts";
import { STREAMS } from "../streams.ts";

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL("../memory-child.ts", import.meta.url));

/** 1x, 10x and 100x this many payloads: the filtered stream's deliveries hold 1 to 5 events, not 400. */
const BASE_PAYLOADS: Record<string, number> = { filtered: 10, unfiltered: 3 };
const SCALES = [1, 10, 100] as const;
/**
 * The detector keeps each reported auditID (a 36-character string in a Set) to drop duplicate deliveries for
 * its lifetime; that costs about 100 B per finding. Live heap growing faster than this per finding, or at all
 * per event that is not a finding, is a leak.
 */
const DUPLICATE_SET_BYTES_PER_FINDING = 160;
/** Noise in live heap between GCs (code, feedback vectors): far below 10 B per event of a 400-event payload. */
const SLOPE_SLACK_BYTES_PER_PAYLOAD = 4 * 1024;
/** Peak RSS at 100x may exceed the 1x run by the live heap growth plus this before it counts as growth. */
const RSS_SLACK_BYTES = 48 * 1024 * 1024;

async function measure(stream: string, payloads: number): Promise<MemoryReport> {
  // The parent's loader flags (tsx) carry over; --expose-gc lets the child measure live heap exactly.
  const execArgv = [...process.execArgv.filter((flag) => flag !== "--expose-gc"), "--expose-gc"];
  const { stdout } = await run(process.execPath, [...execArgv, CHILD, stream, String(payloads)], {
    maxBuffer: 1024 * 1024,
    timeout: 600_000, // generous: the 100x run of a loaded shared machine took over 2 min
  });
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as MemoryReport;
}

function verdict(first: MemoryReport, last: MemoryReport): TargetResult["detail"] | undefined {
  const findingsPerPayload = last.findings / last.payloads;
  const allowedSlope = findingsPerPayload * DUPLICATE_SET_BYTES_PER_FINDING + SLOPE_SLACK_BYTES_PER_PAYLOAD;
  const problems: string[] = [];
  if (last.slopeBytesPerPayload > allowedSlope) {
    problems.push(
      `live heap grows ${formatBytes(last.slopeBytesPerPayload)} per payload (allowed ${formatBytes(allowedSlope)})`,
    );
  }
  const rssAllowed = first.peakRssGrowthBytes + last.retainedHeapBytes + RSS_SLACK_BYTES;
  if (last.peakRssGrowthBytes > rssAllowed) {
    problems.push(
      `peak RSS +${formatBytes(first.peakRssGrowthBytes)} at 1x -> +${formatBytes(last.peakRssGrowthBytes)} at 100x`,
    );
  }
  return problems.length > 0 ? problems.join("; ") : undefined;
}

export const memorySection: Section = {
  key: "memory",
  title: `Memory: one detector streaming 1x, 10x, 100x ${Object.entries(BASE_PAYLOADS)
    .map(([stream, payloads]) => `${payloads} ${stream}`)
    .join(" / ")} deliveries (each run in a fresh process)`,
  async run(): Promise<SectionResult> {
    const rows: string[][] = [];
    const notes: string[] = [];
    const targets: TargetResult[] = [];
    for (const stream of STREAMS) {
      const reports: MemoryReport[] = [];
      for (const scale of SCALES) {
        const report = await measure(stream.name, (BASE_PAYLOADS[stream.name] ?? 3) * scale);
        reports.push(report);
        rows.push([
          stream.name,
          `${scale}x`,
          String(report.payloads),
          report.events.toLocaleString("en-US"),
          report.findings.toLocaleString("en-US"),
          formatBytes(report.retainedHeapBytes),
          formatBytes(report.peakHeapGrowthBytes),
          formatBytes(report.slopeBytesPerPayload),
          report.findings > 0 && report.slopeBytesPerPayload > 0
            ? formatBytes(report.slopeBytesPerPayload / (report.findings / report.payloads))
            : "-",
          formatBytes(report.peakRssGrowthBytes),
        ]);
        if (report.records !== report.events || report.problems !== report.cuts) {
          notes.push(
            `WARNING ${stream.name} ${scale}x: ${report.records} records counted of ${report.events}, ${report.problems} problems (${report.cuts} cut events)`,
          );
        }
      }
      const first = reports[0];
      const last = reports.at(-1);
      if (!first || !last) continue;
      const growth = verdict(first, last);
      targets.push({
        name: `memory flat over the ${stream.name} stream`,
        met: growth === undefined,
        detail:
          growth === undefined
            ? `live heap +${formatBytes(last.slopeBytesPerPayload)} per payload at 100x` +
              (last.findings > 0 ? " (the duplicate-delivery set: grows with findings by design)" : "") +
              `, peak RSS +${formatBytes(first.peakRssGrowthBytes)} at 1x, +${formatBytes(last.peakRssGrowthBytes)} at 100x`
            : `GROWTH: ${growth}`,
      });
    }
    notes.push(
      "live heap = heapUsed after a full GC, taken after every payload; retained = at the end minus before the first " +
        "payload; /payload = live heap growth per payload over the last 90% of the run; RSS = process maxRSS minus RSS at start",
    );
    notes.push(
      `growth allowed: ${DUPLICATE_SET_BYTES_PER_FINDING} B per finding (the detector keeps reported auditIDs for its ` +
        `lifetime to drop duplicate deliveries) + ${formatBytes(SLOPE_SLACK_BYTES_PER_PAYLOAD)} per payload`,
    );
    return {
      tables: [
        {
          columns: [
            "stream",
            "scale",
            "payloads",
            "events",
            "findings",
            "retained",
            "peak live",
            "/payload",
            "/finding",
            "peak RSS",
          ],
          rows,
        },
      ],
      notes,
      targets,
    };
  },
};
