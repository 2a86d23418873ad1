import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { FindingOutput } from "../../functions/cli/finding-output.ts";
import { CLEAR_LINE } from "../../functions/cli/progress-line.ts";
import { runScan, type ScanIo } from "../../functions/cli/run-scan.ts";
import { type Finding, FindingSchema } from "../../functions/core/finding.ts";
import { severityRank } from "../../functions/core/severity.ts";

/**
 * What `scan` prints beyond the findings themselves: order, plurals, progress, the terminal rules, and the
 * forms of input a user hands it. In process (runScan); the process boundary is tested in bin.test.ts.
 */

const EVENTS = join(import.meta.dirname, "../../events");
const AUDIT = join(EVENTS, "audit");

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString("utf8");
}

async function scan(args: string[], extra: Partial<ScanIo> & { stdinText?: string } = {}): Promise<Result> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  const { stdinText, ...io } = extra;
  const status = await runScan(args, {
    stdin: Readable.from([stdinText ?? ""]),
    stdout,
    stderr,
    colour: false,
    ...io,
  });
  return { status, stdout: out(), stderr: err() };
}

function jsonFindings(stdout: string): Finding[] {
  return stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => FindingSchema.parse(JSON.parse(line)));
}

/** Every sample audit event, in file order. */
function sampleEvents(): unknown[] {
  return readdirSync(AUDIT)
    .sort()
    .map((file) => JSON.parse(readFileSync(join(AUDIT, file), "utf8")) as unknown);
}

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "eg-scan-")), name);
  writeFileSync(path, text);
  return path;
}

describe("scan: forms of input", () => {
  it("reads a compact one-line EventList as an EventList, losing none of its findings", async () => {
    const events = sampleEvents();
    const list = { kind: "EventList", apiVersion: "audit.k8s.io/v1", items: events };
    const pretty = await scan(["--format", "json", tempFile("list.json", JSON.stringify(list, null, 2))]);
    const compact = await scan(["--format", "json", tempFile("list.json", JSON.stringify(list))]);
    expect(jsonFindings(pretty.stdout).length).toBeGreaterThan(20);
    expect(compact.stdout).toBe(pretty.stdout);
    expect(compact.stderr).not.toContain("not an audit.k8s.io/v1 Event");
    expect(compact.status).toBe(0);
    // The same on standard input, and as a bare JSON array of events.
    const piped = await scan(["--format", "json"], { stdinText: `${JSON.stringify(list)}\n` });
    expect(piped.stdout).toBe(pretty.stdout);
    const array = await scan(["--format", "json", tempFile("array.json", JSON.stringify(events))]);
    expect(array.stdout).toBe(pretty.stdout);
  });

  it("still reads JSON Lines whose events mention EventList inside, one finding per write", async () => {
    const event = sampleEvents()[0] as { annotations?: Record<string, string> };
    const lines = [0, 1].map((index) =>
      JSON.stringify({
        ...event,
        auditID: `c0ffee00-0000-4000-8000-00000000000${index}`,
        annotations: { ...event.annotations, note: '{"kind":"EventList"}' },
      }),
    );
    const result = await scan(["--format", "json", tempFile("audit.jsonl", `${lines.join("\n")}\n`)]);
    expect(jsonFindings(result.stdout).map((finding) => finding.auditID)).toEqual([
      "c0ffee00-0000-4000-8000-000000000000",
      "c0ffee00-0000-4000-8000-000000000001",
    ]);
  });

  it("names EventBridge events among the inputs (the digest schedule) instead of reporting them unreadable", async () => {
    const result = await scan(["--format", "json", join(EVENTS, "schedule")]);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(
      "an EventBridge event (input of a scheduled function), not audit input: skipped",
    );
  });
});

describe("scan: what the user types", () => {
  it("takes levels and formats in any case (--min-severity HIGH)", async () => {
    const lower = await scan(["--format", "json", "--min-severity", "high", AUDIT]);
    const upper = await scan(["--format", "JSON", "--min-severity", "HIGH", AUDIT]);
    expect(upper.status).toBe(0);
    expect(upper.stdout).toBe(lower.stdout);
    expect(jsonFindings(upper.stdout).every((finding) => severityRank(finding.severity) >= 3)).toBe(true);
  });

  it("names the option the user typed in errors, never an internal field", async () => {
    const result = await scan(["--min-severity", "urgent", "--sort", "size", AUDIT]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(
      '--min-severity: "urgent" is not a severity level: use info, low, medium, high or critical',
    );
    expect(result.stderr).toContain('--sort: "size" is not an order: use severity, time or input');
    expect(result.stderr).not.toMatch(/minSeverity|min-severity"\]|✖|→ at/);
  });

  it("prints the usage instead of waiting when run bare on a terminal", async () => {
    // A terminal that never sends anything: reading it would hang the test.
    const terminal = new PassThrough();
    const result = await scan([], { stdin: terminal, stdinIsTerminal: true });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("name a PATH, or pipe audit events in");
    expect(result.stderr).toContain("usage: ephemeral-guard scan");
    expect(result.stdout).toBe("");
  });

  it("reads standard input when it is piped, even with no PATH", async () => {
    const text = readFileSync(join(EVENTS, "jsonl", "mixed-cluster-traffic.jsonl"), "utf8");
    const result = await scan(["--format", "json"], { stdinText: text, stdinIsTerminal: false });
    expect(jsonFindings(result.stdout).length).toBeGreaterThan(0);
  });

  it("says 1 finding and 1 audit record, not 1 findings", async () => {
    const one = await scan(["--format", "json", join(AUDIT, "run-as-root.json")]);
    expect(one.stderr).toContain("ephemeral-guard: 1 audit record read, 1 finding (1 medium), 1 shown");
    expect(one.stderr).toContain("ephemeral-guard: 0 input problems");
    const broken = await scan(["--format", "json", join(EVENTS, "jsonl", "batch-with-broken-line.jsonl")]);
    expect(broken.stderr).toContain("ephemeral-guard: 1 input problem\n");
    expect(broken.stderr).toMatch(/audit records read, \d+ findings \(/);
  });

  it("prints an IAM username once when it is the ARN", async () => {
    const result = await scan([join(AUDIT, "merge-patch.json")]);
    const actor = result.stdout.split("\n").find((line) => line.trimStart().startsWith("actor"));
    expect(actor).toMatch(/arn:aws:/);
    expect(actor?.match(/arn:aws:/g)).toHaveLength(1);
  });
});

describe("scan: order of the findings", () => {
  const severities = (stdout: string) =>
    [...stdout.matchAll(/^ (INFO|LOW|MEDIUM|HIGH|CRITICAL) /gm)].map((match) => match[1]);

  it("prints text most severe first by default, and json in the order read", async () => {
    const text = await scan([AUDIT]);
    const levels = severities(text.stdout);
    expect(levels.length).toBeGreaterThan(20);
    const ranks = levels.map((level) => severityRank((level ?? "").toLowerCase() as Finding["severity"]));
    expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
    expect(levels[0]).toBe("CRITICAL");

    const json = jsonFindings((await scan(["--format", "json", AUDIT])).stdout);
    const inputOrder = jsonFindings((await scan(["--format", "json", "--sort", "input", AUDIT])).stdout);
    expect(json).toEqual(inputOrder);
    const bySeverity = jsonFindings((await scan(["--format", "json", "--sort", "severity", AUDIT])).stdout);
    expect(bySeverity).not.toEqual(json);
    expect(new Set(bySeverity.map((f) => f.auditID))).toEqual(new Set(json.map((f) => f.auditID)));
  });

  it("sorts by the audit event's time with --sort time", async () => {
    const findings = jsonFindings((await scan(["--format", "json", "--sort", "time", AUDIT])).stdout);
    const times = findings.map((finding) => Date.parse(finding.time));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(findings.length).toBeGreaterThan(20);
  });

  it("sorts more findings than it may hold in memory, through temporary runs, losing none (an attacker sets the count)", async () => {
    const [base] = jsonFindings((await scan(["--format", "json", join(AUDIT, "run-as-root.json")])).stdout);
    if (!base) throw new Error("no finding");
    const levels: Finding["severity"][] = ["low", "critical", "info", "high", "medium"];
    const findings = Array.from({ length: 500 }, (_, index) => ({
      ...base,
      auditID: `id-${String(index).padStart(4, "0")}`,
      severity: levels[index % levels.length] ?? "low",
      time: new Date(Date.UTC(2026, 10, 20) + ((index * 7919) % 500) * 1000).toISOString(),
    }));
    for (const sort of ["severity", "time"] as const) {
      const stdout = new PassThrough();
      const out = collect(stdout);
      const reports: string[] = [];
      const output = new FindingOutput({
        format: "json",
        sort,
        minSeverity: "info",
        colour: false,
        stdout,
        report: (line) => reports.push(line),
        maxHeldChars: 20_000,
      });
      for (const finding of findings) output.print(finding);
      expect(output.runsWritten).toBeGreaterThan(5);
      await output.finish();
      const printed = jsonFindings(out());
      expect(printed).toHaveLength(500);
      expect(new Set(printed.map((f) => f.auditID)).size).toBe(500);
      const keys = printed.map((f) =>
        sort === "severity" ? [-severityRank(f.severity), Date.parse(f.time)] : [Date.parse(f.time), 0],
      );
      const sorted = [...keys].sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0) || (a[1] ?? 0) - (b[1] ?? 0));
      expect(keys).toEqual(sorted);
      expect(reports).toEqual([]);
    }
  });

  it("reports a finding that cannot be printed, prints the others, and counts it", async () => {
    const [good] = jsonFindings((await scan(["--format", "json", join(AUDIT, "run-as-root.json")])).stdout);
    if (!good) throw new Error("no finding");
    const broken = { ...good, auditID: "broken", actor: undefined } as unknown as Finding;
    const stdout = new PassThrough();
    const out = collect(stdout);
    const reports: string[] = [];
    const output = new FindingOutput({
      format: "text",
      sort: "severity",
      minSeverity: "info",
      colour: false,
      stdout,
      report: (line) => reports.push(line),
    });
    output.print(broken);
    output.print(good);
    await output.finish();
    expect(output.unprintable).toBe(1);
    expect(output.shown).toBe(1);
    expect(reports.join("\n")).toContain("finding broken could not be printed");
    expect(out()).toContain(good.auditID);
  });
});

describe("scan: progress on a terminal", () => {
  it("shows bytes and records read, findings by severity and the rate on long inputs, then clears the line", async () => {
    const text = readFileSync(join(EVENTS, "jsonl", "mixed-cluster-traffic.jsonl"), "utf8");
    // Many chunks, each seen as 300 ms later: a long input without waiting for one.
    const chunks = Array.from({ length: 40 }, () => text);
    let clock = 0;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    collect(stdout);
    const err = collect(stderr);
    const status = await runScan(["--format", "json", "--cluster", "lab"], {
      stdin: Readable.from(chunks),
      stdout,
      stderr,
      colour: false,
      progress: true,
      now: () => (clock += 300),
    });
    expect(status).toBe(0);
    const lines = err().split(CLEAR_LINE).filter(Boolean);
    const progress = lines.filter((line) => line.startsWith("scan: "));
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.at(-1)).toMatch(
      /^scan: [\d.]+ (KiB|MiB) and \d+ records read \(\d+ records\/s, [\d.]+ (B|KiB|MiB)\/s\), findings: \d+ (critical|high|medium|low|info)/,
    );
    // The summary comes after the line was cleared.
    expect(lines.at(-1)).toMatch(/^ephemeral-guard: \d+ audit records read/);
  });

  it("draws nothing for a short scan or when stderr is not a terminal", async () => {
    const short = await scan(["--format", "json", AUDIT], { progress: true, now: () => 0 });
    expect(short.stderr).not.toContain("\r");
    let clock = 0;
    const piped = await scan(["--format", "json", AUDIT], { progress: false, now: () => (clock += 5_000) });
    expect(piped.stderr).not.toContain("scan: ");
  });
});
