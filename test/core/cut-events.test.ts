import { Buffer } from "node:buffer";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeText } from "../../functions/core/decode-input.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { Detector } from "../../functions/core/detector.ts";
import type { Finding } from "../../functions/core/finding.ts";
import { CUT_CONTAINER_NAME, CUT_VERB, readCutEvent } from "../../functions/core/read-cut-event.ts";
import { type Severity, severityRank } from "../../functions/core/severity.ts";
import { detectFile, detectText, onlyFinding, readEventText } from "../helpers/events.ts";
import { sampleAuditEvents } from "../helpers/mutate-json.ts";
import { loadSample, patchedContainer, type SampleEvent } from "../helpers/sample-variants.ts";

/**
 * A write padded (a huge env value or annotation) until its audit event is over CloudWatch Logs' event size
 * limit arrives cut mid-JSON. It must still be reported, from what its readable part shows, at least medium,
 * in the scanner and the Lambda alike (both run the detector on the record's text), and counted as a problem.
 */

/** CloudWatch Logs' 256 KB event limit, less the 26 bytes it counts per event. */
const CUT_AT = 262_144 - 26;
const PADDING = "A".repeat(300_000);

/** The sample with a huge env value last in its added container (after anything else it sets), cut at CUT_AT. */
function paddedAndCut(event: SampleEvent, at = CUT_AT): string {
  patchedContainer(event).env = [{ name: "PAD", value: PADDING }];
  const text = JSON.stringify(event);
  expect(text.length).toBeGreaterThan(at);
  return text.slice(0, at);
}

/** The message of a CloudWatch sample's log event, decoded from its awslogs.data. */
function cutMessageOf(file: string, index: number): string {
  const { awslogs } = JSON.parse(readEventText(file)) as { awslogs: { data: string } };
  const data = JSON.parse(gunzipSync(Buffer.from(awslogs.data, "base64")).toString("utf8")) as {
    logEvents: Array<{ message: string }>;
  };
  return data.logEvents[index]?.message ?? "";
}

function reason(finding: Finding, id: string): string {
  return finding.reasons.find((r) => r.id === id)?.text ?? "";
}

describe("cut events: a write padded until its audit event is cut is still reported", () => {
  it("JSON Lines: the privileged container read before the padding makes it critical, with all the prefix shows", () => {
    const detection = detectFile("jsonl/cut-privileged-write.jsonl");
    const { problems, stats } = detection;
    const finding = onlyFinding(detection);
    expect(finding).toMatchObject({
      auditID: "6f8b0d2f-4a6c-4e8a-9c0e-2f4a6c8e0b31",
      severity: "critical",
      outcome: "created",
      responseCode: 200,
      verb: "patch",
      bodyLogged: false,
      actor: { username: "jane.doe", userAgent: "OpenAPI-Generator/31.0.0/python" },
      pod: { namespace: "shop", name: "checkout-api-7d9f8b6c5d-x2kqp" },
    });
    expect(finding.containers).toEqual([
      expect.objectContaining({ name: "dbg", image: "busybox:1.36", riskyFields: ["privileged: true"] }),
    ]);
    expect(reason(finding, "body.cut-event")).toBe(
      "the audit event is cut off after 262,118 characters, inside requestObject.spec.ephemeralContainers[0].env[0].value: CloudWatch Logs cuts events over its size limit, and padding a write (a huge env value or annotation) until its event is cut is what pushing a container out of view looks like; scored on what the readable part shows",
    );
    expect(problems).toEqual([
      {
        position: "jsonl/cut-privileged-write.jsonl:2",
        kind: "cut-event",
        message:
          "audit event on pods/ephemeralcontainers is cut off after 262118 characters inside requestObject.spec.ephemeralContainers[0].env[0].value: reported from its readable part as a critical finding",
      },
    ]);
    expect(stats).toMatchObject({ records: 2, findings: 1, problems: 1 });
    expect(stats.skipped["other-resource"]).toBe(1);
  });

  it("CloudWatch payload: kubectl --custom padding hides the whole container, the write is still medium", () => {
    const { findings, problems } = detectFile("cloudwatch/subscription-cut-padded-write.json");
    expect(findings.map((f) => f.severity)).toEqual(["high", "medium"]);
    const cut = findings[1] as Finding;
    expect(cut).toMatchObject({
      auditID: "9b1d3f5a-7c9e-4b1d-8f3a-5c7e9b1d3f46",
      cluster: "prod-eu1",
      outcome: "created",
      responseCode: 200,
      actor: { username: "jane.doe" },
      pod: { namespace: "shop", name: "checkout-api-7d9f8b6c5d-x2kqp" },
    });
    // kubectl sends env first: the container was cut before its name, and is still counted.
    expect(cut.containers.map((c) => c.name)).toEqual([CUT_CONTAINER_NAME]);
    expect(reason(cut, "container.debug-profile")).toContain("cannot be told from the part before the cut");
    expect(problems).toEqual([
      expect.objectContaining({
        position: "cloudwatch/subscription-cut-padded-write.json logEvents[1]",
        kind: "cut-event",
      }),
    ]);
  });

  it("the scanner's JSON Lines and the Lambda's payload give the same finding for the same cut message", () => {
    const payload = detectFile("cloudwatch/subscription-cut-padded-write.json").findings[1] as Finding;
    const line = cutMessageOf("cloudwatch/subscription-cut-padded-write.json", 1);
    const scanned = onlyFinding(detectText(`${line}\n`, "cut.jsonl"));
    expect(scanned.severity).toBe(payload.severity);
    expect(scanned.reasons.map((r) => r.id)).toEqual(payload.reasons.map((r) => r.id));
    // A single-line file that does not parse is read as a record too, not only reported.
    expect(onlyFinding(detectText(line, "one.json")).auditID).toBe(scanned.auditID);
  });

  it("capabilities read before the padding still floor the write (SYS_ADMIN: high)", () => {
    const event = loadSample("sys-admin-capability");
    const finding = onlyFinding(detectText(paddedAndCut(event), "cut.jsonl"));
    expect(finding.severity).toBe("high");
    expect(finding.reasons.map((r) => r.id)).toContain("container.node-level-capability");
  });

  it.each([
    [
      "one operation's value",
      (c: Record<string, unknown>) => [{ op: "add", path: "/spec/ephemeralContainers/-", value: c }],
    ],
    [
      "a whole list",
      (c: Record<string, unknown>) => [{ op: "replace", path: "/spec/ephemeralContainers", value: [c] }],
    ],
  ])(
    "JSON Patch, %s: a container cut before its name still counts what was read of it",
    (_name, operations) => {
      const event = loadSample("json-patch-spec-path");
      const container = {
        securityContext: { privileged: true },
        env: [{ name: "PAD", value: PADDING }],
        name: "x",
      };
      event.requestObject = operations(container);
      const finding = onlyFinding(detectText(JSON.stringify(event).slice(0, CUT_AT), "patch.jsonl"));
      expect(finding.containers.map((c) => [c.name, c.riskyFields])).toEqual([
        [CUT_CONTAINER_NAME, ["privileged: true"]],
      ]);
      expect(finding.severity).toBe("critical");
    },
  );

  it("a trusted debugger's padded write stays at least medium: padding is not how trusted people debug", () => {
    const event = loadSample("kubectl-debug-legacy-profile");
    const finding = onlyFinding(
      detectText(paddedAndCut(event), "cut.jsonl", { trustedDebuggers: { users: ["jane.doe"] } }),
    );
    expect(finding.reasons.map((r) => r.id)).toContain("actor.trusted-debugger");
    expect(finding.severity).toBe("medium");
  });

  it("padding in the URI: an event cut before its verb and user is reported from its requestURI", () => {
    const event = loadSample("kubectl-debug-legacy-profile");
    event.requestURI = `${event.requestURI as string}?fieldManager=${PADDING}`;
    const text = JSON.stringify(event).slice(0, CUT_AT);
    const detection = detectText(text, "uri.jsonl");
    const finding = onlyFinding(detection);
    expect(finding).toMatchObject({
      verb: CUT_VERB,
      outcome: "created",
      severity: "medium",
      pod: { namespace: "shop", name: "checkout-api-7d9f8b6c5d-x2kqp" },
    });
    expect(finding.responseCode).toBeUndefined();
    expect(reason(finding, "write.ephemeral-container")).toBe(
      "(identity cut off) added an ephemeral container to pod shop/checkout-api-7d9f8b6c5d-x2kqp",
    );
    expect(reason(finding, "body.cut-event")).toContain(
      "; cut off too: the verb (scored as a write), the identity, the response status (scored as if the write took effect)",
    );
    // A user agent that was never read is not a reason to call the client a script.
    expect(finding.reasons.map((r) => r.id)).not.toContain("actor.non-kubectl-client");
    expect(detection.problems.map((p) => p.kind)).toEqual(["cut-event"]);
  });

  it("a status cut before its code counts as created; one that already says Failure does not", () => {
    const event = loadSample("pod-security-denied");
    const text = JSON.stringify(event);
    const inStatus = text.indexOf('"responseStatus"');
    const beforeStatus = onlyFinding(detectText(text.slice(0, inStatus + 5), "a.jsonl"));
    expect(beforeStatus.outcome).toBe("created");
    const failure = onlyFinding(
      detectText(text.slice(0, text.indexOf('"message"', inStatus) + 14), "b.jsonl"),
    );
    expect(failure.outcome).toBe("failed");
    const whole = onlyFinding(detectText(text.slice(0, text.indexOf('"requestObject"') + 20), "c.jsonl"));
    expect(whole).toMatchObject({ outcome: "denied", responseCode: 403, severity: "medium" });
  });

  it("a cut update body lists containers old and new: all are reported, and the reason says so", () => {
    const event = loadSample("update-full-pod-client-go");
    const text = JSON.stringify(event);
    // Cut inside the body's status: the spec (with both ephemeral containers) was read, their statuses not.
    const cut = text.slice(0, text.indexOf('"ephemeralContainerStatuses"'));
    const finding = onlyFinding(detectText(cut, "update.jsonl"));
    expect(finding.containers.map((c) => c.name)).toEqual(["debugger-h4q9z", "diag"]);
    expect(reason(finding, "body.containers-from")).toContain("all are reported, old ones included");
  });

  it("the same cut write delivered twice is one finding, and both deliveries are counted as cut events", () => {
    const line = paddedAndCut(loadSample("privileged-sysadmin-profile"));
    const { findings, problems, stats } = detectText(`${line}\n${line}\n`, "twice.jsonl");
    expect(findings).toHaveLength(1);
    expect(stats.skipped.duplicate).toBe(1);
    expect(problems.map((p) => p.kind)).toEqual(["cut-event", "cut-event"]);
    expect(problems[1]?.message).toContain("read and skipped (duplicate)");
  });

  it("a cut event that is not about pods/ephemeralcontainers, or shows no event, is unparseable as before", () => {
    const configMap = JSON.stringify({
      kind: "Event",
      auditID: "0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b",
      stage: "ResponseComplete",
      requestURI: "/api/v1/namespaces/shop/configmaps/ephemeralcontainers-notes",
      verb: "update",
      user: { username: "jane.doe" },
      objectRef: { resource: "configmaps", namespace: "shop", name: "ephemeralcontainers-notes" },
      requestObject: { data: { notes: PADDING } },
    }).slice(0, 4_000);
    for (const text of [
      configMap,
      '{"kind":"Event","objectRef":{"subresource":"ephemeralcontainers"',
      "{ephemeralcontainers",
    ]) {
      const { findings, problems, stats } = detectText(`${text}\n`, "x.jsonl");
      expect(findings).toEqual([]);
      expect(problems.map((p) => p.kind)).toEqual(["invalid-json"]);
      expect(stats.skipped.unparseable).toBe(1);
    }
  });

  it("a URI cut right after the subresource could go on, so it does not name the target by itself", () => {
    const cut = readCutEvent(
      '{"kind":"Event","auditID":"a","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/pods/p/ephemeralcontainers',
    );
    expect(cut.kind === "event" && cut.event.objectRef).toBeUndefined();
  });
});

describe("cut anywhere: every real write cut after its objectRef is reported, at least medium unless refused", () => {
  const CEILING: Record<Finding["outcome"], Severity> = {
    created: "critical",
    denied: "medium",
    forbidden: "low",
    failed: "info",
  };
  const lines = sampleAuditEvents()
    .map((event) => JSON.stringify(event))
    .filter((line) => detectText(line, "whole.json").findings.length === 1);

  it("has sample writes to cut", () => {
    expect(lines.length).toBeGreaterThan(30);
  });

  it("reports each cut with its position, as one finding of the same write", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: lines.length - 1 }).chain((index) => {
          const line = lines[index] as string;
          const afterObjectRef = line.indexOf('"responseStatus"');
          const from = afterObjectRef === -1 ? line.indexOf('"requestObject"') : afterObjectRef;
          return fc.tuple(fc.constant(line), fc.integer({ min: from, max: line.length - 2 }));
        }),
        ([line, cut]) => {
          const detector = new Detector(detectionConfig());
          const findings = detector.ingest(decodeText(`${line}\n${line.slice(0, cut)}\n`, "cut.jsonl"));
          // The cut copy is the same event only when its cut leaves requestReceivedTimestamp whole; cut before
          // it, it could as well be another write reusing the auditID (Audit-ID header), so it is reported.
          const keepsTime = /"requestReceivedTimestamp":"[^"]+"/.test(line.slice(0, cut));
          expect(findings).toHaveLength(keepsTime ? 1 : 2);
          expect(new Set(findings.map((finding) => finding.auditID)).size).toBe(1);
          const alone = onlyFinding(detectText(line.slice(0, cut), "alone.json"));
          expect(alone.auditID).toBe(findings[0]?.auditID);
          const floor =
            severityRank(CEILING[alone.outcome]) < severityRank("medium") ? CEILING[alone.outcome] : "medium";
          expect(severityRank(alone.severity)).toBeGreaterThanOrEqual(severityRank(floor));
          expect(detector.problems.map((p) => [p.position, p.kind])).toEqual([["cut.jsonl:2", "cut-event"]]);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("the time of a cut event, whose own timestamps were cut off", () => {
  it("is when CloudWatch Logs received it, from the subscription delivery and from filter-log-events output", () => {
    const text = paddedAndCut(loadSample("privileged-sysadmin-profile"));
    const received = Date.parse("2026-11-20T09:33:48.000Z");
    const dataMessage = JSON.stringify({
      messageType: "DATA_MESSAGE",
      owner: "111122223333",
      logGroup: "/aws/eks/prod-eu/cluster",
      logStream: "kube-apiserver-audit-0123",
      subscriptionFilters: ["f"],
      logEvents: [{ id: "1", timestamp: received, message: text }],
    });
    const filtered = JSON.stringify({ events: [{ timestamp: received, message: text }] });
    for (const document of [dataMessage, filtered]) {
      const detector = new Detector(detectionConfig({}));
      const [finding] = detector.ingest(decodeText(document, "delivery"));
      expect(finding?.time).toBe("2026-11-20T09:33:48.000Z");
    }
  });

  it("is left empty when nothing said when it was logged (a JSON Lines file)", () => {
    const text = paddedAndCut(loadSample("privileged-sysadmin-profile"));
    const [finding] = new Detector(detectionConfig({})).ingest(decodeText(`${text}\n`, "audit.log"));
    expect(finding?.time).toBe("");
  });
});
