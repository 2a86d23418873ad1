import type { DetectionConfig } from "./detection-config.ts";
import type { Reason, RuleEffect } from "./finding.ts";
import { tunedRules } from "./rule-overrides.ts";
import { RULES, type Rule, type RuleHit } from "./rules.ts";
import { maxSeverity, minSeverity, type Severity, severityRank, shiftSeverity } from "./severity.ts";
import type { WriteFacts } from "./write-facts.ts";

export interface Scored {
  severity: Severity;
  score: number;
  reasons: Reason[];
  /**
   * Containers a rule named (context rules aside), by name: the securityContext and reach fields that made each
   * risky, and the strongest level among those rules (which containers a finding lists first when it cannot
   * list them all).
   */
  risk: ReadonlyMap<string, ContainerRisk>;
  /** Hits that rules counted but did not list (rule-hits.ts): reasons the finding leaves out. */
  unlistedReasons: number;
}

export interface ContainerRisk {
  fields: string[];
  level: Severity;
}

interface Fired {
  rule: Rule;
  hits: readonly RuleHit[];
}

const NO_RISK: ReadonlyMap<string, ContainerRisk> = new Map();

/** How many hits a list stands for: a hit standing for unlisted ones counts as those. */
function hitCount(hits: readonly RuleHit[]): number {
  let count = 0;
  for (const hit of hits) count += hit.unlisted ?? 1;
  return count;
}

/** The order effects apply in (see scoreWrite). */
const EFFECT_ORDER: readonly RuleEffect[] = ["floor", "raise", "lower", "ceiling", "context"];

/** Score bands: each level owns 20 points; within a band, more and stronger evidence scores higher. */
const BAND_START: Record<Severity, number> = { info: 0, low: 20, medium: 40, high: 60, critical: 80 };

/** A loop rather than reduce() with a callback: this runs for every write. */
function scoreWithinBand(severity: Severity, fired: Fired[]): number {
  let evidence = 0;
  for (const { rule, hits } of fired) {
    if (rule.effect === "floor") evidence += severityRank(rule.level) * hitCount(hits);
    else if (rule.effect === "raise") evidence += 2;
  }
  const width = severity === "critical" ? 20 : 19;
  return BAND_START[severity] + Math.min(width, evidence);
}

function decisive(reason: Reason): number {
  return reason.effect === "ceiling" ? 1 : 0;
}

/**
 * The headline comes first: an outcome ceiling when it decided the level (the write did not take effect), then
 * the strongest evidence. A module-level comparator: a closure made per write costs an allocation each time.
 */
function headlineFirst(a: Reason, b: Reason): number {
  return decisive(b) - decisive(a) || severityRank(b.severity) - severityRank(a.severity);
}

/**
 * A stable insertion sort: a write has a handful of reasons, and Array#sort allocated a work array for each
 * write (~2% of a filtered pass's allocations, npm run bench).
 */
function sortInPlace<T>(items: T[], compare: (a: T, b: T) => number): void {
  for (let i = 1; i < items.length; i++) {
    const item = items[i] as T;
    let j = i - 1;
    while (j >= 0 && compare(items[j] as T, item) > 0) {
      items[j + 1] = items[j] as T;
      j--;
    }
    items[j + 1] = item;
  }
}

/**
 * Applies the rules table in a fixed order: floors, raises, lowers, then ceilings last so that no amount of
 * evidence makes a write that did not take effect high or critical.
 */
export function scoreWrite(
  facts: WriteFacts,
  config: DetectionConfig,
  rules: readonly Rule[] = RULES,
): Scored {
  // Plain loops rather than map/filter chains: this runs for every rule on every write (npm run bench).
  const fired: Fired[] = [];
  // The configured overrides (rules switched off or re-levelled): `rules` itself when there are none.
  for (const rule of tunedRules(rules, config.rules)) {
    const hits = rule.evaluate(facts, config);
    if (hits.length > 0) fired.push({ rule, hits });
  }
  const reasons: Reason[] = [];
  let level: Severity = "low";
  let pinnedFloor: Severity = "info";
  for (const effect of EFFECT_ORDER) {
    for (const { rule, hits } of fired) {
      if (rule.effect !== effect) continue;
      let severity: Severity;
      switch (effect) {
        case "floor":
          level = maxSeverity(level, rule.level);
          if (rule.pinned) pinnedFloor = maxSeverity(pinnedFloor, rule.level);
          severity = rule.level;
          break;
        case "raise":
          level = shiftSeverity(level, 1);
          severity = level;
          break;
        case "lower":
          level = maxSeverity(maxSeverity(shiftSeverity(level, -1), "low"), pinnedFloor);
          severity = level;
          break;
        case "ceiling":
          level = minSeverity(level, rule.level);
          severity = rule.level;
          break;
        case "context":
          severity = "info";
          break;
      }
      for (const hit of hits) reasons.push({ id: rule.id, severity, effect, text: hit.text });
    }
  }

  // Made only when some container is risky: most writes have none to list. Bounded by the listed hits.
  let risk: Map<string, ContainerRisk> | undefined;
  let unlistedReasons = 0;
  for (const { rule, hits } of fired) {
    for (const hit of hits) {
      if (hit.unlisted !== undefined) unlistedReasons += hit.unlisted;
      if (rule.effect === "context" || !hit.container) continue;
      risk ??= new Map();
      let entry = risk.get(hit.container);
      if (entry === undefined) {
        entry = { fields: [], level: rule.level };
        risk.set(hit.container, entry);
      } else entry.level = maxSeverity(entry.level, rule.level);
      if (hit.field && !entry.fields.includes(hit.field)) entry.fields.push(hit.field);
    }
  }
  sortInPlace(reasons, headlineFirst);
  return {
    severity: level,
    score: scoreWithinBand(level, fired),
    reasons,
    risk: risk ?? NO_RISK,
    unlistedReasons,
  };
}
