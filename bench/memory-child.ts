import { decodeDocument } from "../functions/core/decode-input.ts";
import { detectionConfig } from "../functions/core/detection-config.ts";
import { Detector } from "../functions/core/detector.ts";
import { CLUSTER } from "./make-events.ts";
import { generatePayloads } from "./make-payloads.ts";
import { collectGarbage, hasExposedGc } from "./measure.ts";
import { streamNamed } from "./streams.ts";

/**
 * One streaming run in a fresh process, so its peak RSS is its own: `memory-child.ts <stream> <payloads>`.
 * One detector reads the whole stream, as the CLI does over a long export; payloads are generated one at a
 * time so only the detector can make memory grow with the stream. A full GC after every payload makes the heap
 * figures what is kept, not what V8 has not collected yet. Prints one JSON line.
 */
export interface MemoryReport {
  payloads: number;
  events: number;
  records: number;
  findings: number;
  problems: number;
  /** Events cut at the event size limit: each is a problem (cut-event) by design. */
  cuts: number;
  /** Live heap (heapUsed after a full GC) at the end, above the same measure before the first payload. */
  retainedHeapBytes: number;
  /** Live heap growth per payload over the last 90% of the run: what the stream itself makes grow. */
  slopeBytesPerPayload: number;
  /** Highest live heap seen after any payload, above the starting heap. */
  peakHeapGrowthBytes: number;
  /** Process peak RSS above the RSS before the first payload. */
  peakRssGrowthBytes: number;
}

function run(streamName: string, payloads: number): MemoryReport {
  if (!hasExposedGc()) throw new Error("memory-child needs --expose-gc");
  const stream = streamNamed(streamName);
  const payloadsOfStream = generatePayloads({ ...stream.spec, payloads });
  const detector = new Detector(detectionConfig({ cluster: CLUSTER }));
  collectGarbage();
  const startHeap = process.memoryUsage().heapUsed;
  const startRss = process.memoryUsage.rss();
  const checkpoint = Math.max(1, Math.floor(payloads / 10));
  let checkpointHeap = startHeap;
  let peakHeap = startHeap;
  let endHeap = startHeap;
  let events = 0;
  let findings = 0;
  let cuts = 0;
  let index = 0;
  for (const generated of payloadsOfStream) {
    events += generated.events;
    cuts += generated.cuts;
    findings += detector.ingest(decodeDocument(generated.payload, `payload ${index++}`)).length;
    collectGarbage();
    endHeap = process.memoryUsage().heapUsed;
    peakHeap = Math.max(peakHeap, endHeap);
    if (index === checkpoint) checkpointHeap = endHeap;
  }
  const peakRss = process.resourceUsage().maxRSS * 1024;
  return {
    payloads: index,
    events,
    records: detector.stats.records,
    findings,
    problems: detector.stats.problems,
    cuts,
    retainedHeapBytes: endHeap - startHeap,
    slopeBytesPerPayload: index > checkpoint ? (endHeap - checkpointHeap) / (index - checkpoint) : 0,
    peakHeapGrowthBytes: peakHeap - startHeap,
    peakRssGrowthBytes: Math.max(0, peakRss - startRss),
  };
}

const [streamName, count] = process.argv.slice(2);
process.stdout.write(`${JSON.stringify(run(streamName ?? "", Number(count)))}\n`);
