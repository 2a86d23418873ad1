import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeDataMessage } from "../../functions/core/decode-cloudwatch.ts";
import { decodeDocument } from "../../functions/core/decode-input.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { Detector } from "../../functions/core/detector.ts";
import type { DecodedInput } from "../../functions/core/log-record.ts";
import { isScreenedOut, MIN_SCREENED_BYTES } from "../../functions/core/screen-data-message.ts";

/**
 * The byte-level fast path for CloudWatch payloads (screen-data-message.ts) must give exactly what parsing the
 * whole data message gives: the same records with the same text and positions, the same problems, the same
 * findings and counts. Each case here is decoded both ways and compared.
 */
const config = detectionConfig({ protectedNamespaces: ["kube-system"] });
const AUDIT_DIR = join(import.meta.dirname, "../../events/audit");
const seedTexts: string[] = readdirSync(AUDIT_DIR)
  .filter((name) => name.endsWith(".json"))
  .sort()
  .map((name) => JSON.stringify(JSON.parse(readFileSync(join(AUDIT_DIR, name), "utf8"))));
const writeText = seedTexts.find(
  (text) => text.includes('"verb":"patch"') && text.includes("ephemeralcontainers"),
);
const leaseText = JSON.stringify({
  kind: "Event",
  apiVersion: "audit.k8s.io/v1",
  level: "Metadata",
  auditID: "0b6f8a52-2f0e-4d55-9d44-6a1c3c1f7a10",
  stage: "ResponseComplete",
  requestURI: "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/ip-10-0-1-2?timeout=10s",
  verb: "update",
  user: { username: "system:node:ip-10-0-1-2.eu-west-1.compute.internal", groups: ["system:nodes"] },
  objectRef: {
    resource: "leases",
    namespace: "kube-node-lease",
    name: "ip-10-0-1-2",
    apiGroup: "coordination.k8s.io",
  },
  responseStatus: { metadata: {}, code: 200 },
});

interface LogEventShape {
  id?: unknown;
  timestamp?: unknown;
  message?: unknown;
  [key: string]: unknown;
}

const MARKER = "ephemeralcontainers";

/** The text with the marker's letter at `index` written as a JSON `\u00XX` escape, wherever it occurs. */
function withEscapedLetter(text: string, index: number): string {
  const escaped = `\\u${(MARKER.charCodeAt(index) || 0).toString(16).padStart(4, "0")}`;
  return text.replaceAll(MARKER, `${MARKER.slice(0, index)}${escaped}${MARKER.slice(index + 1)}`);
}

function payload(raw: string): { awslogs: { data: string } } {
  return { awslogs: { data: gzipSync(raw).toString("base64") } };
}

/**
 * A header member that takes the delivery past MIN_SCREENED_BYTES: smaller ones are parsed whole, and these
 * tests are about the screen. It changes no record.
 */
const SCREENED_SIZE = { padding: "p".repeat(MIN_SCREENED_BYTES) };

function dataMessage(logEvents: unknown[], header: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...SCREENED_SIZE,
    messageType: "DATA_MESSAGE",
    owner: "111122223333",
    logGroup: "/aws/eks/prod/cluster",
    logStream: "kube-apiserver-audit-0123456789abcdef0123456789abcdef",
    subscriptionFilters: ["ephemeral-guard"],
    ...header,
    logEvents,
  };
}

function logEvent(message: unknown, index: number): LogEventShape {
  return {
    id: `${38_000_000_000_000 + index}${"7".repeat(42)}`,
    timestamp: 1_763_630_043_000 + index,
    message,
  };
}

/** What decodeAwslogsData returned before the fast path: the full parse of the data message. */
function fullParse(raw: string): DecodedInput {
  return { ...decodeDataMessage(JSON.parse(raw), "p"), form: "cloudwatch-subscription" };
}

function comparable(decoded: DecodedInput): unknown {
  return {
    ...decoded,
    records: decoded.records.map((record) => ({
      text: record.text,
      value: record.value,
      position: record.position,
      logGroup: record.logGroup,
      logStream: record.logStream,
    })),
  };
}

function detect(decoded: DecodedInput): unknown {
  const detector = new Detector(config);
  const findings = detector.ingest(decoded);
  return { findings, stats: detector.stats, problems: detector.problems };
}

/** Decodes the raw data message both ways and expects the same everything. Returns the fast decoding. */
function expectSameAsFullParse(raw: string): DecodedInput {
  const fast = decodeDocument(payload(raw), "p");
  const full = fullParse(raw);
  expect(detect(decodeDocument(payload(raw), "p"))).toEqual(detect(full));
  expect(comparable(fast)).toEqual(comparable(full));
  return fast;
}

function screenedCount(decoded: DecodedInput): number {
  return decoded.records.filter(isScreenedOut).length;
}

describe("CloudWatch payload fast path", () => {
  it("has a sample ephemeral-container write", () => {
    expect(writeText).toBeDefined();
  });

  it("skips ordinary events without decoding them and still finds the write", () => {
    const messages = [leaseText, leaseText.replace("0b6f8a52", "1b6f8a52"), writeText, `  ${leaseText}\n`];
    const decoded = expectSameAsFullParse(JSON.stringify(dataMessage(messages.map(logEvent))));
    expect(screenedCount(decoded)).toBe(2);
    const detector = new Detector(config);
    expect(
      detector.ingest(decodeDocument(payload(JSON.stringify(dataMessage(messages.map(logEvent)))), "p")),
    ).toHaveLength(1);
    expect(detector.stats.skipped["other-resource"]).toBe(3);
  });

  it("decodes a skipped record's text when asked, identical to the message", () => {
    const decoded = decodeDocument(payload(JSON.stringify(dataMessage([logEvent(leaseText, 0)]))), "p");
    const [record] = decoded.records;
    expect(record && isScreenedOut(record)).toBe(true);
    expect(record?.text).toBe(leaseText);
  });

  it("matches the full parse on edge cases of layout and content", () => {
    const cases: string[] = [
      JSON.stringify(dataMessage([])),
      JSON.stringify(dataMessage([], { messageType: "CONTROL_MESSAGE", logGroup: "", logStream: "" })),
      JSON.stringify(dataMessage([leaseText].map(logEvent), { messageType: "CONTROL_MESSAGE" })),
      JSON.stringify(dataMessage([leaseText].map(logEvent), { logGroup: undefined, logStream: "" })),
      JSON.stringify(
        dataMessage([leaseText, writeText].map(logEvent), { logGroup: "/aws/eks/ephemeralcontainers/x" }),
      ),
      JSON.stringify(
        dataMessage(["", "{", "}", "{}", "[]", "not json", '{"a":1', '{"x":"}"}'].map(logEvent)),
      ),
      JSON.stringify(dataMessage([1, null, { nested: true }, ["a"]].map(logEvent))),
      JSON.stringify(dataMessage([{ id: 5, timestamp: 1, message: leaseText }, { message: leaseText }])),
      JSON.stringify(dataMessage([{ message: leaseText, id: "1", timestamp: 2 }, logEvent(writeText, 1)])),
      JSON.stringify(dataMessage([{ ...logEvent(leaseText, 0), extra: 1 }, logEvent(leaseText, 1)])),
      JSON.stringify(dataMessage([{ ...logEvent(leaseText, 0), extra: "x" }, logEvent(writeText, 1)])),
      JSON.stringify(dataMessage([{ ...logEvent(leaseText, 0), extra: [logEvent(writeText, 9)] }])),
      JSON.stringify(dataMessage([{ ...logEvent(leaseText, 0), timestamp: 1.5 }, logEvent(leaseText, 1)])),
      // A log event without an id between or after CloudWatch's: not read as part of the message before it.
      JSON.stringify(dataMessage([logEvent("{", 0), { message: "}" }])),
      JSON.stringify(dataMessage([logEvent(leaseText, 0), { message: "x}" }, logEvent(leaseText, 2)])),
      JSON.stringify(dataMessage([logEvent(leaseText, 0), { message: leaseText }])),
      JSON.stringify(dataMessage([leaseText, writeText].map(logEvent)), null, 2),
      `${JSON.stringify(dataMessage([leaseText, writeText].map(logEvent)))}\n`,
      JSON.stringify({ logEvents: [leaseText].map(logEvent), messageType: "DATA_MESSAGE" }),
      JSON.stringify(
        dataMessage(
          [`{"note":"caf\u00e9 \u2603 \ud83d\ude00","objectRef":{"subresource":"x"}}`].map(logEvent),
        ),
      ),
      JSON.stringify(
        dataMessage([`{"verb":"patch\\u0026","uri":"/a?b=1\\u0026c=2"}`, '{"s":"\\\\"}'].map(logEvent)),
      ),
      // A lowercase letter escaped in the outer JSON hides the marker from a byte search: full parse.
      JSON.stringify(dataMessage([leaseText, writeText].map(logEvent))).replaceAll(
        "ephemeralcontainers",
        "\\u0065phemeralcontainers",
      ),
    ];
    for (const raw of cases) expectSameAsFullParse(raw);
  });

  it("parses a small delivery whole: no search for event starts where it would save next to nothing", () => {
    const messages = [leaseText, writeText, leaseText];
    const small = JSON.stringify({ ...dataMessage(messages.map(logEvent)), padding: "" });
    expect(Buffer.byteLength(small)).toBeLessThan(MIN_SCREENED_BYTES);
    expect(screenedCount(expectSameAsFullParse(small))).toBe(0);
    const large = JSON.stringify(dataMessage(messages.map(logEvent)));
    expect(screenedCount(expectSameAsFullParse(large))).toBe(2);
  });

  it("reads a delivery whose every message carries the marker (what the subscription filter passes) by the whole parse", () => {
    // Nothing to set aside: the screen steps back, and the one JSON.parse of the whole message gives the records.
    for (const messages of [[writeText], [writeText, writeText, `{"n":"${MARKER}"}`, writeText]]) {
      const fast = expectSameAsFullParse(JSON.stringify(dataMessage(messages.map(logEvent))));
      expect(screenedCount(fast)).toBe(0);
      expect(fast.records.map((record) => record.text)).toEqual(messages);
    }
    // One message without it and the screen reads the delivery, setting that one aside.
    const mixed = [writeText, leaseText, writeText];
    expect(screenedCount(expectSameAsFullParse(JSON.stringify(dataMessage(mixed.map(logEvent)))))).toBe(1);
  });

  it("cuts messages from one string of the whole payload, once there are several to decode", () => {
    // Each payload starts with an ordinary event, so that a screened-out record shows the fast path ran
    // (a message it failed to decode would have sent the whole payload to the full parse instead).
    const payloads = [
      Array.from({ length: 20 }, (_, i) => (i % 3 ? writeText : leaseText)),
      // Not ASCII: each message is still decoded on its own.
      Array.from({ length: 20 }, (_, i) =>
        i === 0 ? leaseText : i === 15 ? '{"note":"caf\u00e9 ephemeralcontainers"}' : writeText,
      ),
      // Escapes in the last message, which is cut from the whole payload.
      Array.from({ length: 12 }, (_, i) =>
        i === 0 ? leaseText : i === 11 ? '{"n":"ephemeralcontainers\u0000"\\"}' : writeText,
      ),
    ];
    for (const messages of payloads) {
      const fast = expectSameAsFullParse(JSON.stringify(dataMessage(messages.map(logEvent))));
      expect(screenedCount(fast)).toBeGreaterThan(0);
    }
  });

  /** Generated payloads, compact or pretty-printed, decoded both ways. */
  function generatedPayloadsMatch(pretty: boolean): void {
    const message = fc.oneof(
      // Sometimes with a letter of the marker spelled as a JSON escape in the audit event's text.
      fc
        .tuple(fc.constantFrom(...seedTexts, leaseText), fc.option(fc.nat({ max: MARKER.length - 1 })))
        .map(([text, index]) => (index === null ? text : withEscapedLetter(text, index))),
      fc
        .constantFrom(...seedTexts)
        .chain((text) => fc.nat({ max: text.length }).map((cut) => text.slice(0, cut))),
      fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
      fc
        .tuple(fc.string({ unit: "binary", maxLength: 40 }), fc.boolean())
        .map(([text, marker]) => `{${text}${marker ? "ephemeralcontainers" : ""}}`),
      fc.string({ unit: "binary", maxLength: 60 }),
    );
    const entry = fc.oneof(
      {
        weight: 8,
        arbitrary: message.map(
          (text) =>
            (index: number): unknown =>
              logEvent(text, index),
        ),
      },
      {
        weight: 1,
        arbitrary: fc.jsonValue({ maxDepth: 1 }).map((value) => (): unknown => ({ message: value })),
      },
      { weight: 1, arbitrary: message.map((text) => (): unknown => ({ message: text, id: "1" })) },
    );
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 24 }), fc.boolean(), (entries, respell) => {
        const raw = JSON.stringify(
          dataMessage(entries.map((make, index) => make(index))),
          null,
          pretty ? 1 : undefined,
        );
        // The payload spelling a digit of each message-level escape as an escape of its own.
        expectSameAsFullParse(respell ? raw.replaceAll("\\\\u00", "\\\\u\\u00300") : raw);
      }),
      // 100 payloads of up to 24 entries, each past MIN_SCREENED_BYTES: about a second here, so that each test
      // keeps within 5 s beside a CPU-heavy process.
      { numRuns: 100 },
    );
  }

  it("matches the full parse on generated CloudWatch payloads", () => {
    generatedPayloadsMatch(false);
  });

  it("matches the full parse on generated CloudWatch payloads, pretty-printed", () => {
    generatedPayloadsMatch(true);
  });
});
