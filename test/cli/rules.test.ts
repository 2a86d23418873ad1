import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { runRules } from "../../functions/cli/run-rules.ts";
import type { RuleDescription } from "../../functions/core/describe-rules.ts";
import { RULES } from "../../functions/core/rules.ts";

const ROOT = join(import.meta.dirname, "../..");

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

async function rules(args: string[]): Promise<Result> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const status = await runRules(args, { stdout, stderr });
  return { status, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

function configFile(config: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), "eg-rules-")), "config.json");
  writeFileSync(path, JSON.stringify(config));
  return path;
}

const privileged = RULES.find((rule) => rule.id === "container.privileged");

describe("ephemeral-guard rules", () => {
  it("lists every rule as text: id, effect, techniques, why, false positives, runbook and references", async () => {
    const result = await rules([]);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe("");
    for (const rule of RULES) expect(result.stdout).toContain(`${rule.id} · `);
    expect(result.stdout).toContain(
      "container.privileged · critical (pinned) · T1609 Container Administration Command, T1611 Escape to Host",
    );
    expect(result.stdout).toContain(
      "reach.secret-env · at least high · T1609 Container Administration Command, T1552.007 Unsecured Credentials: Container API",
    );
    expect(result.stdout).toContain("actor.non-kubectl-client · one level up");
    expect(result.stdout).toContain("outcome.forbidden · at most low");
    expect(result.stdout).toContain(`  why             ${privileged?.why}`);
    expect(result.stdout).toContain(`  false positives ${privileged?.falsePositives}`);
    expect(result.stdout).toContain(`  runbook         ${privileged?.runbook}`);
    expect(result.stdout).toContain(`  references      ${privileged?.references[0]}`);
  });

  it("--format json: one array of every rule, for jq", async () => {
    const result = await rules(["--format", "json"]);
    expect(result.status).toBe(0);
    const listed = JSON.parse(result.stdout) as RuleDescription[];
    expect(listed.map((rule) => rule.id)).toEqual(RULES.map((rule) => rule.id));
    expect(listed.find((rule) => rule.id === "container.privileged")).toEqual({
      id: "container.privileged",
      effect: "floor",
      level: "critical",
      pinned: true,
      enabled: true,
      techniques: [
        {
          id: "T1609",
          name: "Container Administration Command",
          tactic: "Execution",
          url: "https://attack.mitre.org/techniques/T1609/",
        },
        {
          id: "T1611",
          name: "Escape to Host",
          tactic: "Privilege Escalation",
          url: "https://attack.mitre.org/techniques/T1611/",
        },
      ],
      why: privileged?.why,
      falsePositives: privileged?.falsePositives,
      runbook: privileged?.runbook,
      references: privileged?.references,
    });
    expect(listed.every((rule) => rule.techniques[0]?.id === "T1609")).toBe(true);
  });

  it("--format markdown: the README's table, then each rule's details", async () => {
    const result = await rules(["--format", "markdown"]);
    expect(result.status).toBe(0);
    expect(
      result.stdout.startsWith("| rule | effect | ATT&CK | why |\n| ---- | ------ | ------ | --- |\n"),
    ).toBe(true);
    expect(result.stdout).toContain(
      "| `reach.service-account-token` | at least high | [T1609](https://attack.mitre.org/techniques/T1609/), [T1552.007](https://attack.mitre.org/techniques/T1552/007/) |",
    );
    expect(result.stdout).toContain("### `container.privileged`\n\ncritical (pinned) · [T1609 Container");
    expect(result.stdout).toContain(`- **Runbook**: ${privileged?.runbook}`);
    expect(result.stdout.match(/^### /gm)).toHaveLength(RULES.length);
  });

  it("--config shows the rules as a tuned configuration scores them", async () => {
    const path = configFile({
      rules: { "actor.non-kubectl-client": { enabled: false }, "container.run-as-root": { level: "high" } },
    });
    const text = await rules(["--config", path]);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain("actor.non-kubectl-client · off (configured)");
    expect(text.stdout).toContain("container.run-as-root · at least high (configured; default medium)");
    const json = JSON.parse(
      (await rules(["--config", path, "--format", "json"])).stdout,
    ) as RuleDescription[];
    expect(json.find((rule) => rule.id === "container.run-as-root")).toMatchObject({
      level: "high",
      defaultLevel: "medium",
      enabled: true,
    });
    expect(json.find((rule) => rule.id === "actor.non-kubectl-client")?.enabled).toBe(false);
  });

  it("--config refuses a typo with the closest rule id and a pinned rule lowered, printing no rules", async () => {
    const path = configFile({
      rules: { "actor.non-kubect-client": { enabled: false }, "container.privileged": { level: "high" } },
    });
    const result = await rules(["--config", path]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain('did you mean "actor.non-kubectl-client"?');
    expect(result.stderr).toContain(
      "container.privileged is pinned at critical: it cannot be lowered to high",
    );
  });

  it("refuses an unknown format or argument with its usage, and prints the usage on --help", async () => {
    const wrong = await rules(["--format", "yaml"]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain("usage: ephemeral-guard rules");
    expect((await rules(["container.privileged"])).status).toBe(1);
    const help = await rules(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("usage: ephemeral-guard rules [--format text|json|markdown]");
  });

  it("is a command of the ephemeral-guard binary", () => {
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", join(ROOT, "functions/cli/main.ts"), "rules", "--format", "json"],
      { cwd: ROOT, encoding: "utf8", timeout: 20_000 },
    );
    expect(run.status).toBe(0);
    expect((JSON.parse(run.stdout) as unknown[]).length).toBe(RULES.length);
  });
});
