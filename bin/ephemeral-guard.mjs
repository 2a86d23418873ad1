#!/usr/bin/env node
// The package's `bin`: runs the TypeScript CLI through tsx so that no build step is needed.
import { register } from "tsx/esm/api";

register();
await import("../functions/cli/main.ts");
