import type { Writable } from "node:stream";
import { describeRules, rulesJson, rulesMarkdown, rulesText } from "../core/describe-rules.ts";
import { synopsis, UsageError } from "./command-options.ts";
import { EXIT } from "./exit-codes.ts";
import { ConfigError, loadScanConfig } from "./load-scan-config.ts";
import { parseRulesArgs, RULES_USAGE, type RulesOptions } from "./parse-rules-args.ts";

const RENDER = { text: rulesText, json: rulesJson, markdown: rulesMarkdown } as const;

/** The `rules` command. Returns the exit status. */
export async function runRules(
  argv: readonly string[],
  io: { stdout: Writable; stderr: Writable },
): Promise<number> {
  let options: RulesOptions;
  try {
    options = parseRulesArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(
      `ephemeral-guard rules: ${error.message}\n${synopsis(RULES_USAGE)}\n(ephemeral-guard help rules)\n`,
    );
    return EXIT.usage;
  }
  if (options.help) {
    io.stdout.write(`${RULES_USAGE}\n`);
    return EXIT.ok;
  }
  let overrides = {};
  if (options.config !== undefined) {
    try {
      overrides = (await loadScanConfig(options.config, undefined)).rules ?? {};
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      io.stderr.write(`ephemeral-guard: configuration: ${error.message}\n`);
      return EXIT.usage;
    }
  }
  io.stdout.write(`${RENDER[options.format](describeRules(undefined, overrides))}\n`);
  return EXIT.ok;
}
