// Loads one deployed handler in this fresh process and prints how long module initialisation took, as
// Lambda's init phase would run it (the AWS SDK resolves from node_modules, as the runtime provides it).
// Given an event file as well, it then invokes the handler once with that event and prints when the first
// answer came, counted from process start (performance.timeOrigin), then exits.
"use strict";
const { readFileSync } = require("node:fs");
const { performance } = require("node:perf_hooks");

const file = process.argv[2];
const eventFile = process.argv[3];
const started = performance.now();
let error;
let handlers;
try {
  handlers = require(file);
  if (typeof handlers.handler !== "function") error = "no handler export";
} catch (caught) {
  error = caught instanceof Error ? caught.message.split("\n")[0] : String(caught);
}
const initMs = performance.now() - started;

function context() {
  const deadline = Date.now() + 60_000;
  return {
    functionName: "bench-detect",
    awsRequestId: `cold-${process.pid}`,
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:bench-detect",
    memoryLimitInMB: "512",
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
}

async function answer() {
  if (error !== undefined || eventFile === undefined) return {};
  const event = JSON.parse(readFileSync(eventFile, "utf8"));
  // The handler's own log lines and metrics would go to stdout, which carries this process's report.
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = () => true;
  try {
    const result = await handlers.handler(event, context());
    return { answerMs: performance.now(), result };
  } catch (caught) {
    return {
      answerMs: performance.now(),
      answerError: caught instanceof Error ? caught.message : String(caught),
    };
  } finally {
    process.stdout.write = write;
  }
}

answer().then((answered) => {
  process.stdout.write(`${JSON.stringify({ initMs, error, ...answered })}\n`);
  process.exit(0);
});
