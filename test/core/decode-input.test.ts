import { gunzipSync, gzipSync } from "node:zlib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeAwslogsData, inflateAwslogsData } from "../../functions/core/decode-cloudwatch.ts";
import { decodeDocument, decodeText } from "../../functions/core/decode-input.ts";
import { clusterFromLogGroup } from "../../functions/core/log-record.ts";
import { loadAuditJson, readEventText } from "../helpers/events.ts";

/** Decoding edge cases the detector tests do not reach: limits, garbage and forms recognised by content. */
describe("decoding inputs", () => {
  const subscription = JSON.parse(readEventText("cloudwatch/subscription-all-write-cases.json")) as {
    awslogs: { data: string };
  };

  it("keeps the log group and stream of a subscription delivery on every record", () => {
    const decoded = decodeDocument(subscription, "invocation");
    expect(decoded.form).toBe("cloudwatch-subscription");
    expect(decoded.problems).toEqual([]);
    expect(decoded.records.length).toBeGreaterThan(10);
    for (const record of decoded.records) {
      expect(record.logGroup).toBe("/aws/eks/prod-eu1/cluster");
      expect(record.logStream).toMatch(/^kube-apiserver-audit-[0-9a-f]{32}$/);
      expect(record.position).toMatch(/^invocation logEvents\[\d+\]$/);
    }
  });

  it("refuses a payload that decompresses beyond the cap, with a clear problem and no records", () => {
    const decoded = decodeAwslogsData(subscription.awslogs.data, "invocation", 1_024);
    expect(decoded.records).toEqual([]);
    expect(decoded.problems).toEqual([
      {
        position: "invocation",
        kind: "oversized-payload",
        message: "awslogs.data decompresses to more than 1024 bytes",
      },
    ]);
  });

  it("reports awslogs.data that is not gzip, or gzip of something that is not JSON", () => {
    const notGzip = decodeDocument({ awslogs: { data: Buffer.from("hello").toString("base64") } }, "a");
    expect(notGzip.problems[0]).toMatchObject({ position: "a", kind: "invalid-payload" });
    const notJson = decodeDocument({ awslogs: { data: gzipSync("not json").toString("base64") } }, "b");
    expect(notJson.problems[0]).toMatchObject({ position: "b", kind: "invalid-json" });
    const notString = decodeDocument({ awslogs: { data: 42 } }, "c");
    expect(notString.problems[0]).toMatchObject({ position: "c", kind: "invalid-payload" });
  });

  it("reads an EventList (the webhook backend's batch) and a bare array of events", () => {
    const event = loadAuditJson("run-as-root.json");
    const list = decodeDocument(
      { kind: "EventList", apiVersion: "audit.k8s.io/v1", items: [event, event] },
      "list",
    );
    expect(list.form).toBe("audit-event-list");
    expect(list.records.map((r) => r.position)).toEqual(["list[0]", "list[1]"]);
    expect(decodeDocument([event], "array").records).toHaveLength(1);
  });

  it("names what it cannot recognise instead of guessing", () => {
    const decoded = decodeDocument({ hello: "world" }, "odd.json");
    expect(decoded.form).toBe("unknown");
    expect(decoded.problems[0]).toMatchObject({ position: "odd.json", kind: "unknown-shape" });
    expect(decodeText("{ not json", "one-line.json").problems[0]).toMatchObject({
      position: "one-line.json:1",
      kind: "invalid-json",
    });
  });

  it("attaches a given log group to inputs that carry none, naming the cluster", () => {
    const decoded = decodeText(readEventText("jsonl/two-stages-same-request.jsonl"), "x.jsonl", {
      logGroup: "/aws/eks/lab/cluster",
    });
    expect(decoded.records.every((r) => r.logGroup === "/aws/eks/lab/cluster")).toBe(true);
    expect(clusterFromLogGroup("/aws/eks/lab/cluster")).toBe("lab");
    expect(clusterFromLogGroup("/aws/lambda/lab")).toBeUndefined();
    // The last answer is remembered; a different log group must not get it.
    expect(clusterFromLogGroup("/aws/eks/prod/cluster")).toBe("prod");
    expect(clusterFromLogGroup("/aws/eks/lab/cluster")).toBe("lab");
    expect(clusterFromLogGroup(undefined)).toBeUndefined();
  });
});

describe("awslogs.data decoding into a kept buffer", () => {
  /** What the decoder must give: Node's own base64 decoding into a new buffer, then gunzip. */
  function reference(data: string): string {
    return gunzipSync(Buffer.from(data, "base64")).toString("latin1");
  }

  it("gives what decoding into a new buffer gives, payload after payload, whatever the base64 looks like", () => {
    const payload = fc.uint8Array({ maxLength: 3000 }).map((bytes) => gzipSync(bytes).toString("base64"));
    // Base64 as other tools write it: url-safe alphabet, no padding, line breaks.
    const spelling = fc.constantFrom(
      (data: string) => data,
      (data: string) => data.replaceAll("+", "-").replaceAll("/", "_"),
      (data: string) => data.replace(/=+$/, ""),
      (data: string) => data.replace(/(.{76})/g, "$1\n"),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(payload, spelling), { minLength: 1, maxLength: 6 }), (deliveries) => {
        // Alternating sizes: a small payload after a large one reads only its own bytes of the kept buffer.
        for (const [data, spell] of deliveries) {
          const spelled = spell(data);
          expect(inflateAwslogsData(spelled, 1 << 20).toString("latin1")).toBe(reference(spelled));
        }
      }),
      { numRuns: 200 },
    );
  });

  it("decodes a payload larger than the kept buffer on its own", () => {
    const big = gzipSync(Buffer.alloc(12 * 1024 * 1024, 7), { level: 0 }).toString("base64");
    expect(inflateAwslogsData(big, 64 << 20).length).toBe(12 * 1024 * 1024);
    const small = gzipSync(Buffer.from("after the big one")).toString("base64");
    expect(inflateAwslogsData(small, 1 << 20).toString("latin1")).toBe("after the big one");
  });
});
