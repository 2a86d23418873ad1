#!/usr/bin/env node
// The package's `bin` (`npx ephemeral-guard …`, `npm run scan|hunt|replay`). Runs the CLI bundle that `npm ci`
// builds (the `prepare` script: scripts/build-cli.ts, into .build/, not committed) while it is as new as its
// sources; otherwise the TypeScript itself through tsx, which is slower to start but always current.
// EPHEMERAL_GUARD_FROM_SOURCE=1 forces the TypeScript.
import { freshBundle } from "./fresh-bundle.mjs";

const bundle =
  process.env.EPHEMERAL_GUARD_FROM_SOURCE === "1" ? undefined : freshBundle(new URL("../", import.meta.url));
if (bundle) {
  await import(bundle.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../functions/cli/main.ts");
}
