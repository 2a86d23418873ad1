import type { Writable } from "node:stream";
import { parseArgs } from "node:util";
import { z } from "zod";
import { describeRules, rulesJson, rulesMarkdown, rulesText } from "../core/describe-rules.ts";
import { ConfigError, loadScanConfig } from "./load-scan-config.ts";
import { EXIT_OK, EXIT_USAGE } from "./run-scan.ts";

export const RULES_USAGE = `usage: ephemeral-guard rules [--format text|json|markdown] [--config FILE]

Lists the scoring rules: id, effect and level, whether pinned, MITRE ATT&CK techniques, why the rule exists,
its false positives, a one-line runbook and references.

  --format text|json|markdown
                  text (default); json: one array of every rule; markdown: a table, then each rule's details
  --config FILE   the detection configuration scan and hunt take: checks its "rules" overrides and lists the
                  rules as they would score (switched off, or at the configured level)

Examples:
  ephemeral-guard rules
  ephemeral-guard rules --format json | jq -r '.[] | select(.techniques[].id == "T1611") | .id'
  ephemeral-guard rules --config tuning.json

Exit status: 0, or 1 on a usage or configuration error.`;

const RulesOptionsSchema = z.object({
  format: z.enum(["text", "json", "markdown"]).default("text"),
  config: z.string().optional(),
  help: z.boolean().default(false),
});
type RulesOptions = z.infer<typeof RulesOptionsSchema>;

class RulesUsageError extends Error {
  override name = "RulesUsageError";
}

function parseRulesArgs(argv: readonly string[]): RulesOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        format: { type: "string" },
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new RulesUsageError(error instanceof Error ? error.message : String(error));
  }
  const result = RulesOptionsSchema.safeParse(values);
  if (!result.success) throw new RulesUsageError(z.prettifyError(result.error));
  return result.data;
}

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
    if (!(error instanceof RulesUsageError)) throw error;
    io.stderr.write(`ephemeral-guard: ${error.message}\n${RULES_USAGE}\n`);
    return EXIT_USAGE;
  }
  if (options.help) {
    io.stdout.write(`${RULES_USAGE}\n`);
    return EXIT_OK;
  }
  let overrides = {};
  if (options.config !== undefined) {
    try {
      overrides = (await loadScanConfig(options.config, undefined)).rules ?? {};
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      io.stderr.write(`ephemeral-guard: configuration: ${error.message}\n`);
      return EXIT_USAGE;
    }
  }
  io.stdout.write(`${RENDER[options.format](describeRules(undefined, overrides))}\n`);
  return EXIT_OK;
}
