import * as z from "zod";
import type { Finding } from "./finding.ts";
import { type Outcome, OutcomeSchema } from "./outcome.ts";
import { SEVERITIES, type Severity, SeveritySchema, severityRank } from "./severity.ts";

/**
 * Storm control: whoever can write ephemeral containers can make thousands of findings a minute, and a
 * thousand alerts hide the one that matters. Per cluster and fixed time window, the first `budget` findings
 * are alerted one by one; the ones past it are storm members. Members still reach the topic (SIEMs, remediate
 * see everything) but page nobody: the pager gets one storm notice per window instead, and Slack rolls the
 * non-critical members into one digest per window (critical ones still post on their own).
 *
 * This module is the pure part: windows, which findings a budget covers, the notice published on the topic,
 * and the digest summary.
 */

export const STORM_SCHEMA_VERSION = 1 as const;

/** Defaults of the `stormBudget` and `stormWindowMinutes` deploy parameters. */
export const DEFAULT_STORM_BUDGET = 20;
export const DEFAULT_STORM_WINDOW_MINUTES = 5;

/** A fixed window, aligned to the clock (12:00, 12:05, …) so that every invocation agrees on it. */
export interface StormWindow {
  /** Epoch milliseconds, inclusive. */
  start: number;
  /** Epoch milliseconds, exclusive. */
  end: number;
}

export function stormWindow(atMs: number, windowMinutes: number): StormWindow {
  const length = windowMinutes * 60_000;
  const start = Math.floor(atMs / length) * length;
  return { start, end: start + length };
}

/** ISO 8601 with milliseconds (always 24 characters for these years), so that keys sort by time. */
export function windowStartText(window: StormWindow): string {
  return new Date(window.start).toISOString();
}

/**
 * Published once per (cluster, window) on the alerts topic (`messageType = storm`) when the cluster's findings
 * go past the budget: the pager's one page for the window, and Slack's "storm started" message.
 */
export const StormNoticeSchema = z.object({
  schemaVersion: z.literal(STORM_SCHEMA_VERSION),
  kind: z.literal("storm"),
  cluster: z.string(),
  windowStart: z.iso.datetime(),
  windowEnd: z.iso.datetime(),
  budget: z.number().int().min(1),
  windowMinutes: z.number().int().min(1),
  /** The cluster's count for the window after the batch that went past the budget. */
  count: z.number().int().min(0),
});
export type StormNotice = z.infer<typeof StormNoticeSchema>;

export function stormNotice(
  cluster: string,
  window: StormWindow,
  budget: number,
  windowMinutes: number,
  count: number,
): StormNotice {
  return {
    schemaVersion: STORM_SCHEMA_VERSION,
    kind: "storm",
    cluster,
    windowStart: new Date(window.start).toISOString(),
    windowEnd: new Date(window.end).toISOString(),
    budget,
    windowMinutes,
    count,
  };
}

export interface BudgetSplit<T> {
  /** Alerted one by one. */
  within: T[];
  /** Past the budget: storm members. */
  members: T[];
}

/**
 * Splits one cluster's findings of one batch, given how many the window had already counted. The budget
 * left goes to the most severe findings of the batch first (stable within a severity), so that a batch that
 * crosses the budget still pages individually for its worst findings rather than for whichever came first.
 */
export function splitByBudget<T extends { severity: Severity }>(
  findings: readonly T[],
  countedBefore: number,
  budget: number,
): BudgetSplit<T> {
  const left = Math.max(0, budget - countedBefore);
  if (left >= findings.length) return { within: [...findings], members: [] };
  const ranked = findings
    .map((finding, index) => ({ finding, index }))
    .sort((a, b) => severityRank(b.finding.severity) - severityRank(a.finding.severity) || a.index - b.index);
  const withinIndexes = new Set(ranked.slice(0, left).map((entry) => entry.index));
  const split: BudgetSplit<T> = { within: [], members: [] };
  findings.forEach((finding, index) => {
    (withinIndexes.has(index) ? split.within : split.members).push(finding);
  });
  return split;
}

/**
 * What notify-slack keeps of a storm member for the digest: enough to count and to name top actors and pods.
 * Strings are cut so that one attacker-sized name cannot make an item (or the digest read) large.
 */
export const MAX_MEMBER_TEXT = 256;

export const StormMemberSchema = z.object({
  auditID: z.string(),
  severity: SeveritySchema,
  outcome: OutcomeSchema,
  actor: z.string(),
  pod: z.string(),
  time: z.string(),
  logGroup: z.string().optional(),
  /** Critical members are posted on their own; they are counted here so the digest shows the whole storm. */
  postedAlone: z.boolean(),
});
export type StormMember = z.infer<typeof StormMemberSchema>;

function cut(text: string): string {
  return text.length > MAX_MEMBER_TEXT ? `${text.slice(0, MAX_MEMBER_TEXT - 1)}…` : text;
}

export function stormMember(finding: Finding, postedAlone: boolean): StormMember {
  return {
    auditID: cut(finding.auditID),
    severity: finding.severity,
    outcome: finding.outcome,
    actor: cut(finding.actor.username),
    pod: cut(`${finding.pod.namespace}/${finding.pod.name}`),
    time: cut(finding.time),
    ...(finding.logGroup ? { logGroup: cut(finding.logGroup) } : {}),
    postedAlone,
  };
}

/** Critical findings are never held back: they post on their own even inside a storm. */
export function postsAloneInStorm(severity: Severity): boolean {
  return severity === "critical";
}

export interface Ranked {
  name: string;
  count: number;
}

export interface StormDigest {
  cluster: string;
  window: StormWindow;
  /** Members held back for this digest (not posted on their own). */
  held: number;
  heldBySeverity: Record<Severity, number>;
  /** Members posted on their own (critical). */
  postedAlone: number;
  byOutcome: Record<Outcome, number>;
  /** Over every member of the window, most frequent first. */
  topActors: Ranked[];
  topPods: Ranked[];
  /** Earliest and latest audit event time among the members (ISO), when any parsed. */
  firstEventAt?: string;
  lastEventAt?: string;
  /** A log group the members came from, for the Logs Insights link. */
  logGroup?: string;
  /** False when reading stopped at its limit: the counts are lower bounds. */
  complete: boolean;
}

export const DIGEST_TOP = 5;

function rank(counts: Map<string, number>, top: number): Ranked[] {
  return [...counts.entries()]
    .map(([name, count]) => ({ name, count }))
    .sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .slice(0, top);
}

function zeroBy<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
}

export function summarizeStorm(
  cluster: string,
  window: StormWindow,
  members: readonly StormMember[],
  complete: boolean,
  top = DIGEST_TOP,
): StormDigest {
  const heldBySeverity = zeroBy(SEVERITIES);
  const byOutcome = zeroBy(OutcomeSchema.options);
  const actors = new Map<string, number>();
  const pods = new Map<string, number>();
  let held = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let logGroup: string | undefined;
  for (const member of members) {
    // Only held members are split by severity; members posted alone were seen one by one.
    if (!member.postedAlone) {
      held++;
      heldBySeverity[member.severity]++;
    }
    byOutcome[member.outcome]++;
    actors.set(member.actor, (actors.get(member.actor) ?? 0) + 1);
    pods.set(member.pod, (pods.get(member.pod) ?? 0) + 1);
    const at = Date.parse(member.time);
    if (!Number.isNaN(at)) {
      first = Math.min(first, at);
      last = Math.max(last, at);
    }
    logGroup ??= member.logGroup;
  }
  return {
    cluster,
    window,
    held,
    heldBySeverity,
    postedAlone: members.length - held,
    byOutcome,
    topActors: rank(actors, top),
    topPods: rank(pods, top),
    ...(Number.isFinite(first) ? { firstEventAt: new Date(first).toISOString() } : {}),
    ...(Number.isFinite(last) ? { lastEventAt: new Date(last).toISOString() } : {}),
    ...(logGroup ? { logGroup } : {}),
    complete,
  };
}

/**
 * The time range that lists every finding of the digest: from the earliest member event (or the window
 * start) to the window end, whole minutes. Audit events reach detect a little after they happen, so members
 * of a window can be older than the window itself.
 */
export function digestRange(digest: StormDigest): { start: string; end: string } {
  const earliest = digest.firstEventAt ? Date.parse(digest.firstEventAt) : digest.window.start;
  const latest = digest.lastEventAt ? Date.parse(digest.lastEventAt) : digest.window.end;
  const minute = 60_000;
  const start = Math.floor(Math.min(earliest, digest.window.start) / minute) * minute;
  const end = Math.ceil(Math.max(latest, digest.window.end) / minute) * minute;
  return { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
}
