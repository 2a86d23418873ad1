import { describe, expect, it } from "vitest";
import type { InvocationSummary } from "../../functions/adapters/lambda/detect-invocation.ts";
import { detectStreamRecords } from "../../functions/cli/replay-stream-batch.ts";

/** How a replayed stream batch resumes, as Lambda does, at the lowest record detect names. */

const record = (sequenceNumber: string) => ({ kinesis: { sequenceNumber, data: "" } });

function summary(failed: string[], publishFailures = 0): InvocationSummary {
  return {
    form: "kinesis",
    records: 0,
    findings: 0,
    findingsBySeverity: { info: 0, low: 0, medium: 0, high: 0, critical: 0 },
    skipped: {} as InvocationSummary["skipped"],
    controlMessages: 0,
    rejects: 0,
    published: 0,
    duplicates: 0,
    unrecorded: 0,
    shortened: 0,
    publishFailures,
    idempotencyFailures: 0,
    batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })),
  };
}

describe("replaying a stream batch's records", () => {
  it("records deferred past the decompression budget are read in the next pass, from the lowest one named", async () => {
    const seen: string[][] = [];
    const answers = [summary(["30", "20"]), summary([])];
    const passes = await detectStreamRecords(["10", "20", "30"].map(record), async (event) => {
      seen.push(event.Records.map((r) => (r as ReturnType<typeof record>).kinesis.sequenceNumber));
      return answers.shift() ?? summary([]);
    });
    expect(passes).toBe(2);
    expect(seen).toEqual([
      ["10", "20", "30"],
      ["20", "30"],
    ]);
  });

  it("a record at the head of a pass that still fails stops the replay instead of looping", async () => {
    let calls = 0;
    await expect(
      detectStreamRecords(["10", "20"].map(record), async () => {
        calls++;
        return summary(["10"], 1);
      }),
    ).rejects.toThrow(/record 10 still fails \(1 finding\(s\) not published/);
    expect(calls).toBe(1);
  });
});
