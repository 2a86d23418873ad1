import { open, readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { FilterCursorSchema } from "../adapters/aws/cloudwatch-logs-history.ts";
import { INSIGHTS_MAX_LOG_GROUPS, InsightsCursorSchema } from "../adapters/aws/cloudwatch-logs-insights.ts";
import { errorMessage } from "../core/decode-cloudwatch.ts";
import { ConfigError } from "./load-scan-config.ts";

/**
 * Where a hunt stands, in a file, so that an interrupted hunt continues without repeating or losing findings.
 * It holds the search (engine, range, log groups, filter pattern) and, for each unit of work (a log group for
 * the filter engine, up to 50 for Insights), how far it was read. It is written whole to a temporary file
 * that then replaces the old one, so a crash mid-write leaves the previous state, never half of one.
 */

const TargetSchema = z.object({
  logGroups: z.array(z.string().min(1)).min(1).max(INSIGHTS_MAX_LOG_GROUPS),
  done: z.boolean(),
  filter: FilterCursorSchema.optional(),
  insights: InsightsCursorSchema.optional(),
});
export type HuntTarget = z.infer<typeof TargetSchema>;

export const HuntStateSchema = z
  .object({
    version: z.literal(1),
    engine: z.enum(["filter", "insights"]),
    region: z.string().optional(),
    startMs: z.number().int().nonnegative(),
    endMs: z.number().int().positive(),
    filterPattern: z.string(),
    clusters: z.array(z.string()),
    targets: z.array(TargetSchema),
    /** Log groups that could not be read (missing, gone, forbidden), with why: reported by every run. */
    notRead: z.array(z.string()).default([]),
  })
  .refine((state) => state.startMs < state.endMs, "startMs must be before endMs");
export type HuntState = z.infer<typeof HuntStateSchema>;

/** The state in `path`, or undefined when there is no such file. A file that is not a hunt state is refused. */
export async function readHuntState(path: string): Promise<HuntState | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return undefined;
    throw new ConfigError(`${path}: ${errorMessage(error)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path}: not a hunt resume file: ${errorMessage(error)}`);
  }
  const parsed = HuntStateSchema.safeParse(value);
  if (!parsed.success)
    throw new ConfigError(`${path}: not a hunt resume file: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** Replaces `path` with `state` atomically (same directory, then rename). */
export async function writeHuntState(path: string, state: HuntState): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(temporary, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * A new file for the state of a hunt that was stopped without --resume: `hunt-<start>.resume.json` in `dir`,
 * never overwriting one that exists.
 */
export async function createResumeFile(dir: string, startedAt: number, state: HuntState): Promise<string> {
  const stamp = new Date(startedAt)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  for (let attempt = 1; attempt < 100; attempt++) {
    const path = join(dir, `hunt-${stamp}${attempt === 1 ? "" : `-${attempt}`}.resume.json`);
    try {
      const handle = await open(path, "wx", 0o600);
      await handle.close();
    } catch (error) {
      if ((error as { code?: unknown }).code === "EEXIST") continue;
      throw error;
    }
    await writeHuntState(path, state);
    return path;
  }
  throw new Error(`no free resume file name in ${dir}`);
}

/** The share of the hunt's time range read so far, over all targets, in [0, 1]. */
export function coveredShare(state: HuntState, coveredUntil: ReadonlyMap<HuntTarget, number>): number {
  const span = state.endMs - state.startMs;
  if (state.targets.length === 0) return 1;
  let covered = 0;
  for (const target of state.targets) {
    if (target.done) {
      covered += span;
      continue;
    }
    const until = coveredUntil.get(target) ?? target.filter?.from ?? target.insights?.from ?? state.startMs;
    covered += Math.min(span, Math.max(0, until - state.startMs));
  }
  return covered / (span * state.targets.length);
}
