import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_FINDING_MESSAGE_BYTES } from "../functions/adapters/aws/sns-message.ts";
import type { HeapCapReport } from "./helpers/detect-under-heap-cap.ts";

/**
 * A 6 MB delivery of any shape stays within a 512 MB function. Each shape runs detect's invocation logic in a
 * child process whose V8 heap is capped at HEAP_CAP_MB, about what V8 gives itself on a 512 MB machine and
 * leaving room below 512 MB for the decompressed payload (a Buffer, outside the heap), code and stacks. The
 * child either completes or V8 ends it for running out of heap: deterministic, no timing.
 *
 * `npm run bench -- deliveries` runs the same shapes at their most, and a 6 MB audit event invoked directly
 * (480,000 containers, past the record limit because the Lambda runtime parsed it): several seconds each.
 */

const CHILD = fileURLToPath(new URL("./helpers/detect-under-heap-cap.ts", import.meta.url));
const HEAP_CAP_MB = 256;

interface ChildResult {
  code: number;
  report?: HeapCapReport;
  stderr: string;
}

/** The child bundled once: tsx would transpile detect's modules again in every child, a second each. */
let bundled: string;
let bundleDir: string;

beforeAll(async () => {
  bundleDir = await mkdtemp(join(tmpdir(), "detect-memory-"));
  bundled = join(bundleDir, "detect-under-heap-cap.mjs");
  await build({
    entryPoints: [CHILD],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile: bundled,
    logLevel: "warning",
    // Bundled CommonJS dependencies call require().
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
});

afterAll(async () => {
  await rm(bundleDir, { recursive: true, force: true });
});

function runShape(shape: string): Promise<ChildResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`--max-old-space-size=${HEAP_CAP_MB}`, bundled, shape],
      { maxBuffer: 1024 * 1024, env: { ...process.env, POWERTOOLS_METRICS_DISABLED: "true" } },
      (error, stdout, stderr) => {
        const line = stdout.split("\n").find((text) => text.startsWith('{"shape"'));
        resolve({
          code: error ? Number(error.code ?? 1) : 0,
          report: line === undefined ? undefined : (JSON.parse(line) as HeapCapReport),
          stderr,
        });
      },
    );
  });
}

async function completes(shape: string): Promise<HeapCapReport> {
  const result = await runShape(shape);
  if (result.code !== 0 || !result.report) {
    throw new Error(
      `shape ${shape} did not complete under a ${HEAP_CAP_MB} MB heap:\n${result.stderr.slice(-2_000)}`,
    );
  }
  expect(result.report.decompressedBytes).toBeLessThanOrEqual(64 * 1024 * 1024);
  expect(result.report.eventBytes).toBeLessThanOrEqual(6 * 1024 * 1024);
  expect(result.report.maxMessageBytes).toBeLessThanOrEqual(MAX_FINDING_MESSAGE_BYTES);
  return result.report;
}

describe(`a 6 MB delivery of any shape within a ${HEAP_CAP_MB} MB heap`, () => {
  it("the most containers one record may hold (161,000), beside 32 MiB held in memory (64 MiB in the bench): one finding that counts them all", async () => {
    const report = await completes("containers");
    expect(report).toMatchObject({ findings: 1, severities: ["critical"], rejects: report.records - 1 });
    expect(report.omittedContainers).toBeGreaterThan(160_000);
  });

  it("a write of 12 MiB (over the record limit) is read only from its start: a finding of its own, not a heap blow-up", async () => {
    const report = await completes("oversized");
    // Read as a cut event from its first 256 KB: a finding and a reject, like every filler record.
    expect(report).toMatchObject({ findings: 1, severities: ["medium"], rejects: report.records });
  });

  it("100 writes with a securityContext nested 10,000 levels: each one a finding, its copy cut", async () => {
    const report = await completes("nesting");
    expect(report).toMatchObject({ findings: 100, severities: ["critical"] });
  });

  it("16 megabyte writes whose every string is as long as it can be: each one a finding under 240 KB", async () => {
    const report = await completes("strings");
    expect(report).toMatchObject({ findings: 16, severities: ["critical"] });
  });

  it("10,000 small writes in one delivery (as many events as one CloudWatch batch carries): 10,000 findings", async () => {
    const report = await completes("events");
    expect(report).toMatchObject({ records: 10_000, findings: 10_000, rejects: 0 });
  });
});
