import { Buffer } from "node:buffer";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { clusterArn, clusterKeyOf, originOfArn } from "../../functions/core/aws-origin.ts";
import { decodeDocument } from "../../functions/core/decode-input.ts";
import { decodeKinesisEvent } from "../../functions/core/decode-kinesis.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { Detector } from "../../functions/core/detector.ts";
import { FindingSchema } from "../../functions/core/finding.ts";
import { loadAuditJson, readEventText } from "../helpers/events.ts";

const SAMPLE = "kinesis/batch-two-accounts-control-and-corrupt-record.json";
const STREAM = "arn:aws:kinesis:eu-west-1:999988887777:stream/ephemeral-guard-audit";

interface KinesisSample {
  Records: Array<{ kinesis: { sequenceNumber: string; data: string }; awsRegion?: string }>;
}

function sample(): KinesisSample {
  return JSON.parse(readEventText(SAMPLE)) as KinesisSample;
}

function data(message: unknown): string {
  return gzipSync(Buffer.from(JSON.stringify(message))).toString("base64");
}

function dataMessage(owner: string, events: unknown[], logGroup = "/aws/eks/prod-eu1/cluster"): unknown {
  return {
    messageType: "DATA_MESSAGE",
    owner,
    logGroup,
    logStream: "kube-apiserver-audit-0",
    subscriptionFilters: ["f"],
    logEvents: events.map((event, index) => ({
      id: String(index),
      timestamp: 1_700_000_000_000 + index,
      message: JSON.stringify(event),
    })),
  };
}

function record(sequenceNumber: string, payload: string, extra: Record<string, unknown> = {}): unknown {
  return {
    kinesis: { sequenceNumber, data: payload, partitionKey: "p" },
    eventSource: "aws:kinesis",
    awsRegion: "eu-west-1",
    eventSourceARN: STREAM,
    ...extra,
  };
}

describe("Kinesis events of CloudWatch Logs payloads", () => {
  it("a corrupt stream record costs only itself: one problem naming its sequence number, every other record read", () => {
    const event = sample();
    const corrupt = event.Records[2]?.kinesis.sequenceNumber ?? "";
    const decoded = decodeDocument(event, "invocation");
    expect(decoded.form).toBe("kinesis");
    expect(decoded.problems).toEqual([
      {
        position: `invocation Records[2] (sequence ${corrupt})`,
        kind: "invalid-payload",
        batchItem: corrupt,
        message: expect.stringMatching(/^awslogs\.data is not base64 gzip/),
      },
    ]);
    expect(decoded.controlMessages).toBe(1);
    expect(decoded.records).toHaveLength(4);
    expect(decoded.deferred).toEqual([]);
  });

  it("each record remembers the stream record it came from, its account (owner) and the stream's region", () => {
    const event = sample();
    const [first, , , fourth] = event.Records.map((r) => r.kinesis.sequenceNumber);
    const decoded = decodeDocument(event, "invocation");
    expect(decoded.records.map((r) => [r.batchItem, r.origin?.account, r.origin?.region])).toEqual([
      [first, "111122223333", "eu-west-1"],
      [first, "111122223333", "eu-west-1"],
      [first, "111122223333", "eu-west-1"],
      [fourth, "444455556666", "eu-west-1"],
    ]);
  });

  it("two accounts' clusters of the same name get findings with different cluster ARNs", () => {
    const detector = new Detector(detectionConfig());
    const findings = detector.ingest(decodeDocument(sample(), "invocation"));
    expect(findings.length).toBeGreaterThanOrEqual(2);
    for (const finding of findings) FindingSchema.parse(finding);
    expect(new Set(findings.map((f) => f.cluster))).toEqual(new Set(["prod-eu1"]));
    expect(new Set(findings.map((f) => f.clusterArn))).toEqual(
      new Set([
        "arn:aws:eks:eu-west-1:111122223333:cluster/prod-eu1",
        "arn:aws:eks:eu-west-1:444455556666:cluster/prod-eu1",
      ]),
    );
    const other = findings.find((f) => f.account === "444455556666");
    expect(other).toMatchObject({ region: "eu-west-1", severity: "critical" });
  });

  it("a write padded to decompress past the batch budget cannot push later records out: they are deferred, not rejected", () => {
    const write = loadAuditJson("privileged-sysadmin-profile.json");
    const padded = { ...write, auditID: "padded", annotations: { pad: "A".repeat(200_000) } };
    const event = {
      Records: [
        record("100", data(dataMessage("111122223333", [padded]))),
        record("101", data(dataMessage("444455556666", [write]))),
        record("102", data(dataMessage("444455556666", [write]))),
      ],
    };
    const decoded = decodeKinesisEvent(event, "invocation", { maxBatchDecompressedBytes: 100_000 });
    expect(decoded.problems).toEqual([]);
    expect(decoded.records.map((r) => r.batchItem)).toEqual(["100"]);
    expect(decoded.deferred?.map((d) => d.batchItem)).toEqual(["101", "102"]);
    // Alone at the head of a later batch, a deferred record is read.
    const retried = decodeKinesisEvent({ Records: event.Records.slice(1) }, "retry", {
      maxBatchDecompressedBytes: 100_000,
    });
    expect(retried.records.map((r) => r.batchItem)).toEqual(["101", "102"]);
  });

  it("a scan that cannot hand deferred records back reports each as a problem instead of dropping it", () => {
    const write = loadAuditJson("privileged-sysadmin-profile.json");
    const padded = { ...write, auditID: "padded", annotations: { pad: "A".repeat(200_000) } };
    const event = {
      Records: [
        record("100", data(dataMessage("111122223333", [padded]))),
        record("101", data(dataMessage("444455556666", [write]))),
      ],
    };
    const detector = new Detector(detectionConfig());
    const findings = detector.ingest(
      decodeKinesisEvent(event, "batch.json", { maxBatchDecompressedBytes: 100_000 }),
    );
    expect(findings.map((f) => f.auditID)).toEqual(["padded"]);
    expect(detector.problems).toMatchObject([
      { position: "batch.json Records[1] (sequence 101)", kind: "oversized-payload", batchItem: "101" },
    ]);
  });

  it("a record that alone decompresses past the per-record cap is rejected (it would never fit), the rest read", () => {
    const write = loadAuditJson("privileged-sysadmin-profile.json");
    const event = {
      Records: [
        record("7", data(dataMessage("111122223333", [{ ...write, pad: "B".repeat(50_000) }]))),
        record("8", data(dataMessage("111122223333", [write]))),
      ],
    };
    const decoded = decodeKinesisEvent(event, "invocation", { maxDecompressedBytes: 20_000 });
    expect(decoded.problems).toMatchObject([{ kind: "oversized-payload", batchItem: "7" }]);
    expect(decoded.records.map((r) => r.batchItem)).toEqual(["8"]);
  });

  it("a record without a sequence number or data is a problem of its own, not a crash or a silent drop", () => {
    const good = data(dataMessage("111122223333", [loadAuditJson("privileged-sysadmin-profile.json")]));
    const decoded = decodeKinesisEvent(
      {
        Records: [
          { kinesis: { data: good } },
          { kinesis: { sequenceNumber: "55", data: 42 } },
          { kinesis: { sequenceNumber: "12; DROP", data: good } },
          record("56", good),
        ],
      },
      "invocation",
    );
    expect(decoded.problems.map((p) => [p.position, p.batchItem])).toEqual([
      ["invocation Records[0]", undefined],
      ["invocation Records[1] (sequence 55)", "55"],
      ["invocation Records[2]", undefined],
    ]);
    expect(decoded.records.map((r) => r.batchItem)).toEqual(["56"]);
  });

  it("takes the region from the stream's ARN when the record has no awsRegion, and no account from anything but owner", () => {
    const payload = data(dataMessage("CloudwatchLogs", [loadAuditJson("privileged-sysadmin-profile.json")]));
    const decoded = decodeKinesisEvent(
      {
        Records: [
          record("9", payload, {
            awsRegion: undefined,
            eventSourceARN: "arn:aws-cn:kinesis:cn-north-1:999988887777:stream/s",
          }),
        ],
      },
      "invocation",
    );
    expect(decoded.records[0]?.origin).toEqual({ region: "cn-north-1", partition: "aws-cn" });
  });

  it("a same-account subscription's findings take the function's region (AWS_REGION) and keep their single-account keys (no account, no ARN)", () => {
    const detector = new Detector(detectionConfig());
    const subscription = JSON.parse(readEventText("cloudwatch/subscription-all-write-cases.json")) as unknown;
    const findings = detector.ingest(decodeDocument(subscription, "invocation", { region: "eu-central-1" }));
    expect(findings.length).toBeGreaterThan(0);
    for (const finding of findings) {
      expect(finding.region).toBe("eu-central-1");
      expect(finding.account).toBeUndefined();
      expect(finding.clusterArn).toBeUndefined();
      expect(clusterKeyOf(finding)).toBe("prod-eu1");
    }
  });
});

describe("cluster ARNs", () => {
  it("a log group name that is no EKS cluster name gets no ARN (an account cannot be forged through it)", () => {
    const origin = { account: "111122223333", region: "eu-west-1" };
    expect(clusterArn(origin, "prod")).toBe("arn:aws:eks:eu-west-1:111122223333:cluster/prod");
    expect(clusterArn(origin, "a:444455556666:cluster/x")).toBeUndefined();
    expect(clusterArn(origin, "a.b")).toBeUndefined();
    expect(clusterArn({ region: "eu-west-1" }, "prod")).toBeUndefined();
    expect(clusterArn({ account: "1234", region: "eu-west-1" }, "prod")).toBeUndefined();
    expect(clusterArn({ ...origin, region: "us-gov-west-1" }, "p")).toBe(
      "arn:aws-us-gov:eks:us-gov-west-1:111122223333:cluster/p",
    );
  });

  it("reads partition, region and account from an ARN only when each is well formed", () => {
    expect(originOfArn(STREAM)).toEqual({ partition: "aws", region: "eu-west-1", account: "999988887777" });
    expect(originOfArn("arn:aws:kinesis:EU:12:stream/x")).toEqual({ partition: "aws" });
    expect(originOfArn("not an arn")).toEqual({});
    expect(originOfArn(42)).toEqual({});
  });
});
