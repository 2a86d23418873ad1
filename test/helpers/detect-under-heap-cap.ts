import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { emptyPublishOnceResult } from "../../functions/adapters/aws/publish-once-result.ts";
import { findingMessage, messageBytes } from "../../functions/adapters/aws/sns-message.ts";
import { detectInvocation } from "../../functions/adapters/lambda/detect-invocation.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { MAX_RECORD_CHARS } from "../../functions/core/detector.ts";
import type { Severity } from "../../functions/core/severity.ts";
import {
  type Delivery,
  delivery,
  MAX_DECOMPRESSED_BYTES,
  repeatedDelivery,
  writeEvent,
  writeWithContainers,
} from "./worst-case-deliveries.ts";

/**
 * `node --max-old-space-size=N --import tsx detect-under-heap-cap.ts <shape>` (the suite runs it bundled by
 * esbuild, to spend its time on the delivery rather than on transpiling): builds one worst-case delivery
 * and runs detect's invocation logic on it (decode, detect, every finding made into its SNS message, as the
 * publisher would) in this process, whose heap is capped. It prints one JSON line and exits 0, or V8 ends it
 * for running out of heap. test/detect-memory.test.ts runs it per shape.
 */

export interface HeapCapReport {
  shape: string;
  records: number;
  decompressedBytes: number;
  eventBytes: number;
  findings: number;
  rejects: number;
  maxMessageBytes: number;
  severities: Severity[];
  omittedContainers: number;
  peakRssBytes: number;
}

const NESTING = 10_000;
/** Stands for each record's auditID in repeatedDelivery. */
const ID = "audit-id";
/** The most log events one PutLogEvents call (so, we assume, one delivery) carries. */
const CLOUDWATCH_BATCH_EVENTS = 10_000;

function nested(depth: number): string {
  return `${'{"x":'.repeat(depth)}{}${"}".repeat(depth)}`;
}

/** As many copies of `message` as fit under 64 MiB decompressed, each with its own auditID. */
function asManyAsFit(message: string): Delivery {
  const perRecord = JSON.stringify(message).length + 64;
  return repeatedDelivery(message, ID, Math.floor((MAX_DECOMPRESSED_BYTES - 4096) / perRecord));
}

/**
 * `npm run bench -- deliveries` runs the shapes at their most (`--most`): as many nested, long-stringed or
 * small writes as fit in 64 MiB. The suite runs lighter forms, to stay within its 5 s per test: memory is
 * bounded per record and per slice of records, so more of them cost time, not memory (beyond ~100 B per
 * finding for the duplicate set); the containers and oversized shapes hold half of the 64 MiB (FILL_TO).
 */
const MOST = process.argv.includes("--most");
/**
 * How much of a delivery the containers and oversized shapes fill with records held in memory: 64 MiB, the
 * most a delivery may decompress to, with --most; 32 MiB in the suite, where the whole 64 MiB took 2-2.5 s alone
 * and over 5 s beside a CPU-heavy process and the suite's other files.
 */
const FILL_TO = MOST ? MAX_DECOMPRESSED_BYTES : 32 * 1024 * 1024;

type Built = Pick<Delivery, "decompressedBytes" | "eventBytes" | "records"> & { event: unknown };

const SHAPES: Record<string, () => Built> = {
  /**
   * One write as large as a record may be (MAX_RECORD_CHARS) of the smallest containers, the last one
   * privileged, and the rest of the delivery (FILL_TO) filled with records held in memory.
   */
  containers: () => {
    const count = Math.floor((MAX_RECORD_CHARS - 1024) / 13);
    const containers = `${'{"name":"a"},'.repeat(count - 1)}{"name":"z","securityContext":{"privileged":true}}`;
    return delivery([writeWithContainers("containers-0", containers)], FILL_TO);
  },
  /**
   * One write of 12 MiB of empty objects, which the detector must hold but not parse (parsed, it would take
   * over 256 MB of heap: a 16 MiB record of tiny containers peaked at 570 MB), and the rest of the delivery
   * (FILL_TO) filled with records held in memory.
   */
  oversized: () => {
    const oversized = `${"{},".repeat(4 * 1024 * 1024)}{}`;
    return delivery([writeWithContainers("containers-1", oversized)], FILL_TO);
  },
  /**
   * Not a subscription delivery: one audit event of 6 MB invoked directly (detect accepts those too), of the
   * smallest containers, the last one privileged. The Lambda runtime has parsed it before detect runs.
   */
  direct: () => {
    const count = Math.floor((6 * 1024 * 1024 - 1024) / 13);
    const containers = `${'{"name":"a"},'.repeat(count - 1)}{"name":"z","securityContext":{"privileged":true}}`;
    const text = writeWithContainers("direct-0", containers);
    return { event: JSON.parse(text), decompressedBytes: text.length, eventBytes: text.length, records: 1 };
  },
  /** Writes whose securityContext is nested as deep as the API server accepts: 100, or as many as fit (--most). */
  nesting: () => {
    const write = writeWithContainers(
      ID,
      `{"name":"deep","securityContext":{"privileged":true,"seLinuxOptions":${nested(NESTING)}}}`,
    );
    return MOST ? asManyAsFit(write) : repeatedDelivery(write, ID, 100);
  },
  /** Writes of a megabyte whose every string is as long as it can be: 16, or as many as fit (--most). */
  strings: () => {
    const long = (c: string) => c.repeat(128 * 1024);
    const container = JSON.stringify({
      name: long("n"),
      image: long("i"),
      command: [long("c"), long("d")],
      targetContainerName: long("t"),
      securityContext: { privileged: true, seLinuxOptions: { type: long("s") } },
    });
    const write = writeWithContainers(ID, container).replace('"mallory"', JSON.stringify(long("u")));
    return MOST ? asManyAsFit(write) : repeatedDelivery(write, ID, 16);
  },
  /**
   * Small writes, each its own finding: 10,000 (as many events as one PutLogEvents call carries), or as many
   * as fit in 64 MiB (--most, about 99,000).
   */
  events: () => {
    const one = writeEvent(ID);
    const count = MOST
      ? Math.floor((MAX_DECOMPRESSED_BYTES - 4096) / (JSON.stringify(one).length + 64))
      : CLOUDWATCH_BATCH_EVENTS;
    return delivery(
      (function* () {
        for (let i = 0; i < count; i++) yield one.replace(ID, `${ID}-${i}`);
      })(),
    );
  },
};

async function run(shape: string): Promise<HeapCapReport> {
  const build = SHAPES[shape];
  if (!build) throw new RangeError(`no shape ${shape}; known: ${Object.keys(SHAPES).join(", ")}`);
  const built = build();
  const report: HeapCapReport = {
    shape,
    records: built.records,
    decompressedBytes: built.decompressedBytes,
    eventBytes: built.eventBytes,
    findings: 0,
    rejects: 0,
    maxMessageBytes: 0,
    severities: [],
    omittedContainers: 0,
    peakRssBytes: 0,
  };
  const seen = new Set<Severity>();
  const summary = await detectInvocation(built.event, {
    detection: detectionConfig({}),
    logger: new Logger({ serviceName: "detect", logLevel: "ERROR" }),
    metrics: new Metrics({ namespace: "EphemeralGuard", serviceName: "detect" }),
    sink: async (findings) => {
      for (const finding of findings) {
        const message = findingMessage(finding);
        report.maxMessageBytes = Math.max(report.maxMessageBytes, messageBytes(message));
        report.omittedContainers += message.finding.omitted?.containers ?? 0;
        seen.add(finding.severity);
      }
      return emptyPublishOnceResult();
    },
  });
  report.findings = summary.findings;
  report.rejects = summary.rejects;
  report.severities = [...seen];
  report.peakRssBytes = process.resourceUsage().maxRSS * 1024;
  return report;
}

const shape = process.argv[2] ?? "";
run(shape).then(
  (report) => process.stdout.write(`${JSON.stringify(report)}\n`),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
