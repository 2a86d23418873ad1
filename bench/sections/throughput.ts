import { isAscii } from "node:buffer";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  inflateAwslogsData,
} from "../../functions/core/decode-cloudwatch.ts";
import { decodeDocument } from "../../functions/core/decode-input.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { Detector } from "../../functions/core/detector.ts";
import { SCREEN_SEARCHES } from "../../functions/core/screen-data-message.ts";
import { CLUSTER } from "../make-events.ts";
import { makeStream, type PayloadBatch } from "../make-payloads.ts";
import {
  type Contender,
  formatBytes,
  formatRatio,
  type RatioRange,
  ratios,
  timeInterleaved,
} from "../measure.ts";
import type { Section, SectionResult, TargetResult } from "../section.ts";
import { type StreamCase, streamNamed } from "../streams.ts";

/** Targets (issue 12): the detector's time over its baseline's, the median of passes taken pass by pass. */
const FILTERED_MAX_RATIO = 1.2;
const UNFILTERED_MAX_RATIO = 1.25;

const WARMUP = 3;
const REPETITIONS = 15;

interface DataMessageShape {
  logEvents: Array<{ message: string }>;
}

/** The text of a decompressed data message: latin1 (a plain copy) when it is ASCII, as the detector does. */
function text(raw: Buffer): string {
  return isAscii(raw) ? raw.toString("latin1") : raw.toString("utf8");
}

/**
 * The unfiltered stream's limit: what any reader of these payloads must do before it can look at one byte of
 * them, base64-decode and gunzip every payload. It uses the detector's own code for both (kept base64
 * buffer, gunzip settings), so the comparison is about everything after that.
 */
export function gunzipLimitPass(batch: PayloadBatch): number {
  let bytes = 0;
  for (const payload of batch.payloads) {
    bytes += inflateAwslogsData(payload.awslogs.data, DEFAULT_MAX_DECOMPRESSED_BYTES).length;
  }
  return bytes;
}

/**
 * The floor of reading the unfiltered stream without decoding it (screen-data-message.ts): gunzip every payload,
 * then make over each one the three searches the screen makes when it sets messages aside (event starts, the
 * marker, escapes that could spell it), with Buffer#indexOf as the screen does, counting the hits and nothing
 * else. What the detector takes over this is the rest of its work; what this takes over the gunzip limit is the
 * searches' own cost.
 */
export function searchesFloorPass(batch: PayloadBatch): number {
  let hits = 0;
  for (const payload of batch.payloads) {
    const raw = inflateAwslogsData(payload.awslogs.data, DEFAULT_MAX_DECOMPRESSED_BYTES);
    for (const needle of SCREEN_SEARCHES) {
      for (let at = raw.indexOf(needle); at !== -1; at = raw.indexOf(needle, at + 1)) hits++;
    }
  }
  return hits;
}

/**
 * The filtered stream's floor: decode, decompress, parse the data message and parse every audit event (a cut
 * one as far as it goes). It does not validate or look at anything, so it is the least a reader that parses
 * what it is given can do.
 */
export function floorPass(batch: PayloadBatch): number {
  let keys = 0;
  for (const payload of batch.payloads) {
    const raw = inflateAwslogsData(payload.awslogs.data, DEFAULT_MAX_DECOMPRESSED_BYTES);
    const message = JSON.parse(text(raw)) as DataMessageShape;
    for (const logEvent of message.logEvents) {
      try {
        const event = JSON.parse(logEvent.message) as Record<string, unknown>;
        if (event.verb !== undefined) keys++;
      } catch {
        keys--;
      }
    }
  }
  return keys;
}

const CONFIG = detectionConfig({ cluster: CLUSTER });

/** The Lambda's code path: one detector per invocation, each payload decoded and ingested. */
function detectorPass(batch: PayloadBatch, totals?: { records: number; problems: number }): number {
  let findings = 0;
  for (let index = 0; index < batch.payloads.length; index++) {
    const detector = new Detector(CONFIG);
    findings += detector.ingest(decodeDocument(batch.payloads[index], `payload ${index}`)).length;
    if (totals) {
      totals.records += detector.stats.records;
      totals.problems += detector.stats.problems;
    }
  }
  return findings;
}

function perSecond(count: number, ms: number): string {
  return Math.round((count * 1000) / ms).toLocaleString("en-US");
}

interface StreamResult {
  rows: string[][];
  notes: string[];
  /** Pass by pass, CPU time: what the targets are judged on. */
  ratio: RatioRange;
  /** The second baseline over the first, pass by pass, CPU time, when there is one. */
  secondRatio?: RatioRange;
  /** Pass by pass, wall time: shown beside it. */
  wallRatio: RatioRange;
}

interface Baseline {
  name: string;
  label: string;
  run(batch: PayloadBatch): number;
}

/** `second`: another baseline timed in the same passes, shown against the first (a floor of the design). */
function measureStream(stream: StreamCase, base: Baseline, second?: Baseline): StreamResult {
  const batch = makeStream(stream.spec);
  const baseline: Contender = { name: base.name, run: () => base.run(batch) };
  const other: Contender | undefined = second && { name: second.name, run: () => second.run(batch) };
  const notes: string[] = [];
  const totals = { records: 0, problems: 0 };
  const findings = detectorPass(batch, totals);
  // Every write is a finding; every cut event is also a problem (the Rejects metric counts it).
  if (findings !== batch.writes || totals.records !== batch.events || totals.problems !== batch.cuts) {
    notes.push(
      `WARNING ${stream.name}: expected ${batch.writes} findings, ${batch.events} records and ${batch.cuts} problems; ` +
        `got ${findings} findings, ${totals.records} records, ${totals.problems} problems`,
    );
  }
  const eventsPerPayload = batch.events / batch.payloads.length;
  notes.push(
    `${stream.name}: ${stream.description}; ${batch.payloads.length.toLocaleString("en-US")} deliveries, ` +
      `${eventsPerPayload.toFixed(1)} events each on average, ${formatBytes(batch.messageBytes / batch.events)} per event, ` +
      `${formatBytes(batch.compressedBytes / batch.payloads.length)} compressed per delivery ` +
      `(largest ${formatBytes(batch.largestCompressedBytes)}; ${formatBytes(batch.largestDataMessageBytes)} decompressed), ` +
      `${findings.toLocaleString("en-US")} findings`,
  );
  const detector: Contender = { name: "detector", run: () => detectorPass(batch) };
  const contenders = other ? [baseline, other, detector] : [baseline, detector];
  const { timings, samples, cpuSamples } = timeInterleaved(contenders, {
    warmup: WARMUP,
    repetitions: REPETITIONS,
    collectBetweenPasses: false,
  });
  /** A contender over the baseline, pass by pass, in CPU or wall time. */
  const over = (name: string, cpu: boolean) =>
    ratios(
      (cpu ? cpuSamples : samples).get(name) ?? [],
      (cpu ? cpuSamples : samples).get(baseline.name) ?? [],
    );
  const ratio = over(detector.name, true);
  const wallRatio = over(detector.name, false);
  const secondRatio = other && over(other.name, true);
  const rows: string[][] = [];
  for (const contender of contenders) {
    const timing = timings.get(contender.name);
    if (!timing) continue;
    const ms = timing.medianMs;
    const label =
      contender === baseline ? base.label : contender === other ? (second?.label ?? "") : "detector";
    rows.push([
      stream.name,
      label,
      perSecond(batch.events, ms),
      ((batch.messageBytes / (1024 * 1024) / ms) * 1000).toFixed(1),
      ((ms * 1000) / batch.payloads.length).toFixed(0),
      `${ms.toFixed(1)} (${timing.minMs.toFixed(1)}-${timing.maxMs.toFixed(1)})`,
      contender === baseline ? "1.00" : formatRatio(over(contender.name, false)),
      contender === baseline ? "1.00" : formatRatio(over(contender.name, true)),
    ]);
  }
  if (other && second) {
    notes.push(
      `${stream.name}: detector over ${second.label}: ${formatRatio(ratios(cpuSamples.get("detector") ?? [], cpuSamples.get(other.name) ?? []))} in CPU time`,
    );
  }
  return { rows, notes, ratio, wallRatio, ...(secondRatio ? { secondRatio } : {}) };
}

export interface ThroughputRatios {
  filtered: RatioRange;
  unfiltered: RatioRange;
}

/**
 * glibc settings for the process that times the passes: allocations as large as a delivery's gunzip output come
 * from the heap, and freed memory stays there. Under the defaults a pass's megabyte buffers sometimes landed on
 * freshly mapped pages and sometimes on reused ones, depending on when the garbage collector had freed the last
 * pass's: the same gunzip took 20 or 75 ms a pass, and the unfiltered ratio swung between 1.1x and 1.85x from run
 * to run with the code unchanged. With them every contender's buffers land on reused pages, and the ratios
 * compare the work itself (the higher, steadier figure).
 */
const STEADY_MEMORY = {
  MALLOC_MMAP_THRESHOLD_: String(64 * 1024 * 1024),
  MALLOC_TRIM_THRESHOLD_: String(1024 * 1024 * 1024),
};
const CHILD = fileURLToPath(new URL("../throughput-child.ts", import.meta.url));

/** The measurement itself, run in bench/throughput-child.ts under STEADY_MEMORY. */
export function measureThroughput(): SectionResult {
  const filtered = measureStream(streamNamed("filtered"), {
    name: "floor",
    label: "floor: b64 + gunzip + parse all",
    run: floorPass,
  });
  const unfiltered = measureStream(
    streamNamed("unfiltered"),
    { name: "gunzip", label: "limit: b64 + gunzip", run: gunzipLimitPass },
    { name: "searches", label: "floor: b64 + gunzip + 3 searches", run: searchesFloorPass },
  );
  const targets: TargetResult[] = [
    {
      name: `filtered stream within ${FILTERED_MAX_RATIO}x the decode-and-parse floor`,
      met: filtered.ratio.median <= FILTERED_MAX_RATIO,
      detail: `${formatRatio(filtered.ratio)} floor in CPU time, ${formatRatio(filtered.wallRatio)} in wall time (target <= ${FILTERED_MAX_RATIO.toFixed(2)}x)`,
    },
    {
      name: `unfiltered stream within ${UNFILTERED_MAX_RATIO}x the base64 + gunzip limit`,
      met: unfiltered.ratio.median <= UNFILTERED_MAX_RATIO,
      detail:
        `${formatRatio(unfiltered.ratio)} gunzip limit in CPU time, ${formatRatio(unfiltered.wallRatio)} in wall time (target <= ${UNFILTERED_MAX_RATIO.toFixed(2)}x` +
        `${unfiltered.secondRatio ? `; the screen's 3 searches after gunzip alone: ${formatRatio(unfiltered.secondRatio)}` : ""})`,
    },
  ];
  return {
    tables: [
      {
        columns: [
          "stream",
          "path",
          "events/s",
          "MB/s",
          "us/delivery",
          "ms/pass (min-max)",
          "x baseline, wall",
          "x baseline, CPU",
        ],
        rows: [...filtered.rows, ...unfiltered.rows],
      },
    ],
    notes: [
      ...filtered.notes,
      ...unfiltered.notes,
      `${REPETITIONS} passes of each after ${WARMUP} warm-up passes, interleaved, order rotated, no GC forced between ` +
        "passes; x baseline = detector / baseline pass by pass: median (min-max), of wall time and of this " +
        "process's CPU time; the targets are judged on CPU time, which other people's work on this shared machine " +
        "does not add to; MB/s counts audit event JSON",
    ],
    targets,
    finalLine: {
      filtered: `${filtered.ratio.median.toFixed(2)}x floor`,
      unfiltered: `${unfiltered.ratio.median.toFixed(2)}x gunzip limit`,
    },
  };
}

export const throughputSection: Section = {
  key: "throughput",
  title:
    "Throughput: the detector against its baseline (filtered: decode and parse everything; unfiltered: base64 + gunzip)",
  async run(): Promise<SectionResult> {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "--expose-gc", CHILD],
      {
        env: { ...process.env, ...STEADY_MEMORY },
        timeout: 600_000,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as SectionResult;
    result.notes.push(
      `timed in a process of its own with ${Object.entries(STEADY_MEMORY)
        .map(([name, value]) => `${name}=${value}`)
        .join(" ")}: every pass's gunzip output on reused pages (see throughput.ts)`,
    );
    return result;
  },
};
