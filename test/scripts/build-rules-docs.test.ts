import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { RULES } from "../../functions/core/rules.ts";
import { README_PATH, RULES_BEGIN, RULES_END, readmeWithRulesTable } from "../../scripts/build-rules-docs.ts";

const FIX =
  "README.md's rule table is out of date with functions/core/rules.ts: run `npm run docs:rules` and commit README.md";

describe("the README's rule table", () => {
  const readme = readFileSync(README_PATH, "utf8");

  it("is what functions/core/rules.ts generates", () => {
    // Not toEqual on the whole file: a diff of the table is what helps, and the message says the fix.
    const table = (text: string) => text.slice(text.indexOf(RULES_BEGIN), text.indexOf(RULES_END));
    expect(table(readme), FIX).toBe(table(readmeWithRulesTable(readme)));
    expect(readme, FIX).toBe(readmeWithRulesTable(readme));
  });

  it("has a row for every rule, in the table's order", () => {
    const rows = readme
      .slice(readme.indexOf(RULES_BEGIN), readme.indexOf(RULES_END))
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .map((line) => line.slice(3, line.indexOf("`", 3)));
    expect(rows).toEqual(RULES.map((rule) => rule.id));
  });

  it("is replaced only between the markers, and a second run changes nothing", () => {
    const stale = `intro\n\n${RULES_BEGIN}\n\n| old table |\n\n${RULES_END}\n\noutro\n`;
    const once = readmeWithRulesTable(stale);
    expect(once.startsWith(`intro\n\n${RULES_BEGIN}\n\n| rule | effect | ATT&CK | why |`)).toBe(true);
    expect(once.endsWith(`\n\n${RULES_END}\n\noutro\n`)).toBe(true);
    expect(once).not.toContain("old table");
    expect(readmeWithRulesTable(once)).toBe(once);
  });

  it("refuses a README without its markers rather than appending a table somewhere", () => {
    expect(() => readmeWithRulesTable("no markers here")).toThrow(/must hold/);
    expect(() => readmeWithRulesTable(`${RULES_END}\n${RULES_BEGIN}`)).toThrow(/must hold/);
  });
});
