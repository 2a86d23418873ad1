import { runScan } from "./run-scan.ts";

/** `ephemeral-guard scan …`: the command-line entry, also `npm run scan` and `npm start`. */
const [command, ...rest] = process.argv.slice(2);
const io = {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  colour: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
};

async function main(): Promise<number> {
  if (command === "scan") return runScan(rest, io);
  if (command === "--help" || command === "-h" || command === "help") return runScan(["--help"], io);
  process.stderr.write(
    `ephemeral-guard: unknown command ${command ? `"${command}"` : "(none)"}; try: ephemeral-guard scan --help\n`,
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
