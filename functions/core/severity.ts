import * as z from "zod";

/** Ordered from least to most severe; the index is the rank. */
export const SEVERITIES = ["info", "low", "medium", "high", "critical"] as const;
export const SeveritySchema = z.enum(SEVERITIES);
export type Severity = z.infer<typeof SeveritySchema>;

export function severityRank(level: Severity): number {
  return SEVERITIES.indexOf(level);
}

function atRank(rank: number): Severity {
  const clamped = Math.max(0, Math.min(SEVERITIES.length - 1, rank));
  return SEVERITIES[clamped] ?? "info";
}

export function maxSeverity(a: Severity, b: Severity): Severity {
  return severityRank(a) >= severityRank(b) ? a : b;
}

export function minSeverity(a: Severity, b: Severity): Severity {
  return severityRank(a) <= severityRank(b) ? a : b;
}

/** Moves `level` by `steps` (negative lowers), staying within info..critical. */
export function shiftSeverity(level: Severity, steps: number): Severity {
  return atRank(severityRank(level) + steps);
}

export function isAtLeast(level: Severity, threshold: Severity): boolean {
  return severityRank(level) >= severityRank(threshold);
}
