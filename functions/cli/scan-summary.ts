import type { DetectionStats } from "../core/detector.ts";
import type { InputProblem } from "../core/log-record.ts";
import { SEVERITIES } from "../core/severity.ts";
import { inert } from "./format-finding-text.ts";
import { count } from "./plural.ts";

/** The closing summary on stderr, shared by scan and hunt: what was read, found, shown, skipped and refused. */
export function formatStats(stats: DetectionStats, shown: number): string {
  const bySeverity = [...SEVERITIES]
    .reverse()
    .filter((level) => stats.findingsBySeverity[level] > 0)
    .map((level) => `${stats.findingsBySeverity[level]} ${level}`)
    .join(", ");
  const skipped = Object.entries(stats.skipped)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${n} ${reason}`)
    .join(", ");
  return [
    `ephemeral-guard: ${count(stats.records, "audit record")} read, ${count(stats.findings, "finding")}${bySeverity ? ` (${bySeverity})` : ""}, ${shown} shown`,
    `ephemeral-guard: skipped: ${skipped || "none"}${stats.controlMessages > 0 ? `; ${count(stats.controlMessages, "CloudWatch control message")}` : ""}`,
    `ephemeral-guard: ${count(stats.problems, "input problem")}`,
  ].join("\n");
}

export function formatProblem(problem: InputProblem): string {
  return `ephemeral-guard: ${inert(problem.position)}: ${problem.kind}: ${inert(problem.message)}`;
}
