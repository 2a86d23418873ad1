import { describe, expect, it } from "vitest";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { Detector, MAX_RECORD_CHARS } from "../../functions/core/detector.ts";
import type { DecodedInput, LogRecord } from "../../functions/core/log-record.ts";
import { slicesOf } from "../../functions/core/slice-input.ts";
import { loadAuditJson, readEventText } from "../helpers/events.ts";

/** One record an attacker shapes costs only itself: the other findings of its delivery are still made. */

function input(records: LogRecord[], problems: DecodedInput["problems"] = []): DecodedInput {
  return { form: "cloudwatch-subscription", records, problems, controlMessages: 0 };
}

const compact = (name: string) => JSON.stringify(JSON.parse(readEventText(name)));

describe("a record that cannot be scored costs only itself", () => {
  it("a write padded past any CloudWatch Logs event is not parsed whole, yet is a finding from its start, and the rest are scored", () => {
    const huge = compact("privileged-sysadmin-profile.json").replace(
      '"stdin":true',
      `"stdin":true,"env":[{"name":"PAD","value":"${"x".repeat(MAX_RECORD_CHARS)}"}]`,
    );
    const detector = new Detector(detectionConfig({}));
    const findings = detector.ingest(
      input([
        { text: huge, position: "logEvents[0]" },
        { text: compact("run-as-root.json"), position: "logEvents[1]" },
      ]),
    );
    // The padding comes before the securityContext: the write is seen, at the cut-event floor (medium).
    expect(findings.map((f) => f.severity)).toEqual(["medium", "medium"]);
    expect(findings[0]?.reasons.map((reason) => reason.id)).toContain("body.cut-event");
    expect(detector.problems).toEqual([
      {
        position: "logEvents[0]",
        kind: "cut-event",
        message: expect.stringMatching(
          /more than any CloudWatch Logs event \(\d+\): its first \d+ were read/,
        ),
      },
    ]);
  });

  it("a record whose scoring throws (here a getter; before, a 10,000-level securityContext) is reported and skipped", () => {
    const hostile = loadAuditJson("privileged-sysadmin-profile.json") as {
      requestObject: { spec: { ephemeralContainers: Record<string, unknown>[] } };
    };
    const container = hostile.requestObject.spec.ephemeralContainers[0] as Record<string, unknown>;
    Object.defineProperty(container, "securityContext", {
      enumerable: true,
      get() {
        throw new RangeError("Maximum call stack size exceeded");
      },
    });
    const detector = new Detector(detectionConfig({}));
    const findings = detector.ingest(
      input([
        { value: hostile, position: "events[0]" },
        { value: loadAuditJson("run-as-root.json"), position: "events[1]" },
      ]),
    );
    expect(findings.map((f) => f.auditID)).toEqual(["8c0e2a4d-6f9b-4d1e-9a3c-9e1b3d5f7adb"]);
    expect(detector.problems).toEqual([
      {
        position: "events[0]",
        kind: "invalid-event",
        message: "could not be scored: Maximum call stack size exceeded",
      },
    ]);
    expect(detector.stats.skipped.unparseable).toBe(1);
  });
});

describe("slices of a delivery", () => {
  const record = (chars: number, index: number): LogRecord => ({
    text: "x".repeat(chars),
    position: `r${index}`,
  });

  it("hold at most so many records and characters, and the first carries the input's problems", () => {
    const records = [
      record(10, 0),
      record(10, 1),
      record(10, 2),
      record(50, 3),
      record(5, 4),
      record(200, 5),
    ];
    const problem = { position: "p", kind: "invalid-json" as const, message: "m" };
    const slices = [
      ...slicesOf({ ...input(records, [problem]), controlMessages: 2 }, { records: 3, chars: 60 }),
    ];
    expect(slices.map((slice) => slice.records.map((r) => r.position))).toEqual([
      ["r0", "r1", "r2"],
      ["r3", "r4"],
      ["r5"],
    ]);
    expect(slices.map((slice) => [slice.problems.length, slice.controlMessages])).toEqual([
      [1, 2],
      [0, 0],
      [0, 0],
    ]);
  });

  it("an input without records is one empty slice, so its problems are still counted", () => {
    const problem = { position: "p", kind: "invalid-payload" as const, message: "m" };
    expect([...slicesOf(input([], [problem]), { records: 10, chars: 10 })]).toEqual([input([], [problem])]);
  });
});
