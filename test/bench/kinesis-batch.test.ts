import { describe, expect, it } from "vitest";
import { BENCH_ACCOUNTS, kinesisBatch } from "../../bench/make-kinesis-batch.ts";
import { decodeDocument } from "../../functions/core/decode-input.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { Detector } from "../../functions/core/detector.ts";

/**
 * The Kinesis bench section quotes its time in docs/scale.md as "one batch of 100 records": the batch it feeds
 * detect must be one the real decoder reads whole, record by record, or the number measures something else.
 */

interface Records {
  Records: Array<{ kinesis: { sequenceNumber: string; data: string }; eventSource: string }>;
}

const spec = { seed: 21, records: 100, accounts: BENCH_ACCOUNTS };

describe("the bench's Kinesis batch", () => {
  const batch = kinesisBatch({ ...spec, run: 1 });
  const records = (batch.event as unknown as Records).Records;

  it("holds 100 stream records with distinct, increasing Kinesis sequence numbers", () => {
    expect(records).toHaveLength(100);
    const sequences = records.map((r) => r.kinesis.sequenceNumber);
    for (const sequence of sequences) expect(sequence).toMatch(/^\d{1,128}$/);
    expect(new Set(sequences).size).toBe(100);
    const sorted = [...sequences].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
    expect(sequences).toEqual(sorted);
    expect(new Set(records.map((r) => r.eventSource))).toEqual(new Set(["aws:kinesis"]));
  });

  it("decodes through the real Kinesis decoder to the events it was built from, none deferred or rejected", () => {
    const decoded = decodeDocument(batch.event, "bench batch");
    expect(decoded.form).toBe("kinesis");
    expect(decoded.problems).toEqual([]);
    expect(decoded.deferred ?? []).toEqual([]);
    expect(decoded.controlMessages).toBe(0);
    expect(decoded.records.map((r) => r.text)).toEqual(batch.messages.flat());
    expect(decoded.records).toHaveLength(batch.events);
    // Each event names the record that carried it, and that record's member account.
    const expected = records.flatMap((record, index) =>
      (batch.messages[index] ?? []).map(() => ({
        batchItem: record.kinesis.sequenceNumber,
        account: batch.owners[index],
      })),
    );
    expect(decoded.records.map((r) => ({ batchItem: r.batchItem, account: r.origin?.account }))).toEqual(
      expected,
    );
    expect(new Set(batch.owners)).toEqual(new Set(BENCH_ACCOUNTS));
  });

  it("is a central-mode mix: 1 to 5 events a record, most of them findings, not all", () => {
    for (const messages of batch.messages) {
      expect(messages.length).toBeGreaterThanOrEqual(1);
      expect(messages.length).toBeLessThanOrEqual(5);
    }
    const findings = new Detector(detectionConfig()).ingest(decodeDocument(batch.event, "bench batch"));
    expect(findings).toHaveLength(batch.findings);
    expect(batch.findings).toBeGreaterThan(batch.events / 2);
    expect(batch.findings).toBeLessThan(batch.events);
    expect(new Set(findings.map((f) => f.account))).toEqual(new Set(BENCH_ACCOUNTS));
  });

  it("gives each pass new auditIDs and otherwise the same bytes, so no pass is deduplicated away", () => {
    const other = kinesisBatch({ ...spec, run: 2 });
    const ids = (b: typeof batch) =>
      b.messages.flat().map((text) => /"auditID":"([0-9a-f-]{36})"/.exec(text)?.[1] ?? "missing");
    const first = ids(batch);
    const second = ids(other);
    expect(first).not.toContain("missing");
    expect(new Set([...first, ...second]).size).toBe(first.length + second.length);
    const withoutIds = (b: typeof batch) =>
      b.messages.flat().map((text) => text.replace(/"auditID":"[^"]*"/, ""));
    expect(withoutIds(other)).toEqual(withoutIds(batch));
  });
});
