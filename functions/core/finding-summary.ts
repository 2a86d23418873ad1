import type { Finding } from "./finding.ts";
import type { Outcome } from "./outcome.ts";

/** What happened, as a heading; Slack words it the same way. */
const OUTCOME_HEADLINE: Record<Outcome, string> = {
  created: "Ephemeral container added to a pod",
  forbidden: "Ephemeral container attempt forbidden",
  denied: "Ephemeral container attempt denied",
  failed: "Ephemeral container attempt failed",
};

/** Cuts `text` to `max` characters, marking the cut, so a padded field costs only its own tail. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/**
 * `parts` joined with `separator`, cut to `max` characters. Stops reading parts once past `max`: a finding
 * with hundreds of megabyte-long parts must not build a string of their total length (V8 gives up at ~512 MB).
 * Callers cut the pieces of a part before joining them into it: slicing a concatenation of a long string
 * copies all of it first (a padded finding took seconds that way).
 */
export function joinWithin(parts: Iterable<string>, separator: string, max: number): string {
  let out = "";
  let first = true;
  for (const part of parts) {
    out += `${first ? "" : separator}${truncate(part, max + 1)}`;
    first = false;
    if (out.length > max) break;
  }
  return truncate(out, max);
}

/** One line for a finding list: what, where, who. Attacker-chosen parts are cut so the title stays a title. */
export function findingTitle(finding: Finding, max = 256): string {
  const where = `${truncate(finding.pod.namespace, 63)}/${truncate(finding.pod.name, 100)}`;
  const cluster = finding.cluster ? ` on ${truncate(finding.cluster, 100)}` : "";
  const actor = truncate(finding.actor.username || "(no username)", 100);
  return truncate(`${OUTCOME_HEADLINE[finding.outcome]}: ${where}${cluster} by ${actor}`, max);
}

/**
 * Severity and outcome, then the reasons in the scorer's order, one per line with its rule id, cut to `max`
 * characters in total (Security Hub takes 1,024).
 */
export function findingDescription(finding: Finding, max: number): string {
  function* lines(): Generator<string> {
    yield `${finding.severity.toUpperCase()} (score ${finding.score}), ${finding.outcome}.`;
    for (const reason of finding.reasons) {
      yield `[${reason.severity}] ${truncate(reason.text, max)} (${truncate(reason.id, max)})`;
    }
  }
  return joinWithin(lines(), "\n", max);
}
