// First, before anything loads the AWS SDK: see quiet-sdk-notice.ts.
import "./quiet-sdk-notice.ts";
import type { CliIo } from "./cli-io.ts";
import { EXIT } from "./exit-codes.ts";
import { runCli } from "./run-cli.ts";

/**
 * `ephemeral-guard …` (bin/ephemeral-guard.mjs, `npx ephemeral-guard`, `npm run scan|hunt|replay`): the
 * process around runCli: its streams, environment and terminal, Ctrl-C, and the exit status.
 */

/**
 * Ctrl-C asks a long command to stop cleanly (hunt: finish the page in hand, save where it stands, print the
 * summary); a second Ctrl-C exits at once. Commands that do not watch the signal are not slowed by it: the
 * first Ctrl-C ends them as it would any program.
 */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.once("SIGINT", () => {
    controller.abort();
    process.once("SIGINT", () => process.exit(EXIT.interrupted));
  });
  return controller.signal;
}

// `ephemeral-guard scan … | head`: the reader has gone, nothing is left to say to it; end quietly rather than
// with an EPIPE stack trace.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(EXIT.ok);
});

const argv = process.argv.slice(2);
const watchesInterrupts = argv[0] === "hunt";
const io: CliIo = {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  terminal: {
    stdin: process.stdin.isTTY === true,
    stdout: process.stdout.isTTY === true,
    stderr: process.stderr.isTTY === true,
  },
  ...(process.stderr.columns ? { columns: process.stderr.columns } : {}),
  ...(watchesInterrupts ? { signal: interruptSignal() } : {}),
};

runCli(argv, io).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    process.stderr.write(
      `ephemeral-guard: internal error (a bug: please report it): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = EXIT.internal;
  },
);
