import { RULES, type Rule } from "./rules.ts";

const BY_ID: ReadonlyMap<string, Rule> = new Map(RULES.map((rule) => [rule.id, rule]));

/**
 * The rule of the rules table with this id. A Map, not an object lookup: reason ids reach Slack from the
 * alerts topic, and "__proto__" or "constructor" must find nothing.
 */
export function ruleById(id: string): Rule | undefined {
  return BY_ID.get(id);
}
