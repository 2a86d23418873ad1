import { runHunt } from "./run-hunt.ts";
import { runRules } from "./run-rules.ts";
import { runScan } from "./run-scan.ts";

/** `ephemeral-guard scan|hunt|rules …`: the command-line entry, also `npm run scan`, `npm run hunt` and `npm start`. */
const [command, ...rest] = process.argv.slice(2);
const io = {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  colour: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
};

/**
 * Ctrl-C asks a hunt to stop cleanly (finish the page in hand, save where it stands, print the summary); a
 * second Ctrl-C exits at once.
 */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.once("SIGINT", () => {
    controller.abort();
    process.once("SIGINT", () => process.exit(130));
  });
  return controller.signal;
}

async function main(): Promise<number> {
  if (command === "scan") return runScan(rest, io);
  if (command === "rules") return runRules(rest, io);
  if (command === "hunt") {
    return runHunt(rest, {
      stdout: io.stdout,
      stderr: io.stderr,
      colour: io.colour,
      progress: process.stderr.isTTY === true,
      signal: interruptSignal(),
      env: process.env,
      cwd: process.cwd(),
    });
  }
  if (command === "--help" || command === "-h" || command === "help") return runScan(["--help"], io);
  process.stderr.write(
    `ephemeral-guard: unknown command ${command ? `"${command}"` : "(none)"}; try: ephemeral-guard scan --help, ephemeral-guard hunt --help\n`,
  );
  return 1;
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    process.stderr.write(
      `ephemeral-guard: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 70;
  },
);
