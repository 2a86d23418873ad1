import { describe, expect, it } from "vitest";
import { decodeText } from "../../functions/core/decode-input.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { Detector } from "../../functions/core/detector.ts";
import { eventKey, eventOccurrence } from "../../functions/core/event-key.ts";
import { findingKey } from "../../functions/core/finding.ts";
import { readEventText } from "../helpers/events.ts";

/** A sample as one JSON Lines line, with its auditID (and maybe its receipt time) replaced. */
function line(sample: string, auditID: string, requestReceivedTimestamp?: string): string {
  const event = JSON.parse(readEventText(`audit/${sample}.json`)) as Record<string, unknown>;
  event.auditID = auditID;
  if (requestReceivedTimestamp !== undefined) event.requestReceivedTimestamp = requestReceivedTimestamp;
  return JSON.stringify(event);
}

describe("a reused Audit-ID (kube-apiserver takes the auditID from the client's header)", () => {
  it("does not hide a dangerous write behind the same client's earlier harmless one in the same delivery", () => {
    const detector = new Detector(detectionConfig({}));
    const findings = detector.ingest(
      decodeText(
        `${line("kubectl-debug-restricted-profile", "reused", "2026-11-20T09:30:00.000001Z")}\n` +
          `${line("privileged-sysadmin-profile", "reused", "2026-11-20T09:31:00.000001Z")}\n`,
        "audit.log",
      ),
    );
    expect(findings.map((finding) => finding.severity)).toEqual(["low", "critical"]);
    expect(new Set(findings.map(findingKey)).size).toBe(2);
    expect(detector.stats.skipped.duplicate).toBe(0);
  });

  it("still recognises a redelivery of the same event as a duplicate", () => {
    const detector = new Detector(detectionConfig({}));
    const event = line("privileged-sysadmin-profile", "reused", "2026-11-20T09:31:00.000001Z");
    expect(detector.ingest(decodeText(`${event}\n${event}\n`, "audit.log"))).toHaveLength(1);
    expect(detector.stats.skipped.duplicate).toBe(1);
  });

  it("keys on what the API server set: its receipt time, else a cut event's text, and bounds a huge auditID", () => {
    expect(eventOccurrence({ requestReceivedTimestamp: "2026-11-20T09:31:00.000001Z" })).toBe(
      "2026-11-20T09:31:00.000001Z",
    );
    expect(eventOccurrence({}, "cut text")).toMatch(/^sha256:[0-9a-f]{32}$/);
    expect(eventOccurrence({}, "other cut text")).not.toBe(eventOccurrence({}, "cut text"));
    expect(eventOccurrence({})).toBeUndefined();
    const huge = eventKey("a".repeat(1_000_000), "2026-11-20T09:31:00.000001Z");
    expect(huge.length).toBeLessThan(400);
    expect(eventKey("b".repeat(1_000_000), "2026-11-20T09:31:00.000001Z")).not.toBe(huge);
  });
});
