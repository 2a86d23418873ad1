import * as z from "zod";
import type { RuleEffect } from "./finding.ts";
import { ruleById } from "./rule-by-id.ts";
import { RULES, type Rule } from "./rules.ts";
import { type Severity, SeveritySchema, severityRank } from "./severity.ts";

/**
 * Tuning: the detection config may switch a rule off or set its level,
 * `{"actor.non-kubectl-client": {"enabled": false}, "container.run-as-root": {"level": "high"}}`.
 *
 * Only changes that mean something and keep the scoring policy's promises are accepted:
 * - a floor's level may be set to any level, but a pinned floor (privileged, hostProcess, a cut or truncated
 *   body, and any write's low) can be neither lowered nor switched off: it is what a padded or privileged
 *   write is scored on whoever makes it, so no configuration can hide one;
 * - an outcome ceiling's level may be set up to medium, and it cannot be switched off: only a write that
 *   took effect may be high or critical (what pages and what remediation acts on rely on that);
 * - raise, lower and context rules may be switched off; they have no level to set (a raise is one level up,
 *   a context reason never changes the level).
 * A rule whose level configuration changed says so in its reason, so that nobody reading a finding takes the
 * configured level for the default.
 */

/** Longer keys are no rule id, and they would make edit distances costly. */
const MAX_RULE_ID_LENGTH = 100;

/** Levels as in the rest of the config, but "High" is read as "high": a capital letter is not worth a refusal. */
const LevelSchema = z
  .string()
  .transform((level) => level.toLowerCase())
  .pipe(SeveritySchema);

export const RuleOverrideSchema = z.strictObject({
  enabled: z.boolean().optional(),
  level: LevelSchema.optional(),
});
export type RuleOverride = z.infer<typeof RuleOverrideSchema>;
export type RuleOverrides = Readonly<Record<string, RuleOverride>>;

/** Thrown when a table is tuned with overrides that did not go through RuleOverridesSchema and break a promise. */
export class RuleOverrideError extends Error {
  override name = "RuleOverrideError";
}

const CEILING_MAX: Severity = "medium";

const NO_LEVEL = (what: string) => (rule: Rule) =>
  `${rule.id} ${what}: it has no level to set (switch it off with "enabled": false)`;

/** What setting `level` on a rule of each effect means, or why it is refused. */
const LEVEL_PROBLEM: Record<RuleEffect, (rule: Rule, level: Severity) => string | undefined> = {
  floor: (rule, level) =>
    rule.pinned && severityRank(level) < severityRank(rule.level)
      ? `${rule.id} is pinned at ${rule.level}: it cannot be lowered to ${level} (a pinned rule holds whoever writes and however the detector is configured)`
      : undefined,
  ceiling: (rule, level) =>
    severityRank(level) > severityRank(CEILING_MAX)
      ? `${rule.id} caps a write that did not take effect: at most ${CEILING_MAX}, not ${level} (only a created write may be high or critical)`
      : undefined,
  raise: NO_LEVEL("raises a finding one level"),
  lower: NO_LEVEL("lowers a finding one level"),
  context: NO_LEVEL("only explains and never changes the level"),
};

/** Why a rule of each effect cannot be switched off, if it cannot. */
const OFF_PROBLEM: Record<RuleEffect, (rule: Rule) => string | undefined> = {
  floor: (rule) =>
    rule.pinned
      ? `${rule.id} is pinned at ${rule.level}: it cannot be switched off (a pinned rule holds whoever writes and however the detector is configured)`
      : undefined,
  ceiling: (rule) =>
    `${rule.id} cannot be switched off: a write that did not take effect would be scored as if it had (only a created write may be high or critical)`,
  raise: () => undefined,
  lower: () => undefined,
  context: () => undefined,
};

/** Why `override` cannot apply to `rule`, with the field it is about; undefined when it can. */
export function overrideProblem(
  rule: Rule,
  override: RuleOverride,
): { field?: "enabled" | "level"; message: string } | undefined {
  if (override.enabled === undefined && override.level === undefined) {
    return { message: `says nothing: give "enabled": false or a "level" for ${rule.id}` };
  }
  if (override.enabled === false) {
    if (override.level !== undefined) {
      return { field: "level", message: `${rule.id} is switched off: a level means nothing for it` };
    }
    const problem = OFF_PROBLEM[rule.effect](rule);
    return problem ? { field: "enabled", message: problem } : undefined;
  }
  if (override.level === undefined) return undefined;
  const problem = LEVEL_PROBLEM[rule.effect](rule, override.level);
  return problem ? { field: "level", message: problem } : undefined;
}

/** Levenshtein distance, two rows at a time. Both strings are at most MAX_RULE_ID_LENGTH long. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The rule id closest to `id` (case aside), when it is close enough to be what was meant. */
export function closestRuleId(id: string, rules: readonly Rule[] = RULES): string | undefined {
  let best: { id: string; distance: number } | undefined;
  for (const rule of rules) {
    const distance = editDistance(id.toLowerCase(), rule.id.toLowerCase());
    if (best === undefined || distance < best.distance) best = { id: rule.id, distance };
  }
  // Half the id may be wrong and it is still a typo; beyond that the suggestion would be noise.
  return best && best.distance <= Math.max(2, Math.floor(id.length / 2)) ? best.id : undefined;
}

function unknownRuleMessage(id: string): string {
  const closest = closestRuleId(id);
  const hint = closest ? `: did you mean "${closest}"?` : "";
  return `unknown rule "${id}"${hint} (\`ephemeral-guard rules\` lists them)`;
}

/**
 * JSON.parse keeps a "__proto__" key as an own property, and zod's record drops it without a word: refused
 * here like any other id that is no rule, rather than silently ignored.
 */
function refuseProtoKey(input: unknown, context: z.RefinementCtx): unknown {
  if (typeof input === "object" && input !== null && Object.hasOwn(input, "__proto__")) {
    context.addIssue({ code: "custom", path: ["__proto__"], message: unknownRuleMessage("__proto__") });
  }
  return input;
}

/** The overrides of the detection config, checked against the rules table. */
export const RuleOverridesSchema = z.preprocess(
  refuseProtoKey,
  z.record(z.string(), RuleOverrideSchema).superRefine((overrides, context) => {
    const ids = Object.keys(overrides);
    // Each id is a rule at most once, so more entries than rules means some are not rules: say so once instead
    // of computing a suggestion for each of thousands.
    if (ids.length > RULES.length) {
      context.addIssue({
        code: "custom",
        message: `${ids.length} entries, but there are only ${RULES.length} rules (\`ephemeral-guard rules\` lists them)`,
      });
      return;
    }
    for (const id of ids) {
      const rule = ruleById(id);
      if (!rule) {
        const message =
          id.length > MAX_RULE_ID_LENGTH
            ? `an id of ${id.length} characters is no rule (\`ephemeral-guard rules\` lists them)`
            : unknownRuleMessage(id);
        context.addIssue({ code: "custom", path: [id], message });
        continue;
      }
      const override = overrides[id];
      const problem = override ? overrideProblem(rule, override) : undefined;
      if (problem) {
        context.addIssue({
          code: "custom",
          path: problem.field ? [id, problem.field] : [id],
          message: problem.message,
        });
      }
    }
  }),
);

/** What a configured level looks like in the reasons of the rule. */
export function configuredLevelNote(level: Severity, defaultLevel: Severity): string {
  return ` (level ${level} set by configuration; default ${defaultLevel})`;
}

/** `rule` at `level`: each of its reasons says the level is configured. */
function relevelled(rule: Rule, level: Severity): Rule {
  const note = configuredLevelNote(level, rule.level);
  const evaluate = rule.evaluate;
  return {
    ...rule,
    level,
    evaluate: (facts, config) => {
      const hits = evaluate(facts, config);
      return hits.length === 0 ? hits : hits.map((hit) => ({ ...hit, text: `${hit.text}${note}` }));
    },
  };
}

function applyOverrides(rules: readonly Rule[], overrides: RuleOverrides): readonly Rule[] {
  const table: Rule[] = [];
  for (const rule of rules) {
    // hasOwn: ids come from a JSON file, and "__proto__" or "constructor" must not find Object.prototype.
    const override = Object.hasOwn(overrides, rule.id) ? overrides[rule.id] : undefined;
    if (override === undefined) {
      table.push(rule);
      continue;
    }
    const problem = overrideProblem(rule, override);
    if (problem) throw new RuleOverrideError(problem.message);
    if (override.enabled === false) continue;
    table.push(
      override.level === undefined || override.level === rule.level ? rule : relevelled(rule, override.level),
    );
  }
  return Object.freeze(table);
}

/** Tuned tables by the overrides object they were made from: a config's overrides never change. */
const TUNED = new WeakMap<RuleOverrides, { base: readonly Rule[]; tuned: readonly Rule[] }>();

/**
 * `rules` with `overrides` applied. Without overrides this is `rules` itself, so the scoring of a write
 * allocates nothing for tuning; with them, the tuned table is made once per config and reused.
 */
export function tunedRules(rules: readonly Rule[], overrides: RuleOverrides | undefined): readonly Rule[] {
  if (overrides === undefined) return rules;
  const cached = TUNED.get(overrides);
  if (cached?.base === rules) return cached.tuned;
  const tuned = applyOverrides(rules, overrides);
  TUNED.set(overrides, { base: rules, tuned });
  return tuned;
}
