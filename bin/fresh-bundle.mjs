// Which CLI bundle bin/ephemeral-guard.mjs may run (scripts/build-cli.ts builds it): the one named by
// <root>/.build/cli/manifest.json, as long as every source it lists exists and is not newer than the build.
// Otherwise undefined, and the bin runs the TypeScript through tsx. Plain JavaScript: it runs before tsx.
import { readFileSync, statSync } from "node:fs";

/** @param {URL} root the package's folder, ending with / */
export function freshBundle(root) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(new URL(".build/cli/manifest.json", root), "utf8"));
  } catch {
    return undefined;
  }
  const { entry, builtAtMs, inputs } = manifest ?? {};
  if (
    typeof entry !== "string" ||
    typeof builtAtMs !== "number" ||
    !Array.isArray(inputs) ||
    inputs.length === 0
  )
    return undefined;
  try {
    for (const input of inputs) {
      if (typeof input !== "string" || statSync(new URL(input, root)).mtimeMs > builtAtMs) return undefined;
    }
    const bundle = new URL(entry, root);
    statSync(bundle);
    return bundle;
  } catch {
    return undefined;
  }
}
