import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startPeers } from "../detect-harness.ts";
import { formatBytes, formatRatio, median, type RatioRange, ratios, summarise } from "../measure.ts";
import { readZip } from "../read-zip.ts";
import type { Section, SectionResult, Table, TargetResult } from "../section.ts";
import { findingsDelivery } from "./end-to-end.ts";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const OSLS = join(ROOT, "node_modules", "osls", "bin", "serverless.js");
const CHILD = fileURLToPath(new URL("../cold-start-child.cjs", import.meta.url));
const SDK_FLOOR_CHILD = fileURLToPath(new URL("../sdk-floor-child.cjs", import.meta.url));
/**
 * Handlers are unpacked under node_modules so that `@aws-sdk/*`, left out of the bundles because the Lambda
 * runtime provides it, resolves from node_modules as it would from the runtime's own copy.
 */
const UNPACK_DIR = join(ROOT, "node_modules", ".cache", "ephemeral-guard-bench");

const DETECT_BUNDLE_TARGET_BYTES = 400 * 1024;
const DETECT_INIT_TARGET_MS = 150;
/** Fresh processes per function; the median is reported. */
const COLD_STARTS = 7;
/** Issue 12: process start to detect's first answer, over a bare `node -e 0` start, paired pass by pass. */
const FIRST_ANSWER_MAX_RATIO = 1.6;
const FIRST_ANSWER_PAIRS = 15;

interface FunctionResource {
  Type: string;
  Properties: {
    FunctionName?: string;
    Handler?: string;
    Environment?: { Variables?: Record<string, unknown> };
  };
}

/** CloudFormation references cannot be resolved here; init only needs a value of the right shape. */
function placeholder(name: string, value: unknown): string {
  if (typeof value === "string") return value;
  if (name.endsWith("_ARN")) return `arn:aws:sns:us-east-1:123456789012:bench-${name.toLowerCase()}`;
  return `bench-${name.toLowerCase()}`;
}

function functionEnvironment(variables: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "bench",
    AWS_SECRET_ACCESS_KEY: "bench",
    AWS_LAMBDA_FUNCTION_NAME: "bench",
  };
  for (const [name, value] of Object.entries(variables)) {
    env[name] = placeholder(name, value);
  }
  return env;
}

async function coldStart(
  file: string,
  variables: Record<string, unknown>,
): Promise<{ ms: number[]; error?: string }> {
  const env = functionEnvironment(variables);
  const ms: number[] = [];
  for (let attempt = 0; attempt < COLD_STARTS; attempt++) {
    // NODE_OPTIONS as deployed (none by default) is part of what init costs.
    const nodeOptions = env.NODE_OPTIONS ? env.NODE_OPTIONS.split(" ") : [];
    const { stdout } = await run(process.execPath, [...nodeOptions, CHILD, file], {
      env,
      timeout: 60_000,
      maxBuffer: 4 * 1024 * 1024,
    });
    const report = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as { initMs: number; error?: string };
    if (report.error) return { ms, error: report.error };
    ms.push(report.initMs);
  }
  return { ms };
}

interface FirstAnswer {
  ratio: RatioRange;
  /** The SDK floor's process (sdk-floor-child.cjs) over `node -e 0`, paired the same way. */
  floorRatio: RatioRange;
  rows: string[][];
  notes: string[];
}

/** Wall time of one whole process, from spawn to exit, as the parent sees it; its last stdout line. */
async function wholeProcess(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ ms: number; last: string }> {
  const started = performance.now();
  const { stdout } = await run(process.execPath, args, { env, timeout: 60_000, maxBuffer: 4 * 1024 * 1024 });
  return { ms: performance.now() - started, last: stdout.trim().split("\n").at(-1) ?? "" };
}

/**
 * Cold start to first answer: a fresh process loads the bundled detect handler (NODE_OPTIONS as deployed) and
 * answers a one-finding delivery through the loopback peers (claim, storm mark, PublishBatch, settle: the
 * first SDK calls load the rest of the SDK), then exits; paired with a bare `node -e 0` start, order rotated.
 * A third process in each pass, the SDK floor (sdk-floor-child.cjs), requires the same two SDK clients and makes
 * one claim and one publish: what any SDK-based first answer costs, measured in the same passes.
 */
async function firstAnswer(file: string, variables: Record<string, unknown>): Promise<FirstAnswer> {
  const peers = await startPeers();
  const eventDir = mkdtempSync(join(tmpdir(), "ephemeral-guard-bench-cold-"));
  const env = { ...functionEnvironment(variables), ...peers.environment };
  const nodeOptions = env.NODE_OPTIONS ? env.NODE_OPTIONS.split(" ") : [];
  const bare = { PATH: process.env.PATH ?? "" };
  const samples = {
    node: [] as number[],
    detect: [] as number[],
    answer: [] as number[],
    init: [] as number[],
    floor: [] as number[],
  };
  const notes: string[] = [];
  try {
    for (let pass = -1; pass < FIRST_ANSWER_PAIRS; pass++) {
      const eventFile = join(eventDir, `event-${pass + 1}.json`);
      writeFileSync(eventFile, JSON.stringify(findingsDelivery(1, `cold-${process.pid}-${pass + 1}`)));
      const turns = [
        async () => {
          const { ms } = await wholeProcess(["-e", "0"], bare);
          if (pass >= 0) samples.node.push(ms);
        },
        async () => {
          const { ms, last } = await wholeProcess([...nodeOptions, CHILD, file, eventFile], env);
          const report = JSON.parse(last || "{}") as {
            initMs?: number;
            answerMs?: number;
            error?: string;
            answerError?: string;
          };
          const failure = report.error ?? report.answerError;
          if (failure !== undefined) throw new Error(`detect's first answer failed: ${failure}`);
          if (pass >= 0) {
            samples.detect.push(ms);
            samples.answer.push(report.answerMs ?? Number.NaN);
            samples.init.push(report.initMs ?? Number.NaN);
          }
        },
        async () => {
          const { ms, last } = await wholeProcess([SDK_FLOOR_CHILD, `${process.pid}-${pass + 1}`], env);
          const report = JSON.parse(last || "{}") as { error?: string };
          if (report.error !== undefined) throw new Error(`the SDK floor failed: ${report.error}`);
          if (pass >= 0) samples.floor.push(ms);
        },
      ];
      // Rotated: none always runs first, right after another's exit.
      const shift = (pass + 1) % turns.length;
      for (const turn of [...turns.slice(shift), ...turns.slice(0, shift)]) await turn();
    }
  } finally {
    peers.stop();
    rmSync(eventDir, { recursive: true, force: true });
  }
  const range = (values: number[]) => {
    const t = summarise(values);
    return `${t.medianMs.toFixed(0)} (${t.minMs.toFixed(0)}-${t.maxMs.toFixed(0)})`;
  };
  const ratio = ratios(samples.detect, samples.node);
  const floorRatio = ratios(samples.floor, samples.node);
  notes.push(
    `first answer: ${FIRST_ANSWER_PAIRS} pairs after one warm-up pair, order rotated; whole process = spawn to exit as ` +
      "this process sees it; the detect process answers a one-finding delivery through the loopback peers " +
      "(their own processes, on the same 2 cores), the SDK from node_modules as the runtime provides it",
  );
  notes.push(
    "SDK floor: a fresh process that requires @aws-sdk/client-dynamodb and @aws-sdk/client-sns from node_modules " +
      "and makes one conditional PutItem and one PublishBatch through the same peers (bench/sdk-floor-child.cjs): " +
      "no handler, no detection; detect's first answer cannot come sooner than a finding's claim and publish do",
  );
  return {
    ratio,
    floorRatio,
    notes,
    rows: [
      ["node -e 0", range(samples.node), "-", "-", "1.00"],
      [
        "SDK floor: require 2 clients, 1 claim, 1 publish",
        range(samples.floor),
        "-",
        "-",
        formatRatio(floorRatio),
      ],
      [
        "detect: start to first answer",
        range(samples.detect),
        range(samples.init),
        range(samples.answer),
        formatRatio(ratio),
      ],
    ],
  };
}

export const deployedBundleSection: Section = {
  key: "bundle",
  title: `Deployed bundles (npm run package, offline): size and cold-start init (${COLD_STARTS} fresh processes each)`,
  async run(): Promise<SectionResult> {
    const out = mkdtempSync(join(tmpdir(), "ephemeral-guard-bench-package-"));
    try {
      await run(
        process.execPath,
        [OSLS, "package", "--stage", "bench", "--package", out, "--param=clusters=bench"],
        {
          cwd: ROOT,
          timeout: 300_000,
          env: {
            ...process.env,
            SLS_TELEMETRY_DISABLED: "1",
            SLS_NOTIFICATIONS_MODE: "off",
            ESBUILD_WORK_FOLDER: `.esbuild-bench-${process.pid}`,
          },
        },
      );
      const template = JSON.parse(
        readFileSync(join(out, "cloudformation-template-update-stack.json"), "utf8"),
      ) as {
        Resources: Record<string, FunctionResource>;
      };
      const functions = Object.values(template.Resources).filter((r) => r.Type === "AWS::Lambda::Function");
      const rows: string[][] = [];
      const notes: string[] = [];
      const targets: TargetResult[] = [];
      const headline: string[] = [];
      let answered: FirstAnswer | undefined;
      rmSync(UNPACK_DIR, { recursive: true, force: true });
      for (const zipName of readdirSync(out)
        .filter((name) => name.endsWith(".zip"))
        .sort()) {
        const name = zipName.replace(/\.zip$/, "");
        const fn = functions.find((candidate) => candidate.Properties.FunctionName?.endsWith(`-${name}`));
        const entries = readZip(join(out, zipName));
        const handlerBase = (fn?.Properties.Handler ?? "").replace(/\.[^.]+$/, "");
        const code = entries.find(
          (entry) => entry.name.startsWith(handlerBase) && !entry.name.endsWith(".map"),
        );
        const map = entries.find((entry) => entry.name.endsWith(".map"));
        if (!fn || !code) {
          notes.push(`WARNING ${zipName}: no handler file found (${entries.map((e) => e.name).join(", ")})`);
          continue;
        }
        const file = join(UNPACK_DIR, name, code.name);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, code.data);
        // Beside it as in the zip: should NODE_OPTIONS enable source maps, Node reads and parses the map when the
        // handler loads, and that is part of init.
        if (map) writeFileSync(join(UNPACK_DIR, name, map.name), map.data);
        const zipBytes = readFileSync(join(out, zipName)).length;
        const cold = await coldStart(file, fn.Properties.Environment?.Variables ?? {});
        const init = cold.ms.length > 0 ? median(cold.ms) : Number.NaN;
        rows.push([
          name,
          formatBytes(code.data.length),
          map ? formatBytes(map.data.length) : "-",
          formatBytes(zipBytes),
          cold.error ? `init failed: ${cold.error}` : `${init.toFixed(0)} ms`,
          cold.ms.length > 0
            ? `${Math.min(...cold.ms).toFixed(0)}-${Math.max(...cold.ms).toFixed(0)} ms`
            : "-",
        ]);
        if (name === "detect") {
          targets.push({
            name: "detect bundle size",
            met: code.data.length <= DETECT_BUNDLE_TARGET_BYTES,
            detail: `${formatBytes(code.data.length)} minified (target <= ${formatBytes(DETECT_BUNDLE_TARGET_BYTES)})`,
          });
          targets.push({
            name: "detect cold-start init",
            met: cold.error === undefined && init <= DETECT_INIT_TARGET_MS,
            detail: cold.error
              ? `init failed: ${cold.error}`
              : `median ${init.toFixed(0)} ms in a fresh process (target <= ${DETECT_INIT_TARGET_MS} ms)`,
          });
          answered = await firstAnswer(file, fn.Properties.Environment?.Variables ?? {});
          targets.push({
            name: `detect: process start to first answer within ${FIRST_ANSWER_MAX_RATIO}x a bare node start`,
            met: answered.ratio.median <= FIRST_ANSWER_MAX_RATIO,
            detail:
              `${formatRatio(answered.ratio)} node -e 0 (target <= ${FIRST_ANSWER_MAX_RATIO.toFixed(2)}x; ` +
              `the SDK floor alone: ${formatRatio(answered.floorRatio)})`,
          });
          headline.push(
            `detect bundle ${formatBytes(code.data.length)}`,
            `detect init ${init.toFixed(0)} ms`,
          );
        }
      }
      notes.push(
        "bundle = the minified handler file in the deployment zip (AWS SDK v3 left out: the nodejs22.x runtime " +
          "provides it); init = require() of that file in a fresh node process with the function's environment, " +
          "SDK loaded from node_modules, including NODE_OPTIONS as deployed; this machine runs node " +
          `${process.version}, Lambda runs nodejs22.x on arm64`,
      );
      const table: Table = {
        columns: ["function", "bundle", "source map", "zip", "init (median)", "init range"],
        rows,
      };
      const tables = [table];
      if (answered) {
        tables.push({
          columns: ["process", "wall ms (min-max)", "init ms", "first answer at ms", "x node -e 0"],
          rows: answered.rows,
        });
        notes.push(...answered.notes);
      }
      return {
        tables,
        notes,
        targets,
        headline,
        ...(answered ? { finalLine: { init: `init ${answered.ratio.median.toFixed(2)}x node` } } : {}),
      };
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
};
