import { ATTACK_TECHNIQUES, techniqueUrl } from "./attack-techniques.ts";
import type { RuleEffect } from "./finding.ts";
import type { RuleOverrides } from "./rule-overrides.ts";
import { RULES, type Rule } from "./rules.ts";
import type { Severity } from "./severity.ts";

/**
 * The rules table as people read it: `ephemeral-guard rules` (text, JSON, Markdown) and the README's table
 * (npm run docs:rules). Pure: the same rules and overrides give the same text.
 */
export interface RuleDescription {
  id: string;
  effect: RuleEffect;
  /** The level in force: the configured one when configuration changed it. */
  level: Severity;
  /** Present when configuration changed the level: the rules table's own. */
  defaultLevel?: Severity;
  pinned: boolean;
  /** False when configuration switched the rule off. */
  enabled: boolean;
  techniques: { id: string; name: string; tactic: string; url: string }[];
  why: string;
  falsePositives: string;
  runbook: string;
  references: string[];
}

export function describeRules(
  rules: readonly Rule[] = RULES,
  overrides: RuleOverrides = {},
): RuleDescription[] {
  return rules.map((rule) => {
    const override = Object.hasOwn(overrides, rule.id) ? overrides[rule.id] : undefined;
    const level = override?.level ?? rule.level;
    const description: RuleDescription = {
      id: rule.id,
      effect: rule.effect,
      level,
      pinned: rule.pinned === true,
      enabled: override?.enabled !== false,
      techniques: rule.techniques.map((id) => {
        const technique = ATTACK_TECHNIQUES[id];
        const name = "parent" in technique ? `${technique.parent.name}: ${technique.name}` : technique.name;
        return { id, name, tactic: technique.tactic.name, url: techniqueUrl(id) };
      }),
      why: rule.why,
      falsePositives: rule.falsePositives,
      runbook: rule.runbook,
      references: [...rule.references],
    };
    if (level !== rule.level) description.defaultLevel = rule.level;
    return description;
  });
}

const EFFECT_TEXT: Record<RuleEffect, (level: Severity) => string> = {
  floor: (level) => (level === "critical" ? "critical" : `at least ${level}`),
  raise: () => "one level up",
  lower: () => "one level down",
  ceiling: (level) => `at most ${level}`,
  context: () => "context",
};

/** `at least high (pinned)`, `one level up`, `at most low`, and what configuration changed. */
export function effectText(rule: RuleDescription): string {
  if (!rule.enabled) return "off (configured)";
  const base = `${EFFECT_TEXT[rule.effect](rule.level)}${rule.pinned ? " (pinned)" : ""}`;
  return rule.defaultLevel ? `${base} (configured; default ${rule.defaultLevel})` : base;
}

/** For a terminal: one block per rule, its id and effect first. */
export function rulesText(rules: readonly RuleDescription[]): string {
  const label = (name: string) => `  ${name.padEnd(16)}`;
  return rules
    .map((rule) =>
      [
        `${rule.id} · ${effectText(rule)} · ${rule.techniques.map((t) => `${t.id} ${t.name}`).join(", ")}`,
        `${label("why")}${rule.why}`,
        `${label("false positives")}${rule.falsePositives}`,
        `${label("runbook")}${rule.runbook}`,
        ...rule.references.map((url, index) => `${label(index === 0 ? "references" : "")}${url}`),
      ].join("\n"),
    )
    .join("\n\n");
}

/** One JSON array of every rule: for jq and other tools. */
export function rulesJson(rules: readonly RuleDescription[]): string {
  return JSON.stringify(rules, null, 2);
}

/** Text in one Markdown table cell: no line breaks, no column separators. */
function cell(text: string): string {
  return text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

function techniqueLinks(rule: RuleDescription, named: boolean): string {
  return rule.techniques.map((t) => `[${named ? `${t.id} ${t.name}` : t.id}](${t.url})`).join(", ");
}

/** The README's table: rule, effect, ATT&CK techniques and why. */
export function rulesMarkdownTable(rules: readonly RuleDescription[]): string {
  return [
    "| rule | effect | ATT&CK | why |",
    "| ---- | ------ | ------ | --- |",
    ...rules.map(
      (rule) =>
        `| \`${rule.id}\` | ${cell(effectText(rule))} | ${techniqueLinks(rule, false)} | ${cell(rule.why)} |`,
    ),
  ].join("\n");
}

/** The table, then each rule's false positives, runbook and references. */
export function rulesMarkdown(rules: readonly RuleDescription[]): string {
  const details = rules.map((rule) =>
    [
      `### \`${rule.id}\``,
      "",
      `${effectText(rule)} · ${techniqueLinks(rule, true)}`,
      "",
      rule.why,
      "",
      `- **False positives**: ${rule.falsePositives}`,
      `- **Runbook**: ${rule.runbook}`,
      `- **References**: ${rule.references.map((url) => `<${url}>`).join(", ")}`,
    ].join("\n"),
  );
  return [rulesMarkdownTable(rules), ...details].join("\n\n");
}
