import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { CliIo } from "../../functions/cli/cli-io.ts";
import { useColour } from "../../functions/cli/colour.ts";
import { COMMANDS, type Command } from "../../functions/cli/commands.ts";
import { EXIT, EXIT_STATUS_HELP } from "../../functions/cli/exit-codes.ts";
import { parseHuntArgs } from "../../functions/cli/parse-hunt-args.ts";
import { runCli } from "../../functions/cli/run-cli.ts";
import packageJson from "../../package.json" with { type: "json" };

/** The one `ephemeral-guard` entry, in process: commands, help, version, colour, exit statuses. */

const SAMPLE = join(import.meta.dirname, "../../events/audit/run-as-root.json");

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

async function cli(
  argv: string[],
  options: { env?: Record<string, string>; terminal?: Partial<CliIo["terminal"]>; commands?: Command[] } = {},
): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const io: CliIo = {
    stdin: Readable.from([]),
    stdout,
    stderr,
    env: options.env ?? {},
    cwd: process.cwd(),
    terminal: { stdin: false, stdout: false, stderr: false, ...options.terminal },
  };
  const status = await runCli(argv, io, options.commands);
  return { status, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

describe("ephemeral-guard: commands, help and version", () => {
  it("--version prints the package's name and version", async () => {
    for (const flag of ["--version", "-V", "version"]) {
      const run = await cli([flag]);
      expect(run).toEqual({ status: 0, stdout: `ephemeral-guard ${packageJson.version}\n`, stderr: "" });
    }
  });

  it("help lists every command; help COMMAND, COMMAND --help and COMMAND help print its usage with examples and the exit statuses", async () => {
    const general = await cli(["help"]);
    expect(general.status).toBe(0);
    for (const name of ["scan", "hunt", "replay", "test-alert"])
      expect(general.stdout).toContain(`  ${name} `);
    expect(general.stdout).toContain(EXIT_STATUS_HELP);
    expect((await cli(["--help"])).stdout).toBe(general.stdout);
    for (const command of COMMANDS) {
      expect(command.usage).toContain(`usage: ephemeral-guard ${command.name}`);
      expect(command.usage).toContain("Examples:");
      expect(command.usage.endsWith(EXIT_STATUS_HELP)).toBe(true);
      for (const argv of [
        ["help", command.name],
        [command.name, "--help"],
        [command.name, "-h"],
        [command.name, "help"],
      ]) {
        const run = await cli(argv);
        expect(run, argv.join(" ")).toEqual({ status: 0, stdout: `${command.usage}\n`, stderr: "" });
      }
    }
  });

  it("prints the general usage on stderr with exit 1 when run without a command", async () => {
    const run = await cli([]);
    expect(run.status).toBe(EXIT.usage);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("usage: ephemeral-guard COMMAND");
  });

  it("refuses an unknown command with exit 1 and suggests the closest one, or scan for a path", async () => {
    const typo = await cli(["scna", SAMPLE]);
    expect(typo.status).toBe(EXIT.usage);
    expect(typo.stderr).toContain('unknown command "scna"; did you mean scan?');
    const path = await cli(["events/audit/run-as-root.json"]);
    expect(path.status).toBe(EXIT.usage);
    expect(path.stderr).toContain("to scan it: ephemeral-guard scan events/audit/run-as-root.json");
    const help = await cli(["help", "nope"]);
    expect(help.status).toBe(EXIT.usage);
  });

  it("runs a command added to the table as one entry, and lists it", async () => {
    const extra: Command = {
      name: "inventory",
      summary: "list what is watched",
      usage: `usage: ephemeral-guard inventory\n\nExamples:\n  ephemeral-guard inventory\n\n${EXIT_STATUS_HELP}`,
      run: async (argv, io) => {
        io.stdout.write(`inventory ran with ${argv.join(" ")}\n`);
        return EXIT.ok;
      },
    };
    const commands = [...COMMANDS, extra];
    expect((await cli(["help"], { commands })).stdout).toMatch(/\n {2}inventory +list what is watched\n/);
    expect(await cli(["inventory", "--format", "json"], { commands })).toEqual({
      status: 0,
      stdout: "inventory ran with --format json\n",
      stderr: "",
    });
  });
});

describe("ephemeral-guard: one way to read options", () => {
  it("takes levels in any case in every command", () => {
    expect(parseHuntArgs(["--cluster", "prod", "--min-severity", "HIGH"]).minSeverity).toBe("high");
    expect(parseHuntArgs(["--cluster", "prod", "--format", "OCSF"]).format).toBe("ocsf");
  });

  it("names options, not fields, in every command's errors", async () => {
    const hunt = await cli(["hunt", "--cluster", "prod", "--since", "7 days", "--min-severity", "loud"]);
    expect(hunt.status).toBe(1);
    expect(hunt.stderr).toContain("--since: not a duration like 90m, 36h, 7d or 2w: 7 days");
    expect(hunt.stderr).toContain('--min-severity: "loud" is not a severity level');
    expect(hunt.stderr).not.toMatch(/sinceMs|minSeverity/);
  });
});

describe("ephemeral-guard: colour", () => {
  it("follows the terminal, NO_COLOR and FORCE_COLOR (which wins, as in Node)", () => {
    expect(useColour(true, {})).toBe(true);
    expect(useColour(false, {})).toBe(false);
    expect(useColour(true, { NO_COLOR: "1" })).toBe(false);
    expect(useColour(true, { NO_COLOR: "" })).toBe(true);
    expect(useColour(false, { FORCE_COLOR: "1" })).toBe(true);
    expect(useColour(false, { FORCE_COLOR: "" })).toBe(true);
    expect(useColour(true, { FORCE_COLOR: "0" })).toBe(false);
    expect(useColour(true, { FORCE_COLOR: "false" })).toBe(false);
    expect(useColour(false, { FORCE_COLOR: "2", NO_COLOR: "1" })).toBe(true);
  });

  it("colours scan's text on a terminal unless NO_COLOR, and off a terminal when FORCE_COLOR", async () => {
    const ansi = "\u001b[";
    expect((await cli(["scan", SAMPLE], { terminal: { stdout: true } })).stdout).toContain(ansi);
    expect(
      (await cli(["scan", SAMPLE], { terminal: { stdout: true }, env: { NO_COLOR: "1" } })).stdout,
    ).not.toContain(ansi);
    expect((await cli(["scan", SAMPLE], { env: { FORCE_COLOR: "1" } })).stdout).toContain(ansi);
    expect((await cli(["scan", SAMPLE])).stdout).not.toContain(ansi);
  });
});
