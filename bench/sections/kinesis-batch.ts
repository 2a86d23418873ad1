import os from "node:os";
import { CONCURRENT_GROUPS } from "../../functions/adapters/aws/publish-findings-once.ts";
import { DEPLOYED_STORM, type DetectHarness, type Invocation, withDetectHandler } from "../detect-harness.ts";
import { BENCH_ACCOUNTS, type KinesisBatch, kinesisBatch } from "../make-kinesis-batch.ts";
import { formatBytes, formatRatio, median, ratios, summarise } from "../measure.ts";
import type { Section, SectionResult } from "../section.ts";
import { findingsDelivery } from "./end-to-end.ts";

/**
 * One batch of the organization's Kinesis stream (issue 10 §6): 100 records, each a CloudWatch Logs delivery of
 * what the subscription filter passed from one of five member accounts' clusters (bench/make-kinesis-batch.ts),
 * through the real detect handler as deployed (storm control on) to the loopback SNS peer and dynalite, each in
 * its own process (bench/detect-harness.ts). Interleaved, order rotated, with a one-finding CloudWatch delivery
 * (the e2e section's baseline), so that the batch's cost is also a ratio that a loaded machine moves less than
 * seconds. Every pass's batch carries new auditIDs (the same bytes otherwise): each is new to the idempotency
 * table, so every pass claims, publishes and settles all its findings. A pass whose partial batch response names
 * any record, or that publishes fewer findings than the batch holds, stops the bench: the number would not be
 * the one docs/scale.md quotes. BENCH_KINESIS_PASSES changes the pass count (15).
 */

const PASSES = Number(process.env.BENCH_KINESIS_PASSES ?? 15);
const RECORDS = 100;
/** Fixed, so every run reads the same bytes. */
const SEED = 21;

interface Pass {
  invocation: Invocation;
  published: number;
  snsRequests: number;
  dynamoRequests: number;
  dynaliteCpuMs: number;
  snsCpuMs: number;
}

async function measured(harness: DetectHarness, event: unknown): Promise<Pass> {
  await harness.sns.ask("clear");
  const [snsBefore, dynamoBefore] = [await harness.sns.ask("stats"), await harness.dynamodb.ask("stats")];
  const invocation = await harness.invoke(event);
  const [snsAfter, dynamoAfter] = [await harness.sns.ask("stats"), await harness.dynamodb.ask("stats")];
  return {
    invocation,
    published: snsAfter.published,
    snsRequests: snsAfter.requests,
    dynamoRequests: dynamoAfter.requests - dynamoBefore.requests,
    dynaliteCpuMs: dynamoAfter.cpuMs - dynamoBefore.cpuMs,
    snsCpuMs: snsAfter.cpuMs - snsBefore.cpuMs,
  };
}

/**
 * Throws unless detect handled every record and published every finding. Storm notices (one per cluster and
 * window, the first time a cluster goes past the budget in a window) come on top of the findings.
 */
function checkBatchPass(pass: Pass, batch: KinesisBatch, label: string): void {
  const { invocation } = pass;
  if (invocation.failure) throw new Error(`${label}: the invocation failed: ${invocation.failure}`);
  const failures = (
    invocation.response as { batchItemFailures?: Array<{ itemIdentifier: string }> } | undefined
  )?.batchItemFailures;
  if (!Array.isArray(failures)) {
    throw new Error(`${label}: no partial batch response: ${JSON.stringify(invocation.response)}`);
  }
  if (failures.length > 0) {
    throw new Error(
      `${label}: the partial batch response names ${failures.length} of ${batch.records} records ` +
        `(${failures
          .slice(0, 5)
          .map((f) => f.itemIdentifier)
          .join(", ")}…): detect did not handle the whole batch`,
    );
  }
  const clusters = new Set(batch.owners).size;
  if (pass.published < batch.findings || pass.published > batch.findings + clusters) {
    throw new Error(
      `${label}: published ${pass.published} messages for ${batch.findings} findings ` +
        `(at most ${clusters} storm notices on top)`,
    );
  }
}

const ms = (values: readonly number[]) => {
  const t = summarise(values);
  return `${t.medianMs.toFixed(0)} (${t.minMs.toFixed(0)}-${t.maxMs.toFixed(0)})`;
};

function row(name: string, passes: readonly Pass[]): string[] {
  const mid = (pick: (p: Pass) => number) => median(passes.map(pick));
  return [
    name,
    ms(passes.map((p) => p.invocation.wallMs)),
    mid((p) => p.invocation.cpuMs).toFixed(0),
    String(mid((p) => p.published)),
    String(mid((p) => p.snsRequests)),
    String(mid((p) => p.dynamoRequests)),
    mid((p) => p.dynaliteCpuMs).toFixed(0),
    mid((p) => p.snsCpuMs).toFixed(0),
  ];
}

export const kinesisBatchSection: Section = {
  key: "kinesis",
  title:
    `One Kinesis batch of ${RECORDS} records through detect (storm control on, ${DEPLOYED_STORM.budget} per ` +
    `${DEPLOYED_STORM.windowMinutes} min), ${CONCURRENT_GROUPS} PublishBatch groups at a time, loopback peers in their own processes`,
  async run(): Promise<SectionResult> {
    const loadBefore = os.loadavg()[0] ?? 0;
    const spec = { seed: SEED, records: RECORDS, accounts: BENCH_ACCOUNTS };
    const shape = kinesisBatch({ ...spec, run: 0 });
    return withDetectHandler(async (harness) => {
      const batchPasses: Pass[] = [];
      const onePasses: Pass[] = [];
      const contenders = [
        {
          async run(pass: number) {
            // Built before the clock starts, with auditIDs of this pass's own (the warm-up's run is 0).
            const batch = kinesisBatch({ ...spec, run: pass + 1 });
            const result = await measured(harness, batch.event);
            checkBatchPass(result, batch, `Kinesis batch, pass ${pass}`);
            if (pass >= 0) batchPasses.push(result);
          },
        },
        {
          async run(pass: number) {
            const result = await measured(harness, findingsDelivery(1, `kinesis-one-${pass}`));
            if (result.invocation.failure) {
              throw new Error(`one-finding delivery, pass ${pass}: ${result.invocation.failure}`);
            }
            if (pass >= 0) onePasses.push(result);
          },
        },
      ];
      // One warm-up pass (-1): module initialisation, first connections, each cluster's first storm window.
      for (let pass = -1; pass < PASSES; pass++) {
        for (let turn = 0; turn < contenders.length; turn++) {
          await contenders[(pass + 1 + turn) % contenders.length]?.run(pass);
        }
      }
      const batchWall = batchPasses.map((p) => p.invocation.wallMs);
      const ratio = ratios(
        batchWall,
        onePasses.map((p) => p.invocation.wallMs),
      );
      const loadAfter = os.loadavg()[0] ?? 0;
      const perRecord = median(batchWall) / RECORDS;
      const perFinding = median(batchPasses.map((p) => p.invocation.cpuMs)) / shape.findings;
      const kinds = [...shape.kinds]
        .sort((a, b) => b[1] - a[1])
        .map(([kind, count]) => `${count} ${kind}`)
        .join(", ");
      const medianS = (median(batchWall) / 1000).toFixed(2);
      return {
        tables: [
          {
            columns: [
              "invocation",
              "wall ms (min-max)",
              "function CPU ms",
              "published",
              "SNS calls",
              "DynamoDB calls",
              "dynalite CPU ms",
              "SNS peer CPU ms",
            ],
            rows: [
              row(`Kinesis batch, ${RECORDS} records (${batchPasses.length} passes)`, batchPasses),
              row(`1 finding, CloudWatch delivery (${onePasses.length} passes)`, onePasses),
            ],
          },
        ],
        notes: [
          `the batch: ${RECORDS} records from ${new Set(shape.owners).size} accounts (one cluster each), ` +
            `${shape.events} audit events (1-5 a record), ${shape.findings} findings expected: ${kinds}; ` +
            `${formatBytes(shape.base64Bytes)} of base64 data (Lambda takes 6 MB), ${formatBytes(shape.decompressedBytes)} decompressed`,
          `every pass: partial batch response empty (all ${RECORDS} records handled), all ${shape.findings} findings ` +
            "published (storm notices, one per cluster and window, on top)",
          `batch / one finding, pass by pass (wall): ${formatRatio(ratio)}; ${perRecord.toFixed(1)} ms wall a record, ` +
            `${perFinding.toFixed(2)} ms of function CPU a finding`,
          `load average (1 min) ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after`,
        ],
        targets: [],
        headline: [
          `Kinesis batch of ${RECORDS} records ${medianS} s (${ratio.median.toFixed(1)}x one finding)`,
        ],
      };
    });
  },
};
