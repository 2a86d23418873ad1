// Loads one deployed handler in this fresh process and prints how long module initialisation took, as
// Lambda's init phase would run it (the AWS SDK resolves from node_modules, as the runtime provides it).
"use strict";
const { performance } = require("node:perf_hooks");

const file = process.argv[2];
const started = performance.now();
let error;
try {
  const handlers = require(file);
  if (typeof handlers.handler !== "function") error = "no handler export";
} catch (caught) {
  error = caught instanceof Error ? caught.message.split("\n")[0] : String(caught);
}
const initMs = performance.now() - started;
process.stdout.write(`${JSON.stringify({ initMs, error })}\n`);
