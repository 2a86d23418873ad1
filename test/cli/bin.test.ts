import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: plain JavaScript without declarations (it runs before tsx is loaded).
import { freshBundle } from "../../bin/fresh-bundle.mjs";
import { FindingSchema } from "../../functions/core/finding.ts";
import packageJson from "../../package.json" with { type: "json" };

/**
 * The process boundary, and only that: `npx ephemeral-guard` from the checkout, the bin's bundle and its
 * TypeScript fallback, exit statuses as a shell sees them, and what lands on stdout and stderr. Everything
 * else about the commands is tested in process (cli.test.ts, scan-*.test.ts, …).
 */

const ROOT = join(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin", "ephemeral-guard.mjs");
const SAMPLE = join(ROOT, "events", "audit", "secret-env.json");
const BROKEN = join(ROOT, "events", "jsonl", "batch-with-broken-line.jsonl");
type FreshBundle = (root: URL) => URL | undefined;
const findBundle = freshBundle as FreshBundle;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** A clean environment, as a user's shell: none of vitest's variables (the SDK notice switch among them). */
function run(file: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        cwd: ROOT,
        timeout: 30_000,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const bin = (args: string[], env?: Record<string, string>) => run(process.execPath, [BIN, ...args], env);

function findingLines(stdout: string): unknown[] {
  return stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => FindingSchema.parse(JSON.parse(line)));
}

beforeAll(() => {
  // What `npm ci` does (the prepare script); an edited checkout's bundle is stale until rebuilt.
  if (!findBundle(pathToFileURL(`${ROOT}/`))) {
    execFileSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "build-cli.ts")], {
      cwd: ROOT,
      stdio: "ignore",
    });
  }
});

describe("npx ephemeral-guard (the package's bin)", () => {
  it("scan --format json through npx: stdout holds the findings and nothing else, and no SDK notice anywhere", async () => {
    const result = await run("npx", ["--offline", "ephemeral-guard", "scan", "--format", "json", SAMPLE]);
    expect(result.code).toBe(0);
    expect(findingLines(result.stdout)).toHaveLength(1);
    expect(result.stderr).toContain("1 finding (1 high)");
    expect(result.stderr).not.toMatch(/npm|Warning/);
  });

  it("exits 0, 1 and 2 as documented", async () => {
    const ok = await bin(["--version"]);
    expect(ok).toEqual({ code: 0, stdout: `ephemeral-guard ${packageJson.version}\n`, stderr: "" });
    const usage = await bin(["scan", "--min-severity", "urgent", SAMPLE]);
    expect(usage.code).toBe(1);
    expect(usage.stdout).toBe("");
    const incomplete = await bin(["scan", "--format", "json", BROKEN]);
    expect(incomplete.code).toBe(2);
    expect(findingLines(incomplete.stdout).length).toBeGreaterThan(1);
  });

  it("runs the bundle npm ci built, and the TypeScript when asked or when the bundle is stale, printing the same", async () => {
    const bundled = await bin(["scan", "--format", "json", SAMPLE]);
    const source = await bin(["scan", "--format", "json", SAMPLE], { EPHEMERAL_GUARD_FROM_SOURCE: "1" });
    expect(bundled.code).toBe(0);
    expect(source).toEqual(bundled);
  });

  it("prints no NodeVersionSupportWarning when a command builds AWS clients", async () => {
    // Nothing listens on port 9: the queue cannot be read (exit 2), after the SQS, SNS and DynamoDB clients were built.
    const result = await bin(["replay", "--queue-url", "http://127.0.0.1:9/123456789012/detect-failures"], {
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_MAX_ATTEMPTS: "1",
      AWS_ENDPOINT_URL_SQS: "http://127.0.0.1:9",
      ALERTS_TOPIC_ARN: "arn:aws:sns:us-east-1:123456789012:ephemeral-guard-test-alerts",
      IDEMPOTENCY_TABLE: "ephemeral-guard-test-idempotency",
      POWERTOOLS_LOG_LEVEL: "SILENT",
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("cannot read the queue");
    expect(result.stderr).not.toContain("NodeVersionSupportWarning");
  });
});

describe("which bundle the bin runs", () => {
  function checkout(): { root: URL; touch: (file: string, ms: number) => void } {
    const dir = mkdtempSync(join(tmpdir(), "eg-bin-"));
    mkdirSync(join(dir, ".build", "cli"), { recursive: true });
    mkdirSync(join(dir, "functions"), { recursive: true });
    for (const file of ["functions/a.ts", "functions/b.ts", ".build/cli/main.mjs"])
      writeFileSync(join(dir, file), "");
    const touch = (file: string, ms: number) => utimesSync(join(dir, file), ms / 1000, ms / 1000);
    touch("functions/a.ts", 1_000_000);
    touch("functions/b.ts", 1_000_000);
    return { root: pathToFileURL(`${dir}/`), touch };
  }
  const manifest = (root: URL, inputs: string[]) =>
    writeFileSync(
      new URL(".build/cli/manifest.json", root),
      JSON.stringify({ entry: ".build/cli/main.mjs", builtAtMs: 2_000_000, inputs }),
    );

  it("the bundle, while no source it was built from is newer", () => {
    const { root } = checkout();
    manifest(root, ["functions/a.ts", "functions/b.ts"]);
    expect(findBundle(root)?.href).toBe(new URL(".build/cli/main.mjs", root).href);
  });

  it("none when a source was edited after the build, or is gone, or there is no manifest", () => {
    const edited = checkout();
    manifest(edited.root, ["functions/a.ts", "functions/b.ts"]);
    edited.touch("functions/b.ts", 3_000_000);
    expect(findBundle(edited.root)).toBeUndefined();
    const gone = checkout();
    manifest(gone.root, ["functions/a.ts", "functions/deleted.ts"]);
    expect(findBundle(gone.root)).toBeUndefined();
    expect(findBundle(checkout().root)).toBeUndefined();
  });
});
