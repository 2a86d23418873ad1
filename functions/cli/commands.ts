import type { CliIo } from "./cli-io.ts";
import { stderrProgress, stdoutColour } from "./cli-io.ts";
import { HUNT_USAGE } from "./parse-hunt-args.ts";
import { REPLAY_USAGE } from "./parse-replay-args.ts";
import { RULES_USAGE } from "./parse-rules-args.ts";
import { USAGE as SCAN_USAGE } from "./parse-scan-args.ts";
import { TEST_ALERT_USAGE } from "./parse-test-alert-args.ts";

/**
 * The commands of `ephemeral-guard`, one entry each: its name, one line for the general help, its --help
 * text (options, examples, exit status), and how it runs. Each command parses its arguments with zod, runs,
 * and returns an exit status (exit-codes.ts). A command's module is loaded only when that command runs, so
 * `--version`, `help` and `scan` never load the AWS SDK. Adding a command is adding an entry here.
 */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run: (argv: readonly string[], io: CliIo) => Promise<number>;
}

export const COMMANDS: readonly Command[] = [
  {
    name: "scan",
    summary: "score audit events from files, folders or standard input",
    usage: SCAN_USAGE,
    run: async (argv, io) =>
      (await import("./run-scan.ts")).runScan(argv, {
        stdin: io.stdin,
        stdout: io.stdout,
        stderr: io.stderr,
        colour: stdoutColour(io),
        stdinIsTerminal: io.terminal.stdin,
        progress: stderrProgress(io),
        ...(io.columns !== undefined ? { columns: io.columns } : {}),
      }),
  },
  {
    name: "hunt",
    summary: "search the audit logs CloudWatch Logs keeps (--publish: alert on what was missed)",
    usage: HUNT_USAGE,
    run: async (argv, io) =>
      (await import("./run-hunt.ts")).runHunt(argv, {
        stdout: io.stdout,
        stderr: io.stderr,
        colour: stdoutColour(io),
        progress: stderrProgress(io),
        ...(io.columns !== undefined ? { columns: io.columns } : {}),
        ...(io.signal ? { signal: io.signal } : {}),
        env: io.env,
        cwd: io.cwd,
      }),
  },
  {
    name: "replay",
    summary: "replay detect invocations Lambda gave up on (the detect failure queue)",
    usage: REPLAY_USAGE,
    run: async (argv, io) => (await import("./run-replay.ts")).runReplay(argv, io),
  },
  {
    name: "test-alert",
    summary: "send a test alert to a Slack webhook or the alerts topic",
    usage: TEST_ALERT_USAGE,
    run: async (argv, io) => (await import("./run-test-alert.ts")).runTestAlert(argv, io),
  },
  {
    name: "rules",
    summary: "list the scoring rules with their ATT&CK techniques, runbooks and references",
    usage: RULES_USAGE,
    run: async (argv, io) => (await import("./run-rules.ts")).runRules(argv, io),
  },
];
