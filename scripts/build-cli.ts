// Builds the CLI bundle that bin/ephemeral-guard.mjs starts: `npm run build:cli`, and the `prepare` script,
// which `npm ci` and `npm install` run. The bundle is not committed (.build/ is ignored).
//
// Why: the bin otherwise runs the TypeScript through tsx, which transforms every module on each start; the
// bundle is plain JavaScript (node_modules stay external, loaded by Node as usual) and starts in about half
// the time (the measurements are in the commit that added this). Commands load their modules only when they
// run (functions/cli/commands.ts), so the bundle is split into chunks and `scan` never loads the AWS SDK.
//
// .build/cli/manifest.json lists the sources the bundle was built from and when: the bin runs the bundle only
// while none of them is newer, so an edited checkout runs what it says, through tsx, until the next build.
// Without esbuild (an install without devDependencies) nothing is built and the bin uses tsx.
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BUILD = join(ROOT, ".build");
const OUT = join(BUILD, "cli");
const ENTRY = "functions/cli/main.ts";

type Esbuild = typeof import("esbuild");

async function loadEsbuild(): Promise<Esbuild | undefined> {
  try {
    return await import("esbuild");
  } catch {
    return undefined;
  }
}

/** Bundled rather than external: packages whose main is a JSON file. */
const DATA_PACKAGES = new Set(["tlds"]);

const externalPackagesButData: import("esbuild").Plugin = {
  name: "external-packages-but-data",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) =>
      DATA_PACKAGES.has(args.path) ? undefined : { path: args.path, external: true },
    );
  },
};

async function main(): Promise<number> {
  const esbuild = await loadEsbuild();
  if (!esbuild) {
    console.error(
      "build-cli: esbuild is not installed (no devDependencies): the bin runs the TypeScript through tsx",
    );
    return 0;
  }
  // Taken before the sources are read: a source saved during the build makes the bundle stale, never fresh.
  const builtAtMs = Date.now();
  mkdirSync(BUILD, { recursive: true });
  const work = join(BUILD, `cli-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  try {
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: { main: ENTRY },
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node20",
      // node_modules stay external, except packages that are JSON data (tlds): Node loads an external JSON
      // module only with an import attribute, which esbuild does not keep on external imports.
      plugins: [externalPackagesButData],
      outdir: work,
      outExtension: { ".js": ".mjs" },
      chunkNames: "chunks/[name]-[hash]",
      sourcemap: "linked",
      metafile: true,
      logLevel: "warning",
    });
    const inputs = Object.keys(result.metafile.inputs)
      .filter((input) => !input.startsWith("node_modules/"))
      .sort();
    const manifest = { entry: ".build/cli/main.mjs", builtAtMs, inputs };
    writeFileSync(join(work, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    // Replaced whole, so a bin starting meanwhile sees the old bundle or none, never half of one.
    rmSync(OUT, { recursive: true, force: true });
    renameSync(work, OUT);
    console.error(`build-cli: ${relative(ROOT, OUT)}/main.mjs from ${inputs.length} sources`);
    return 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

process.exitCode = await main();
