import { z } from "zod";
import { choice, type OptionsConfig, parseCommandLine, TextOption } from "./command-options.ts";
import { EXIT_STATUS_HELP } from "./exit-codes.ts";

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

${EXIT_STATUS_HELP}`;

const OPTIONS: OptionsConfig = {
  format: { type: "string" },
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
};

const RulesOptionsSchema = z.object({
  format: choice(["text", "json", "markdown"], "a rules format").default("text"),
  config: TextOption.optional(),
  help: z.boolean().default(false),
});

export type RulesOptions = z.output<typeof RulesOptionsSchema>;

export function parseRulesArgs(argv: readonly string[]): RulesOptions {
  return parseCommandLine(argv, OPTIONS, RulesOptionsSchema);
}
