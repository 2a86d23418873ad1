// osls packages through <service dir>/.serverless even with --package (it empties that folder first and
// deletes it at the end), so two packagings of one checkout at the same time destroy each other's artifacts
// ("Could not calculate hash for .serverless/detect.zip"). Each concurrent packaging therefore runs in a
// private service folder: a temporary folder of symlinks to the checkout's files, where its own .serverless/
// and esbuild work folder live. Deleting it removes the links only.
import { copyFileSync, mkdtempSync, readdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Build output of earlier runs: never shared. */
const PRIVATE = /^(\.serverless|\.esbuild.*|\.git)$/;

/**
 * A new temporary service folder: copies of `root`'s files (osls refuses a symlinked serverless.yml) and links
 * to its folders (infra/, functions/, node_modules/ …).
 */
export function privateServiceDir(root: string, prefix = "ephemeral-guard-service-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (PRIVATE.test(entry.name)) continue;
    if (entry.isFile()) copyFileSync(join(root, entry.name), join(dir, entry.name));
    else symlinkSync(join(root, entry.name), join(dir, entry.name));
  }
  return dir;
}
