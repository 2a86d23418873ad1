import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { runScan } from "../../functions/cli/run-scan.ts";
import { type Finding, FindingSchema } from "../../functions/core/finding.ts";

const ROOT = join(import.meta.dirname, "../..");
const EVENTS = join(ROOT, "events");

interface ScanResult {
  status: number;
  stdout: string;
  stderr: string;
}

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString("utf8");
}

async function scan(args: string[], stdinText = "", colour = false): Promise<ScanResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  const status = await runScan(args, { stdin: Readable.from([stdinText]), stdout, stderr, colour });
  return { status, stdout: out(), stderr: err() };
}

function jsonFindings(stdout: string): Finding[] {
  return stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => FindingSchema.parse(JSON.parse(line)));
}

const event = (name: string) => join(EVENTS, "audit", name);

describe("ephemeral-guard scan", () => {
  it("prints one finding per line as JSON and nothing else on stdout", async () => {
    const result = await scan(["--format", "json", event("privileged-sysadmin-profile.json")]);
    expect(result.status).toBe(0);
    const findings = jsonFindings(result.stdout);
    expect(findings).toHaveLength(1);
    expect(findings[0]?.severity).toBe("critical");
    expect(findings[0]?.containers[0]?.profile).toBe("sysadmin");
    expect(result.stderr).toContain("1 audit record read, 1 finding (1 critical), 1 shown");
  });

  it("scans a whole directory and reports the broken line with its position, still printing the other findings", async () => {
    const result = await scan(["--format", "json", join(EVENTS, "jsonl")]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/batch-with-broken-line\.jsonl:\d+: invalid-json/);
    const findings = jsonFindings(result.stdout);
    const fromBatch = readFileSync(join(EVENTS, "jsonl", "batch-with-broken-line.jsonl"), "utf8")
      .split("\n")
      .filter(
        (line) => line.includes('"subresource":"ephemeralcontainers"') && line.includes('"ResponseComplete"'),
      )
      .filter((line) => line.endsWith("}") && !line.includes('"verb":"get"'));
    expect(fromBatch.length).toBeGreaterThan(1);
    for (const line of fromBatch) {
      const auditID = (JSON.parse(line) as { auditID: string }).auditID;
      expect(findings.map((f) => f.auditID)).toContain(auditID);
    }
  });

  it("gives one finding for a request logged at two stages", async () => {
    const result = await scan(["--format", "json", join(EVENTS, "jsonl", "two-stages-same-request.jsonl")]);
    expect(result.status).toBe(0);
    expect(jsonFindings(result.stdout)).toHaveLength(1);
    expect(result.stderr).toContain("1 earlier-stage");
  });

  it("filters the output by --min-severity but counts everything", async () => {
    const all = jsonFindings((await scan(["--format", "json", join(EVENTS, "audit")])).stdout);
    const high = await scan(["--format", "json", "--min-severity", "high", join(EVENTS, "audit")]);
    const shown = jsonFindings(high.stdout);
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.length).toBeLessThan(all.length);
    expect(shown.every((f) => f.severity === "high" || f.severity === "critical")).toBe(true);
    expect(high.stderr).toContain(`${all.length} findings`);
  });

  it("applies a configuration file: trusted debuggers go one level down", async () => {
    const file = event("trusted-debugger.json");
    const plain = jsonFindings((await scan(["--format", "json", file])).stdout)[0];
    const trusted = jsonFindings(
      (await scan(["--format", "json", "--config", join(EVENTS, "config", "trusted-debuggers.json"), file]))
        .stdout,
    )[0];
    expect(plain?.reasons.map((r) => r.id)).not.toContain("actor.trusted-debugger");
    expect(trusted?.reasons.map((r) => r.id)).toContain("actor.trusted-debugger");
  });

  it("refuses a configuration with unknown keys (a typo must not disable an exclusion)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "eg-config-"));
    const config = join(dir, "config.json");
    writeFileSync(config, JSON.stringify({ excludedUser: ["alice"] }));
    const result = await scan(["--config", config, event("run-as-root.json")]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("excludedUser");
    expect(result.stdout).toBe("");
  });

  it("reads standard input, and gzip'd JSON Lines", async () => {
    const lines = readFileSync(join(EVENTS, "jsonl", "mixed-cluster-traffic.jsonl"), "utf8");
    const fromStdin = jsonFindings((await scan(["--format", "json", "--cluster", "lab", "-"], lines)).stdout);
    expect(fromStdin.length).toBeGreaterThan(0);
    expect(fromStdin.every((f) => f.cluster === "lab")).toBe(true);

    const dir = mkdtempSync(join(tmpdir(), "eg-gz-"));
    const gz = join(dir, "audit.log.gz");
    writeFileSync(gz, gzipSync(lines));
    const fromGzip = jsonFindings((await scan(["--format", "json", "--cluster", "lab", gz])).stdout);
    expect(fromGzip).toEqual(fromStdin);
  });

  it("reports an unreadable path and still scans the others", async () => {
    const result = await scan([
      "--format",
      "json",
      join(EVENTS, "does-not-exist.json"),
      event("run-as-root.json"),
    ]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/does-not-exist\.json: invalid-payload: cannot read/);
    expect(jsonFindings(result.stdout)).toHaveLength(1);
  });

  it("skips detection configuration files found among the inputs, saying so", async () => {
    const result = await scan(["--format", "json", join(EVENTS, "config")]);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain("detection configuration, not audit input: skipped");
  });

  it("skips SNS deliveries (the subscribers' input) found among the inputs, saying so", async () => {
    const result = await scan(["--format", "json", join(EVENTS, "sns")]);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(
      "an SNS delivery (input of notify-slack and remediate), not audit input: skipped",
    );
    expect(result.stdout).toBe("");
  });

  it("scans the whole events/ folder as npm start does: only the deliberately broken samples are problems", async () => {
    const result = await scan(["--format", "json", EVENTS]);
    expect(result.status).toBe(2);
    const problems = result.stderr
      .split("\n")
      .filter((line) => /: (invalid-|unknown-shape|oversized)/.test(line));
    expect(problems).toHaveLength(3);
    expect(problems.join("\n")).toMatch(/batch-with-broken-line\.jsonl:\d+: invalid-json/);
    expect(problems.join("\n")).toMatch(
      /batch-two-accounts-control-and-corrupt-record\.json Records\[2\] \(sequence \d+\): invalid-payload/,
    );
    expect(problems.join("\n")).toMatch(
      /subscription-batch-with-broken-record\.json logEvents\[\d+\]: invalid-json/,
    );
    expect(jsonFindings(result.stdout).length).toBeGreaterThan(40);
  });

  it("prints a readable summary without colour when not on a terminal, with control characters escaped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "eg-ansi-"));
    const sample = JSON.parse(readFileSync(event("run-as-root.json"), "utf8")) as {
      requestObject: { spec: { ephemeralContainers: Array<{ name: string }> } };
    };
    const first = sample.requestObject.spec.ephemeralContainers[0];
    if (first) first.name = "evil\u001b[2J\nCRITICAL fake";
    const file = join(dir, "ansi.json");
    writeFileSync(file, JSON.stringify(sample));
    const result = await scan([file]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("MEDIUM");
    expect(result.stdout).toContain("evil\\x1b[2J\\x0aCRITICAL fake");
    expect(result.stdout).not.toContain("\u001b");
    const coloured = await scan([file], "", true);
    expect(coloured.stdout).toContain("\u001b[33m MEDIUM");
  });

  it("exits 1 with the usage on a bad option", async () => {
    const result = await scan(["--format", "yaml"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("usage: ephemeral-guard scan");
    expect(result.stderr).toContain('--format: "yaml" is not an output format: use text, json or ocsf');
  });
});

describe("ephemeral-guard scan against shaped input", () => {
  /** A file of the privileged sample with its securityContext nested `depth` levels, then two honest writes. */
  function deepFile(depth: number): string {
    const dir = mkdtempSync(join(tmpdir(), "eg-deep-"));
    const deep = JSON.stringify(
      JSON.parse(readFileSync(event("privileged-sysadmin-profile.json"), "utf8")),
    ).replace(
      '"securityContext":{"privileged":true}',
      `"securityContext":{"privileged":true,"seLinuxOptions":${'{"x":'.repeat(depth)}{}${"}".repeat(depth)}}`,
    );
    const honest = ["run-as-root.json", "secret-env.json"].map((name) =>
      JSON.stringify(JSON.parse(readFileSync(event(name), "utf8"))),
    );
    const file = join(dir, "deep.jsonl");
    writeFileSync(file, `${[deep, ...honest].join("\n")}\n`);
    return file;
  }

  it("a securityContext nested 9,999 levels: every finding of the file is printed, the deep one with its copy cut", async () => {
    const result = await scan(["--format", "json", deepFile(9_999)]);
    expect(result.status).toBe(0);
    const findings = jsonFindings(result.stdout);
    expect(findings.map((f) => f.severity)).toEqual(["critical", "medium", "high"]);
    expect(findings[0]?.omitted?.paths).toEqual(["containers[].securityContext"]);
    expect(result.stderr).toContain("3 findings");
  });

  it("the text output says what a finding left out", async () => {
    const result = await scan([deepFile(9_999)]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(
      /omitted\s+1 value \(containers\[\]\.securityContext\): securityContext deeper than 4 levels/,
    );
  });

  it("a write padded past any CloudWatch Logs event is reported on stderr and still printed from its start, exit 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "eg-huge-"));
    const padded = JSON.stringify(
      JSON.parse(readFileSync(event("privileged-sysadmin-profile.json"), "utf8")),
    ).replace('"stdin":true', `"stdin":true,"env":[{"name":"PAD","value":"${"x".repeat(3 * 1024 * 1024)}"}]`);
    const file = join(dir, "huge.jsonl");
    writeFileSync(
      file,
      `${padded}\n${JSON.stringify(JSON.parse(readFileSync(event("run-as-root.json"), "utf8")))}\n`,
    );
    const result = await scan(["--format", "json", file]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/huge\.jsonl:1: cut-event: .*more than any CloudWatch Logs event/);
    // The padded write is seen from its start (at least medium), the other one scored as usual.
    expect(jsonFindings(result.stdout).map((f) => f.severity)).toEqual(["medium", "medium"]);
  });

  it("prints each finding as detect would publish it: 400 privileged containers in one message under 240 KB", async () => {
    const dir = mkdtempSync(join(tmpdir(), "eg-many-"));
    const sample = JSON.parse(readFileSync(event("privileged-sysadmin-profile.json"), "utf8")) as {
      requestObject: { spec: { ephemeralContainers: unknown[] } };
      responseObject?: unknown;
    };
    sample.requestObject.spec.ephemeralContainers = Array.from({ length: 400 }, (_, i) => ({
      name: `root-${i}`,
      image: "busybox:1.36",
      securityContext: { privileged: true },
    }));
    delete sample.responseObject;
    const file = join(dir, "many.json");
    writeFileSync(file, JSON.stringify(sample));
    const result = await scan(["--format", "json", file]);
    expect(result.status).toBe(0);
    const [line, ...rest] = result.stdout.split("\n").filter(Boolean);
    expect(rest).toEqual([]);
    expect(Buffer.byteLength(line ?? "")).toBeLessThan(240 * 1024);
    expect(FindingSchema.parse(JSON.parse(line ?? ""))).toMatchObject({
      severity: "critical",
      omitted: { containers: 380 },
    });
  });
});
