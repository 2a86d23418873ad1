import {
  ATTACK_TECHNIQUES,
  type AttackTechnique,
  isTechniqueId,
  TECHNIQUE_IDS,
} from "./attack-techniques.ts";
import type { Finding, Reason } from "./finding.ts";
import { RULES } from "./rules.ts";

/** Each technique's bit: a finding's techniques are a union, kept as a mask while its reasons are read. */
const TECHNIQUE_BIT: ReadonlyMap<string, number> = new Map(
  TECHNIQUE_IDS.map((id, index) => [id, 1 << index]),
);

/** Each rule's techniques as a mask. The rules table never changes, so this is built once. */
const RULE_TECHNIQUES: ReadonlyMap<string, number> = new Map(
  RULES.map((rule) => [
    rule.id,
    rule.techniques.reduce((mask, id) => mask | (TECHNIQUE_BIT.get(id) ?? 0), 0),
  ]),
);

/** Every write to pods/ephemeralcontainers is T1609, whatever rules fired. */
const T1609 = TECHNIQUE_BIT.get("T1609") ?? 0;

/**
 * The techniques of the rules behind `reasons` (each reason's id is the rule that made it), T1609 always, in
 * the catalogue's order: the same rules give the same list whatever order their reasons are in. Reason ids
 * that name no rule (a finding from another version) add nothing.
 */
export function techniqueIdsOf(reasons: readonly Pick<Reason, "id">[]): string[] {
  let mask = T1609;
  for (const reason of reasons) mask |= RULE_TECHNIQUES.get(reason.id) ?? 0;
  const ids: string[] = [];
  for (let index = 0; index < TECHNIQUE_IDS.length; index++) {
    if (mask & (1 << index)) ids.push(TECHNIQUE_IDS[index] as string);
  }
  return ids;
}

/**
 * The techniques a finding shows, as OCSF and Security Hub name them: its `techniques` when it has them,
 * else (a finding from before they existed) those of the rules behind its reasons. Ids outside the catalogue
 * (the finding is text from the alerts topic) are left out rather than given an invented name.
 */
export function findingTechniques(finding: Pick<Finding, "reasons" | "techniques">): AttackTechnique[] {
  const ids = finding.techniques ?? techniqueIdsOf(finding.reasons);
  const techniques: AttackTechnique[] = [];
  for (const id of ids) {
    if (isTechniqueId(id) && !techniques.some((technique) => technique.id === id)) {
      techniques.push(ATTACK_TECHNIQUES[id]);
    }
  }
  return techniques;
}
