import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { runScan } from "../../functions/cli/run-scan.ts";
import { type Finding, FindingSchema } from "../../functions/core/finding.ts";

const AUDIT = join(import.meta.dirname, "../../events/audit");

async function scan(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const status = await runScan(args, { stdin: Readable.from([]), stdout, stderr, colour: false });
  return { status, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

function configFile(config: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), "eg-tuning-")), "config.json");
  writeFileSync(path, JSON.stringify(config));
  return path;
}

function findings(stdout: string): Finding[] {
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => FindingSchema.parse(JSON.parse(line)));
}

describe("ephemeral-guard scan --config with rule overrides", () => {
  const tuned = configFile({
    rules: { "actor.non-kubectl-client": { enabled: false }, "container.run-as-root": { level: "high" } },
  });

  it("scores with the rule switched off and the rule re-levelled, and says the level is configured", async () => {
    const result = await scan([
      "--format",
      "json",
      "--config",
      tuned,
      join(AUDIT, "json-patch-spec-path.json"),
      join(AUDIT, "run-as-root.json"),
    ]);
    expect(result.status).toBe(0);
    const [script, root] = findings(result.stdout);
    expect(script?.severity).toBe("low");
    expect(script?.reasons.map((reason) => reason.id)).not.toContain("actor.non-kubectl-client");
    expect(root?.severity).toBe("high");
    expect(root?.reasons[0]?.text).toContain("(level high set by configuration; default medium)");
  });

  it("shows the configured level in the readable output too", async () => {
    const result = await scan(["--config", tuned, join(AUDIT, "run-as-root.json")]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("(level high set by configuration; default medium)");
  });

  it("refuses a typo in a rule id with the closest id, before reading any input", async () => {
    const typo = configFile({ rules: { "actor.non-kubect-client": { enabled: false } } });
    const result = await scan(["--format", "json", "--config", typo, join(AUDIT, "run-as-root.json")]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(
      'unknown rule "actor.non-kubect-client": did you mean "actor.non-kubectl-client"?',
    );
  });

  it("refuses to switch off a pinned rule: a padded write cannot be tuned out of view", async () => {
    const hide = configFile({ rules: { "body.truncated": { enabled: false } } });
    const result = await scan(["--format", "json", "--config", hide, join(AUDIT, "truncated-body.json")]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("body.truncated is pinned at medium: it cannot be switched off");
  });
});
