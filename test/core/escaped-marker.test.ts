import { Buffer } from "node:buffer";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodeDataMessage } from "../../functions/core/decode-cloudwatch.ts";
import { decodeDocument } from "../../functions/core/decode-input.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { Detector } from "../../functions/core/detector.ts";
import type { DecodedInput } from "../../functions/core/log-record.ts";
import { MIN_SCREENED_BYTES, screenDataMessage } from "../../functions/core/screen-data-message.ts";
import { mayCarryMarker, SUBRESOURCE_MARKER } from "../../functions/core/select-write.ts";
import { detectText, loadAuditJson, readEventText } from "../helpers/events.ts";

/**
 * JSON may spell any character as `\uXXXX`: `"\u0065phemeralcontainers"` parses to the marker. Neither the
 * detector's substring test nor the CloudWatch byte screen may drop such an event, at either level of JSON
 * (the audit event's own text, or the CloudWatch payload that carries it as a string).
 */
const config = detectionConfig();
const write = JSON.stringify(loadAuditJson("privileged-sysadmin-profile"));
const auditID = (JSON.parse(write) as { auditID: string }).auditID;
const lease = readEventText("jsonl/mixed-cluster-traffic.jsonl").split("\n")[0] ?? "";

function escapeOf(character: string, upper = false): string {
  const hex = character.charCodeAt(0).toString(16).padStart(4, "0");
  return `\\u${upper ? hex.toUpperCase() : hex}`;
}

/** The audit event's text with the letter at `index` of every marker written as a JSON escape. */
function withEscapedLetter(text: string, index: number, upper = false): string {
  const marker = SUBRESOURCE_MARKER;
  const spelled = `${marker.slice(0, index)}${escapeOf(marker[index] ?? "", upper)}${marker.slice(index + 1)}`;
  return text.replaceAll(marker, spelled);
}

const everyLetterEscaped = write.replaceAll(
  SUBRESOURCE_MARKER,
  [...SUBRESOURCE_MARKER].map((letter) => escapeOf(letter)).join(""),
);

const variants: Array<[string, string]> = [
  ...[...SUBRESOURCE_MARKER].map((letter, index): [string, string] => [
    `letter ${index} ("${letter}") escaped`,
    withEscapedLetter(write, index),
  ]),
  ["an escape with upper-case hex digits", withEscapedLetter(write, 9, true)],
  ["every letter escaped", everyLetterEscaped],
];

function dataMessage(messages: string[]): Record<string, unknown> {
  return {
    // Past MIN_SCREENED_BYTES, so that Lambda's path screens it (smaller deliveries are parsed whole).
    padding: "p".repeat(MIN_SCREENED_BYTES),
    messageType: "DATA_MESSAGE",
    owner: "111122223333",
    logGroup: "/aws/eks/prod/cluster",
    logStream: "kube-apiserver-audit-0123456789abcdef0123456789abcdef",
    subscriptionFilters: ["ephemeral-guard"],
    logEvents: messages.map((message, index) => ({
      id: `${38_000_000_000_000 + index}${"7".repeat(42)}`,
      timestamp: 1_763_630_043_000 + index,
      message,
    })),
  };
}

function detect(decoded: DecodedInput): { findings: string[]; severities: string[]; otherResource: number } {
  const detector = new Detector(config);
  const findings = detector.ingest(decoded);
  return {
    findings: findings.map((f) => f.auditID),
    severities: findings.map((f) => f.severity),
    otherResource: detector.stats.skipped["other-resource"],
  };
}

/** Decodes the raw payload as Lambda does (screen first) and as the full parse does; both must find the write. */
function expectFoundBothWays(raw: string): void {
  const fast = detect(decodeDocument({ awslogs: { data: gzipSync(raw).toString("base64") } }, "p"));
  const full = detect(decodeDataMessage(JSON.parse(raw), "p"));
  expect(fast).toEqual({ findings: [auditID], severities: ["critical"], otherResource: 1 });
  expect(full).toEqual(fast);
}

describe("escaped marker: an event spelling ephemeralcontainers with \\u escapes is not dropped", () => {
  it("the variants really hide the marker from a substring test and parse to the same event", () => {
    for (const [, text] of variants) {
      expect(text).not.toContain(SUBRESOURCE_MARKER);
      expect(JSON.parse(text)).toEqual(JSON.parse(write));
    }
  });

  it.each(variants)("JSON Lines: %s is still a critical finding", (_name, text) => {
    expect(mayCarryMarker(text)).toBe(true);
    const { findings, stats } = detectText(`${lease}\n${text}\n`, "escaped.jsonl");
    expect(findings.map((f) => [f.auditID, f.severity])).toEqual([[auditID, "critical"]]);
    expect(stats.skipped["other-resource"]).toBe(1);
  });

  it.each(variants)("CloudWatch payload, escaped in the audit event's text: %s", (_name, text) => {
    expectFoundBothWays(JSON.stringify(dataMessage([lease, text])));
  });

  describe("CloudWatch payload, escaped at the payload's level too", () => {
    // In the payload the message's `\u0065` is written `\\u0065`; each case spells a character of it differently.
    const raw = JSON.stringify(dataMessage([lease, withEscapedLetter(write, 0)]));
    const messageEscape = "\\\\u0065";

    it("has the message-level escape to rewrite", () => {
      expect(raw).toContain(messageEscape);
    });

    it.each([
      ["the letter itself escaped by the payload", raw.replaceAll(messageEscape, "\\u0065")],
      [
        "a digit of the message's escape escaped by the payload",
        raw.replaceAll(messageEscape, "\\\\u\\u0030065"),
      ],
      ["the message's backslash escaped by the payload", raw.replaceAll(messageEscape, "\\u005cu0065")],
      ["the message's u escaped by the payload", raw.replaceAll(messageEscape, "\\\\\\u00750065")],
    ])("%s", (_name, variant) => {
      expect(variant).not.toContain(SUBRESOURCE_MARKER);
      // The screen cannot prove the lease irrelevant here: the whole payload takes the full parse.
      expect(screenDataMessage(Buffer.from(variant), "p")).toBeUndefined();
      expectFoundBothWays(variant);
    });
  });

  it("ordinary escapes that cannot spell a letter (Go's \\u0026 for &) keep the fast path", () => {
    const ampersand = lease.replace("?timeout=5s", "?timeout=5s\\u0026watch=true");
    expect(JSON.parse(ampersand)).toBeTruthy();
    expect(mayCarryMarker(ampersand)).toBe(false);
    const screened = screenDataMessage(Buffer.from(JSON.stringify(dataMessage([ampersand, write]))), "p");
    expect(screened?.records).toHaveLength(2);
  });
});
