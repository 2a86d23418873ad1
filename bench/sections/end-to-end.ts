import { gzipSync } from "node:zlib";
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { CONCURRENT_GROUPS } from "../../functions/adapters/aws/publish-findings-once.ts";
import {
  DEPLOYED_STORM,
  type DetectHarness,
  type Invocation,
  TIMEOUT_MS,
  TOPIC,
  withDetectHandler,
} from "../detect-harness.ts";
import { clusterModel, ephemeralWrite, LOG_GROUP } from "../make-events.ts";
import { median, summarise } from "../measure.ts";
import { RandomSource } from "../random-source.ts";
import type { Section, SectionResult, TargetResult } from "../section.ts";

/**
 * End to end: one delivery's findings through the real detect handler and its SDK clients to the loopback SNS
 * and DynamoDB peers (bench/detect-harness.ts), with storm control on as deployed. Three measurements:
 * - a one-finding delivery, interleaved (order rotated) with the peers' own round trip from this process (an
 *   SNS Publish, a DynamoDB PutItem), so that what detect adds to the network is visible;
 * - 1,000 findings in one delivery (target <= 2 s, issue 12);
 * - 10,000 findings in one delivery (issue 8: well under a third of the 60 s timeout; held to a sixth here).
 * BENCH_E2E_PASSES / BENCH_E2E_FLOOD_PASSES change the pass counts.
 */

const PASSES = Number(process.env.BENCH_E2E_PASSES ?? 15);
const FLOOD_PASSES = Number(process.env.BENCH_E2E_FLOOD_PASSES ?? 3);
const E2E_1K_TARGET_S = 2;
/** A third of the timeout is the bound; "well under" is held to half of it, a sixth of the timeout. */
const THIRD_OF_TIMEOUT_S = TIMEOUT_MS / 1000 / 3;
const FLOOD_TARGET_S = THIRD_OF_TIMEOUT_S / 2;

/** One CloudWatch Logs delivery of `count` kubectl debug writes, each a finding (bodies without the stored pod). */
export function findingsDelivery(count: number, run: string): unknown {
  const random = new RandomSource(count);
  const model = clusterModel(random);
  const logEvents = Array.from({ length: count }, (_, index) => {
    const event = ephemeralWrite(model, random);
    event.auditID = `${run}-${index}`;
    delete event.responseObject;
    return { id: String(index), timestamp: model.clock, message: JSON.stringify(event) };
  });
  const data = JSON.stringify({
    messageType: "DATA_MESSAGE",
    owner: "111122223333",
    logGroup: LOG_GROUP,
    logStream: "kube-apiserver-audit-bench",
    subscriptionFilters: ["ephemeral-guard"],
    logEvents,
  });
  return { awslogs: { data: gzipSync(data).toString("base64") } };
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);
const range = (values: readonly number[], digits: number) => {
  const t = summarise(values);
  return `${t.medianMs.toFixed(digits)} (${t.minMs.toFixed(digits)}-${t.maxMs.toFixed(digits)})`;
};

interface Contender {
  name: string;
  run(pass: number): Promise<number>;
}

/** Async contenders in turn, the order rotated each pass, one warm-up pass; wall ms per pass. */
async function interleave(contenders: readonly Contender[], passes: number): Promise<Map<string, number[]>> {
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let pass = -1; pass < passes; pass++) {
    for (let turn = 0; turn < contenders.length; turn++) {
      const contender = contenders[(pass + 1 + turn) % contenders.length] as Contender;
      const ms = await contender.run(pass);
      if (pass >= 0) samples.get(contender.name)?.push(ms);
    }
  }
  return samples;
}

async function oneFinding(harness: DetectHarness): Promise<{ rows: string[][]; note: string }> {
  const config = { region: "us-east-1", credentials: { accessKeyId: "bench", secretAccessKey: "bench" } };
  const sns = new SNSClient({ ...config, endpoint: harness.endpoints.sns });
  const dynamo = new DynamoDBClient({ ...config, endpoint: harness.endpoints.dynamodb });
  const requests: number[] = [];
  try {
    const samples = await interleave(
      [
        {
          name: "1 finding through detect",
          async run(pass) {
            const before = await harness.dynamodb.ask("stats");
            const snsBefore = await harness.sns.ask("stats");
            const invocation = await harness.invoke(findingsDelivery(1, `one-${pass}`));
            if (invocation.failure) throw new Error(`one-finding delivery failed: ${invocation.failure}`);
            const [after, snsAfter] = [await harness.dynamodb.ask("stats"), await harness.sns.ask("stats")];
            requests.push(after.requests - before.requests + snsAfter.requests - snsBefore.requests);
            return invocation.wallMs;
          },
        },
        {
          name: "SNS Publish round trip",
          async run(pass) {
            const started = performance.now();
            await sns.send(new PublishCommand({ TopicArn: TOPIC, Message: `round trip ${pass}` }));
            return performance.now() - started;
          },
        },
        {
          name: "DynamoDB PutItem round trip",
          async run(pass) {
            const started = performance.now();
            await dynamo.send(
              new PutItemCommand({
                TableName: "bench-idempotency",
                Item: { id: { S: `round-trip-${pass}` }, status: { S: "COMPLETED" } },
              }),
            );
            return performance.now() - started;
          },
        },
      ],
      PASSES,
    );
    const rows = [...samples].map(([name, values]) => [name, range(values, 1)]);
    const detectMs = median(samples.get("1 finding through detect") ?? []);
    const trip =
      (median(samples.get("SNS Publish round trip") ?? []) +
        median(samples.get("DynamoDB PutItem round trip") ?? [])) /
      2;
    const calls = median(requests);
    return {
      rows,
      note:
        `1 finding: ${detectMs.toFixed(1)} ms for ${calls} calls to the peers, ${(detectMs / trip).toFixed(1)}x one ` +
        `peer round trip (${trip.toFixed(1)} ms, the mean of SNS's and DynamoDB's medians)`,
    };
  } finally {
    sns.destroy();
    dynamo.destroy();
  }
}

interface FloodPass {
  invocation: Invocation;
  published: number;
  snsRequests: number;
  dynamoRequests: number;
  dynaliteCpuMs: number;
  snsCpuMs: number;
}

async function flood(harness: DetectHarness, size: number, pass: number): Promise<FloodPass> {
  const event = findingsDelivery(size, `flood-${size}-${pass}`);
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

function floodRow(size: number, passes: readonly FloodPass[]): string[] {
  const wall = passes.map((p) => (p.invocation.failure ? Number.POSITIVE_INFINITY : p.invocation.wallMs));
  const mid = (pick: (p: FloodPass) => number) => median(passes.map(pick));
  return [
    `${size.toLocaleString("en-US")} findings (${passes.length} passes)`,
    `${seconds(median(wall))} (${seconds(Math.min(...wall))}-${seconds(Math.max(...wall))})`,
    mid((p) => p.published).toLocaleString("en-US"),
    seconds(mid((p) => p.invocation.cpuMs)),
    seconds(mid((p) => p.dynaliteCpuMs)),
    seconds(mid((p) => p.snsCpuMs)),
    String(mid((p) => p.snsRequests)),
    String(mid((p) => p.dynamoRequests)),
  ];
}

export const endToEndSection: Section = {
  key: "e2e",
  title:
    `End to end: deliveries through the detect handler (storm control on, ${DEPLOYED_STORM.budget} per ` +
    `${DEPLOYED_STORM.windowMinutes} min), ${CONCURRENT_GROUPS} PublishBatch groups at a time, loopback peers in their own processes`,
  async run(): Promise<SectionResult> {
    return withDetectHandler(async (harness) => {
      // Module initialisation and the first connections are the cold start's, not these measurements'.
      await harness.invoke(findingsDelivery(20, "warm-up"));
      const single = await oneFinding(harness);
      const floods = new Map<number, FloodPass[]>([
        [1_000, []],
        [10_000, []],
      ]);
      for (let pass = 0; pass < PASSES; pass++) {
        floods.get(1_000)?.push(await flood(harness, 1_000, pass));
        if (pass < FLOOD_PASSES) floods.get(10_000)?.push(await flood(harness, 10_000, pass));
      }
      const notes: string[] = [single.note];
      for (const [size, passes] of floods) {
        for (const failed of passes.filter((p) => p.invocation.failure)) {
          notes.push(`WARNING ${size} findings: the invocation failed: ${failed.invocation.failure}`);
        }
        const short = passes.filter((p) => p.published !== size);
        if (short.length > 0) notes.push(`WARNING ${size} findings: ${short.length} passes published fewer`);
      }
      const wallOf = (size: number) =>
        (floods.get(size) ?? []).map((p) =>
          p.invocation.failure ? Number.POSITIVE_INFINITY : p.invocation.wallMs / 1000,
        );
      const oneK = median(wallOf(1_000));
      const tenK = median(wallOf(10_000));
      notes.push(
        `10,000 findings: ${tenK.toFixed(2)} s = ${(tenK / THIRD_OF_TIMEOUT_S).toFixed(2)}x a third of the ` +
          `${TIMEOUT_MS / 1000} s timeout (${THIRD_OF_TIMEOUT_S} s); 39 s when PublishBatch calls ran one after another`,
        "function CPU = this process (decode, detect, the SDK clients: serialising, signing, HTTP); dynalite and SNS " +
          "CPU = their own processes, which share this machine's 2 cores with it (so the wall time includes waiting " +
          "for them). Each finding costs a conditional PutItem (its claim); each group of 10 one PublishBatch and " +
          "one BatchWriteItem (the settles); medians over the passes",
      );
      const targets: TargetResult[] = [
        {
          name: "1,000 findings in one delivery, end to end",
          met: oneK <= E2E_1K_TARGET_S,
          detail: `median ${oneK.toFixed(2)} s of ${PASSES} passes (target <= ${E2E_1K_TARGET_S} s)`,
        },
        {
          name: "10,000 findings in one delivery well under a third of the timeout",
          met: tenK <= FLOOD_TARGET_S,
          detail:
            `median ${tenK.toFixed(2)} s of ${FLOOD_PASSES} passes, ${(tenK / THIRD_OF_TIMEOUT_S).toFixed(2)}x ` +
            `${THIRD_OF_TIMEOUT_S} s (target <= ${FLOOD_TARGET_S} s, half of a third)`,
        },
      ];
      return {
        tables: [
          { columns: ["delivery or call", "ms (min-max)"], rows: single.rows },
          {
            columns: [
              "delivery",
              "seconds (min-max)",
              "published",
              "function CPU s",
              "dynalite CPU s",
              "SNS peer CPU s",
              "SNS calls",
              "DynamoDB calls",
            ],
            rows: [...floods].map(([size, passes]) => floodRow(size, passes)),
          },
        ],
        notes,
        targets,
        headline: [
          `10,000 findings in ${tenK.toFixed(1)} s (${(tenK / THIRD_OF_TIMEOUT_S).toFixed(2)}x 20 s)`,
        ],
        finalLine: { e2e: `e2e 1000 findings ${oneK.toFixed(2)}s` },
      };
    });
  },
};
