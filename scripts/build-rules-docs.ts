/**
 * Writes the README's rule table from functions/core/rules.ts, between the two marker comments, so the table
 * can never say something the rules do not. Run `npm run docs:rules` after changing a rule;
 * test/scripts/build-rules-docs.test.ts fails until you do.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describeRules, rulesMarkdownTable } from "../functions/core/describe-rules.ts";

export const README_PATH = join(dirname(fileURLToPath(import.meta.url)), "..", "README.md");

export const RULES_BEGIN =
  "<!-- rules:begin — generated from functions/core/rules.ts by `npm run docs:rules`: edit the rules, not this table -->";
export const RULES_END = "<!-- rules:end -->";

/** `readme` with the text between the markers replaced by the current table. */
export function readmeWithRulesTable(readme: string): string {
  const begin = readme.indexOf(RULES_BEGIN);
  const end = readme.indexOf(RULES_END);
  if (begin < 0 || end < begin || readme.indexOf(RULES_BEGIN, begin + 1) >= 0) {
    throw new Error(`README.md must hold "${RULES_BEGIN}" once, followed by "${RULES_END}"`);
  }
  const table = rulesMarkdownTable(describeRules());
  return `${readme.slice(0, begin)}${RULES_BEGIN}\n\n${table}\n\n${readme.slice(end)}`;
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(resolve(invokedPath)).href) {
  const readme = readFileSync(README_PATH, "utf8");
  const updated = readmeWithRulesTable(readme);
  if (updated === readme) {
    console.log("README.md: the rule table is up to date");
  } else {
    writeFileSync(README_PATH, updated);
    console.log("README.md: rule table written from functions/core/rules.ts");
  }
}
