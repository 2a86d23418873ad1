import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeDocument, decodeText } from "../../functions/core/decode-input.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { Detector } from "../../functions/core/detector.ts";
import type { DecodedInput } from "../../functions/core/log-record.ts";
import { mutatedSample, sampleAuditEvents } from "../helpers/mutate-json.ts";

/**
 * Property-based runs: whatever arrives, the decoder and detector return (never throw) and account for every
 * record, either as a finding or as a counted skip.
 */
const config = detectionConfig({
  protectedNamespaces: ["kube-system"],
  trustedDebuggers: { groups: ["sre"] },
});
const seeds = sampleAuditEvents();

function runDetector(decoded: DecodedInput): Detector {
  const detector = new Detector(config);
  detector.ingest(decoded);
  return detector;
}

function accountedFor(detector: Detector): boolean {
  const skipped = Object.values(detector.stats.skipped).reduce((sum, count) => sum + count, 0);
  return detector.stats.records === detector.stats.findings + skipped;
}

function awslogs(value: unknown): { awslogs: { data: string } } {
  return { awslogs: { data: gzipSync(JSON.stringify(value)).toString("base64") } };
}

describe("decoder and detector never throw", () => {
  it("has sample audit events to mutate", () => {
    expect(seeds.length).toBeGreaterThan(5);
  });

  it("accepts any text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 2_000 }), (text) => {
        const detector = runDetector(decodeText(text, "fuzz"));
        expect(accountedFor(detector)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("accepts any JSON value as a document, bare or inside a CloudWatch payload", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.boolean(), (value, wrap) => {
        const detector = runDetector(decodeDocument(wrap ? awslogs(value) : value, "fuzz"));
        expect(accountedFor(detector)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("accepts any bytes as awslogs.data", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4_096 }), fc.boolean(), (bytes, gzip) => {
        const data = Buffer.from(gzip ? gzipSync(bytes) : bytes).toString("base64");
        const decoded = decodeDocument({ awslogs: { data } }, "fuzz");
        expect(decoded.records.length + decoded.problems.length + decoded.controlMessages).toBeGreaterThan(
          -1,
        );
        expect(accountedFor(runDetector(decoded))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("survives any field of a real event replaced by any JSON value or removed", () => {
    fc.assert(
      fc.property(mutatedSample(seeds, 3), fc.boolean(), (mutated, asText) => {
        const decoded = asText
          ? decodeText(JSON.stringify(mutated), "mutated")
          : decodeDocument(
              awslogs({
                messageType: "DATA_MESSAGE",
                logGroup: "/aws/eks/c/cluster",
                logEvents: [{ id: "1", timestamp: 1, message: JSON.stringify(mutated) }],
              }),
              "mutated",
            );
        const detector = runDetector(decoded);
        expect(accountedFor(detector)).toBe(true);
        for (const problem of detector.problems) expect(problem.position).toContain("mutated");
      }),
      { numRuns: 1_000 },
    );
  });

  it("reports a real event cut short after the subresource marker, with its position: never silently", () => {
    const lines = seeds
      .map((seed) => JSON.stringify(seed))
      .filter((line) => line.includes("ephemeralcontainers"));
    fc.assert(
      fc.property(
        fc.nat({ max: lines.length - 1 }).chain((index) => {
          const line = lines[index] as string;
          // Before the marker a cut line cannot be told from other traffic; after it, it must be reported.
          const marker = line.indexOf("ephemeralcontainers") + "ephemeralcontainers".length;
          return fc.tuple(fc.constant(line), fc.integer({ min: marker, max: line.length - 1 }));
        }),
        ([line, cut]) => {
          const detector = runDetector(decodeText(`${line}\n${line.slice(0, cut)}\n`, "cut.jsonl"));
          expect(accountedFor(detector)).toBe(true);
          // A cut event when its readable part names the target (test/core/cut-events.test.ts), else unparseable.
          expect(detector.problems.map((p) => p.position)).toEqual(["cut.jsonl:2"]);
          const [problem] = detector.problems;
          if (problem?.kind === "invalid-json") expect(detector.stats.skipped.unparseable).toBe(1);
          else expect(problem?.kind).toBe("cut-event");
        },
      ),
      { numRuns: 300 },
    );
  });
});
