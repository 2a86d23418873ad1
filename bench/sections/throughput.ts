import {
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  inflateAwslogsData,
} from "../../functions/core/decode-cloudwatch.ts";
import { decodeDocument } from "../../functions/core/decode-input.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { Detector } from "../../functions/core/detector.ts";
import { CLUSTER } from "../make-events.ts";
import { makeStream, type PayloadBatch } from "../make-payloads.ts";
import { type Contender, formatBytes, timeInterleaved } from "../measure.ts";
import type { Section, SectionResult, TargetResult } from "../section.ts";
import { STREAMS, type StreamCase } from "../streams.ts";

/** Filtered: at most this many times the floor's time. Unfiltered: at least this many times faster. */
const FILTERED_MAX_RATIO = 1.3;
const UNFILTERED_MIN_SPEEDUP = 3;

const WARMUP = 3;
const REPETITIONS = 15;

interface DataMessageShape {
  logEvents: Array<{ message: string }>;
}

/**
 * The least any reader of these payloads must do: decode, decompress, parse the data message and parse every
 * audit event. It does not validate or look at anything, so it is a lower bound for "parse everything". It
 * decodes and decompresses with the detector's own code (kept base64 buffer, gunzip settings) so that the
 * comparison is about what gets parsed.
 */
export function floorPass(batch: PayloadBatch): number {
  let keys = 0;
  for (const payload of batch.payloads) {
    const json = inflateAwslogsData(payload.awslogs.data, DEFAULT_MAX_DECOMPRESSED_BYTES).toString("utf8");
    const message = JSON.parse(json) as DataMessageShape;
    for (const logEvent of message.logEvents) {
      const event = JSON.parse(logEvent.message) as Record<string, unknown>;
      if (event.verb !== undefined) keys++;
    }
  }
  return keys;
}

const CONFIG = detectionConfig({ cluster: CLUSTER });

/** The Lambda's code path: one detector per invocation, each payload decoded and ingested. */
function detectorPass(batch: PayloadBatch, totals?: { records: number; problems: number }): number {
  let findings = 0;
  batch.payloads.forEach((payload, index) => {
    const detector = new Detector(CONFIG);
    findings += detector.ingest(decodeDocument(payload, `payload ${index}`)).length;
    if (totals) {
      totals.records += detector.stats.records;
      totals.problems += detector.stats.problems;
    }
  });
  return findings;
}

function perSecond(count: number, ms: number): string {
  return Math.round((count * 1000) / ms).toLocaleString("en-US");
}

export const throughputSection: Section = {
  key: "throughput",
  title: "Throughput: decode + select + score against the floor (base64 + gunzip + JSON.parse of everything)",
  async run(): Promise<SectionResult> {
    const rows: string[][] = [];
    const notes: string[] = [];
    const targets: TargetResult[] = [];
    const ratios = new Map<StreamCase["name"], number>();

    for (const stream of STREAMS) {
      const batch = makeStream(stream.spec);
      const expectedFindings = Math.floor(batch.events / stream.spec.ephemeralOneIn);
      const totals = { records: 0, problems: 0 };
      const findings = detectorPass(batch, totals);
      if (findings !== expectedFindings || totals.records !== batch.events || totals.problems !== 0) {
        notes.push(
          `WARNING ${stream.name}: expected ${expectedFindings} findings from ${batch.events} records, got ` +
            `${findings} findings, ${totals.records} records, ${totals.problems} problems`,
        );
      }
      notes.push(
        `${stream.name}: ${stream.description}; ${batch.payloads.length} payloads x ${stream.spec.eventsPerPayload} ` +
          `events, ${formatBytes(batch.messageBytes / batch.events)} per event, ` +
          `${formatBytes(batch.compressedBytes / batch.payloads.length)} compressed per payload ` +
          `(largest ${formatBytes(batch.largestCompressedBytes)}), ${findings} findings`,
      );

      const contenders: Contender[] = [
        { name: "floor", run: () => floorPass(batch) },
        { name: "detector", run: () => detectorPass(batch) },
      ];
      const { timings } = timeInterleaved(contenders, {
        warmup: WARMUP,
        repetitions: REPETITIONS,
        collectBetweenPasses: false,
      });
      const floorMs = timings.get("floor")?.medianMs ?? Number.NaN;
      for (const contender of contenders) {
        const timing = timings.get(contender.name);
        if (!timing) continue;
        const ms = timing.medianMs;
        const megabytes = batch.messageBytes / (1024 * 1024);
        rows.push([
          stream.name,
          contender.name,
          perSecond(batch.events, ms),
          ((megabytes * 1000) / ms).toFixed(1),
          (ms / batch.payloads.length).toFixed(2),
          `${ms.toFixed(1)} (${timing.minMs.toFixed(1)}-${timing.maxMs.toFixed(1)})`,
          (ms / floorMs).toFixed(2),
        ]);
      }
      ratios.set(stream.name, (timings.get("detector")?.medianMs ?? Number.NaN) / floorMs);
    }

    const filtered = ratios.get("filtered") ?? Number.NaN;
    const unfilteredSpeedup = 1 / (ratios.get("unfiltered") ?? Number.NaN);
    targets.push({
      name: "filtered stream within 1.3x of the floor",
      met: filtered <= FILTERED_MAX_RATIO,
      detail: `${filtered.toFixed(2)}x floor (target <= ${FILTERED_MAX_RATIO.toFixed(2)}x)`,
    });
    targets.push({
      name: "unfiltered stream 3x faster than the floor",
      met: unfilteredSpeedup >= UNFILTERED_MIN_SPEEDUP,
      detail: `${unfilteredSpeedup.toFixed(2)}x faster (target >= ${UNFILTERED_MIN_SPEEDUP.toFixed(2)}x)`,
    });
    notes.push(
      `medians of ${REPETITIONS} interleaved passes after ${WARMUP} warm-up passes, no GC forced between passes; MB/s counts audit event JSON`,
    );
    return {
      tables: [
        {
          columns: ["stream", "path", "events/s", "MB/s", "ms/payload", "ms/pass (min-max)", "x floor"],
          rows,
        },
      ],
      notes,
      targets,
      finalLine: `bench: filtered ${filtered.toFixed(2)}x floor, unfiltered ${unfilteredSpeedup.toFixed(2)}x faster than floor`,
    };
  },
};
