import type { RuleHit } from "./rules.ts";

/**
 * How many hits of one rule a finding lists. Whoever writes ephemeral containers chooses how many there are:
 * a few hundred privileged containers made a finding larger than an SNS message, and 100,000 made a reason
 * object per container per rule. A rule evaluates every container (the level is decided over all of them)
 * but lists only the first ones; one more hit stands for the rest and says how many there were.
 */
export const MAX_LISTED_HITS_PER_RULE = 10;

/** Thousands separators, fixed rather than locale-dependent, so the text is the same everywhere. */
export function formatCount(count: number): string {
  return String(count).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * `hits` as listed (at most MAX_LISTED_HITS_PER_RULE), plus one hit standing for the `unlisted` others of
 * the same rule. `what` names what they were ("containers", "mounts").
 */
export function withUnlisted(hits: RuleHit[], unlisted: number, what: string): RuleHit[] {
  if (unlisted > 0) {
    hits.push({
      text: `and ${formatCount(unlisted)} more ${what} the same way (not listed: a finding lists the first ${MAX_LISTED_HITS_PER_RULE} per rule)`,
      unlisted,
    });
  }
  return hits;
}

/**
 * `values` quoted and joined, the first `max` of them, then how many more: `"a", "b" and 3 more`. Reads only
 * the first `max` values: a write's list of containers is the attacker's to make as long as they like, and
 * this runs on every write (no array of all the names is made first).
 */
export function quotedList<T>(values: readonly T[], max: number, quote: (value: T) => string): string {
  const shown = Math.min(values.length, max);
  let text = "";
  for (let i = 0; i < shown; i++) {
    const quoted = quote(values[i] as T);
    text = i === 0 ? quoted : `${text}, ${quoted}`;
  }
  return values.length > max ? `${text} and ${formatCount(values.length - max)} more` : text;
}
