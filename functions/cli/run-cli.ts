import { PRODUCT } from "../core/product-info.ts";
import type { CliIo } from "./cli-io.ts";
import { asksForHelp } from "./command-options.ts";
import { COMMANDS, type Command } from "./commands.ts";
import { EXIT, EXIT_STATUS_HELP } from "./exit-codes.ts";

/** `ephemeral-guard [--version | --help | help [COMMAND] | COMMAND ...]`: finds the command and runs it. */

export function generalUsage(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((command) => command.name.length)) + 2;
  return `usage: ephemeral-guard COMMAND [OPTIONS]
       ephemeral-guard help [COMMAND] | --help | --version

Detects, scores and alerts on writes to pods/ephemeralcontainers (kubectl debug) in Amazon EKS audit logs.

Commands:
${commands.map((command) => `  ${command.name.padEnd(width)}${command.summary}`).join("\n")}

'ephemeral-guard help COMMAND' (or COMMAND --help) shows a command's options and examples.

${EXIT_STATUS_HELP}`;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function unknownCommand(name: string, io: CliIo, commands: readonly Command[]): number {
  const shown = JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
  const close = commands
    .map((command) => ({ name: command.name, distance: distance(name.toLowerCase(), command.name) }))
    .filter((candidate) => candidate.distance <= 2)
    .sort((a, b) => a.distance - b.distance)[0];
  const looksLikePath = name.includes("/") || name.includes(".");
  io.stderr.write(
    `ephemeral-guard: unknown command ${shown}${close ? `; did you mean ${close.name}?` : ""}` +
      `${looksLikePath && !close ? `; to scan it: ephemeral-guard scan ${name}` : ""}\n` +
      `commands: ${commands.map((command) => command.name).join(", ")} (ephemeral-guard help)\n`,
  );
  return EXIT.usage;
}

export async function runCli(
  argv: readonly string[],
  io: CliIo,
  commands: readonly Command[] = COMMANDS,
): Promise<number> {
  const [first, ...rest] = argv;
  const find = (name: string | undefined) => commands.find((command) => command.name === name);
  if (first === undefined) {
    io.stderr.write(`${generalUsage(commands)}\n`);
    return EXIT.usage;
  }
  if (first === "--version" || first === "-V" || first === "version") {
    io.stdout.write(`${PRODUCT.name} ${PRODUCT.version}\n`);
    return EXIT.ok;
  }
  if (first === "--help" || first === "-h" || first === "help") {
    const topic = first === "help" ? rest[0] : undefined;
    if (topic === undefined) {
      io.stdout.write(`${generalUsage(commands)}\n`);
      return EXIT.ok;
    }
    const command = find(topic);
    if (!command) return unknownCommand(topic, io, commands);
    io.stdout.write(`${command.usage}\n`);
    return EXIT.ok;
  }
  const command = find(first);
  if (!command) return unknownCommand(first, io, commands);
  // `scan help` asks for help, not for a file named help (scan ./help reads one).
  if (asksForHelp(rest) || (rest.length === 1 && rest[0] === "help")) {
    io.stdout.write(`${command.usage}\n`);
    return EXIT.ok;
  }
  return command.run(rest, io);
}
