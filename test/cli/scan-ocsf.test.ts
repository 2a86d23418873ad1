import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { runScan } from "../../functions/cli/run-scan.ts";
import { OCSF_SCHEMA_VERSION } from "../../functions/core/ocsf-finding.ts";
import { loadOcsfSchema, validateOcsfEvent } from "../helpers/ocsf-validator.ts";

const EVENTS = join(import.meta.dirname, "../../events");
const schema = loadOcsfSchema(OCSF_SCHEMA_VERSION);

async function scan(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks: { out: Buffer[]; err: Buffer[] } = { out: [], err: [] };
  stdout.on("data", (chunk: Buffer) => chunks.out.push(chunk));
  stderr.on("data", (chunk: Buffer) => chunks.err.push(chunk));
  const status = await runScan(args, { stdin: Readable.from([""]), stdout, stderr, colour: false });
  return {
    status,
    stdout: Buffer.concat(chunks.out).toString("utf8"),
    stderr: Buffer.concat(chunks.err).toString("utf8"),
  };
}

describe("ephemeral-guard scan --format ocsf", () => {
  it("prints one valid OCSF Detection Finding per line for the whole events/ folder, and nothing else", async () => {
    const result = await scan(["--format", "ocsf", EVENTS]);
    const lines = result.stdout.split("\n").filter((line) => line !== "");
    expect(lines.length).toBeGreaterThan(40);
    for (const line of lines) {
      const event = JSON.parse(line) as { class_uid: number; finding_info: { uid: string } };
      expect(validateOcsfEvent(schema, "detection_finding", event), event.finding_info.uid).toEqual([]);
    }
    // The summary still goes to stderr, and counts what stdout shows.
    expect(result.stderr).toContain(`, ${lines.length} shown`);
  });

  it("honours --min-severity and --cluster like the other formats", async () => {
    const result = await scan([
      "--format",
      "ocsf",
      "--min-severity",
      "critical",
      "--cluster",
      "prod-eu",
      join(EVENTS, "audit", "privileged-sysadmin-profile.json"),
      join(EVENTS, "audit", "run-as-root.json"),
    ]);
    expect(result.status).toBe(0);
    const events = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { severity: string; finding_info: { uid: string } });
    expect(events.map((event) => event.severity)).toEqual(["Critical"]);
    expect(events[0]?.finding_info.uid).toMatch(/^prod-eu\//);
  });

  it("names the format and the schema version in the usage", async () => {
    const result = await scan(["--help"]);
    expect(result.stdout).toContain("--format text|json|ocsf");
    expect(result.stdout).toContain(`OCSF ${OCSF_SCHEMA_VERSION} Detection Finding`);
    const bad = await scan(["--format", "sarif", join(EVENTS, "audit", "run-as-root.json")]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toBe("");
  });
});
