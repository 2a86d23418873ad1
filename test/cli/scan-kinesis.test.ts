import { Buffer } from "node:buffer";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { runScan } from "../../functions/cli/run-scan.ts";
import { type Finding, FindingSchema } from "../../functions/core/finding.ts";

const SAMPLE = join(
  import.meta.dirname,
  "../../events/kinesis/batch-two-accounts-control-and-corrupt-record.json",
);

async function scanJson(
  paths: string[],
  stdinText = "",
): Promise<{ status: number; findings: Finding[]; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const status = await runScan(["--format", "json", "--sort", "input", ...paths], {
    stdin: Readable.from([stdinText]),
    stdout,
    stderr,
    colour: false,
  });
  const findings = Buffer.concat(out)
    .toString("utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => FindingSchema.parse(JSON.parse(line)));
  return { status, findings, stderr: Buffer.concat(err).toString("utf8") };
}

/**
 * Where the cluster is comes from the stream (its region, and its payloads' owners as accounts), which a bare
 * subscription payload does not give.
 */
function withoutStreamRegion({
  region: _region,
  account: _account,
  clusterArn: _arn,
  ...rest
}: Finding): Omit<Finding, "region" | "clusterArn" | "account"> {
  return rest;
}

describe("ephemeral-guard scan of a Kinesis event", () => {
  it("gives the same findings as the CloudWatch Logs payloads inside it, and names the corrupt record", async () => {
    const event = JSON.parse(readFileSync(SAMPLE, "utf8")) as {
      Records: Array<{ kinesis: { data: string } }>;
    };
    const dir = mkdtempSync(join(tmpdir(), "eg-kinesis-"));
    const payloads = event.Records.map((record, index) => {
      const path = join(dir, `record-${index}.json`);
      writeFileSync(path, JSON.stringify({ awslogs: { data: record.kinesis.data } }));
      return path;
    });

    const fromStream = await scanJson([SAMPLE]);
    const fromPayloads = await scanJson(payloads);

    expect(fromStream.findings.length).toBeGreaterThanOrEqual(2);
    expect(fromStream.findings.map(withoutStreamRegion)).toEqual(
      fromPayloads.findings.map(withoutStreamRegion),
    );
    expect(new Set(fromStream.findings.map((f) => f.region))).toEqual(new Set(["eu-west-1"]));
    expect(new Set(fromStream.findings.map((f) => f.account))).toEqual(
      new Set(["111122223333", "444455556666"]),
    );
    // The corrupt record is a problem in both, and the only one.
    expect(fromStream.status).toBe(2);
    expect(fromPayloads.status).toBe(2);
    expect(fromStream.stderr).toMatch(/Records\[2\] \(sequence \d{56}\): invalid-payload/);
  });

  it("reads captured Kinesis events one per line (jq -c), each batch as a whole", async () => {
    const compact = JSON.stringify(JSON.parse(readFileSync(SAMPLE, "utf8")));
    const fromLines = await scanJson(["-"], `${compact}\n${compact}\n`);
    const fromFile = await scanJson([SAMPLE]);
    // The second copy is the same events: duplicates, not new findings.
    expect(fromLines.findings).toEqual(fromFile.findings);
    expect(fromLines.stderr).toMatch(/<stdin>:1 Records\[2\] \(sequence \d{56}\): invalid-payload/);
  });
});
