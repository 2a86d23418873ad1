import type { Writable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import {
  type FilterCursor,
  type HistoryPage,
  readFilteredHistory,
} from "../adapters/aws/cloudwatch-logs-history.ts";
import {
  INSIGHTS_MAX_LOG_GROUPS,
  type InsightsCursor,
  InsightsQueryError,
  readInsightsHistory,
} from "../adapters/aws/cloudwatch-logs-insights.ts";
import { clusterLogGroup, existingLogGroups } from "../adapters/aws/cloudwatch-logs-log-groups.ts";
import {
  backoffDelay,
  DEFAULT_RETRY,
  LogsCallError,
  type RetryPolicy,
  type Sleep,
} from "../adapters/aws/cloudwatch-logs-retry.ts";
import { SUBSCRIPTION_FILTER_PATTERN } from "../adapters/aws/subscription-filter.ts";
import type { FindingSink } from "../adapters/lambda/detect-invocation.ts";
import { errorMessage } from "../core/decode-cloudwatch.ts";
import type { DetectionConfig } from "../core/detection-config.ts";
import { type DetectionStats, Detector } from "../core/detector.ts";
import type { Finding } from "../core/finding.ts";
import { SKIP_REASONS, type SkipReason } from "../core/select-write.ts";
import { SEVERITIES, type Severity } from "../core/severity.ts";
import { synopsis, UsageError } from "./command-options.ts";
import { EXIT } from "./exit-codes.ts";
import { FindingOutput } from "./finding-output.ts";
import { inert } from "./format-finding-text.ts";
import { HuntProgress } from "./hunt-progress.ts";
import type { PublishTarget } from "./hunt-publish.ts";
import {
  coveredShare,
  createResumeFile,
  type HuntState,
  type HuntTarget,
  readHuntState,
  writeHuntState,
} from "./hunt-state.ts";
import { ConfigError, loadScanConfig } from "./load-scan-config.ts";
import { describesSearch, HUNT_USAGE, type HuntOptions, parseHuntArgs } from "./parse-hunt-args.ts";
import { count } from "./plural.ts";
import { formatProblem, formatStats } from "./scan-summary.ts";

const EXIT_OK = EXIT.ok;
const EXIT_USAGE = EXIT.usage;
const EXIT_UNREADABLE_INPUT = EXIT.incomplete;
/** Stopped by Ctrl-C (128 + SIGINT, as shells report it). */
export const EXIT_INTERRUPTED = EXIT.interrupted;

export interface HuntIo {
  stdout: Writable;
  stderr: Writable;
  /** Colour the text output (stdout is a terminal, or FORCE_COLOR; never with NO_COLOR). */
  colour: boolean;
  /** Draw progress on stderr (stderr is a terminal). */
  progress: boolean;
  /** stderr's width, for the progress line. */
  columns?: number;
  /** Aborted on Ctrl-C: the hunt stops cleanly and says how to resume. */
  signal?: AbortSignal;
  /** For --publish: ALERTS_TOPIC_ARN, IDEMPOTENCY_TABLE, … (AWS clients read their own chain). */
  env: Record<string, string | undefined>;
  /** Where the resume file of a hunt stopped without --resume is created. */
  cwd: string;
}

export interface HuntDeps {
  now: () => number;
  sleep: Sleep;
  random: () => number;
  /** Insights queries running at once ("a few": the account's concurrency quota is shared). */
  inFlight: number;
  pollMs: { first: number; max: number };
  retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
  /** Least time between writes of the resume file while the hunt runs. */
  saveEveryMs: number;
}

export const DEFAULT_HUNT_DEPS: HuntDeps = {
  now: Date.now,
  sleep: (ms, signal) => delay(ms, undefined, signal ? { signal } : {}),
  random: Math.random,
  inFlight: 4,
  pollMs: { first: 1_000, max: 5_000 },
  retry: DEFAULT_RETRY,
  saveEveryMs: 1_000,
};

const DEFAULT_SINCE_MS = 86_400_000;
const PUBLISH_ATTEMPTS = 4;
/** The SDK's own retries are off: the hunt's backoff (cloudwatch-logs-retry.ts) is the only one. */
const LOGS_CLIENT_CONFIG = {
  maxAttempts: 1,
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 30_000 },
} as const;

/** A reason to stop the whole hunt early, keeping where it stands for a resume. */
class HuntStopped extends Error {
  override name = "HuntStopped";
}

/** A log group that cannot be read at all (gone, or not ours to read): reported, and the hunt goes on. */
function isTargetFailure(error: unknown): boolean {
  return (
    error instanceof LogsCallError &&
    ["ResourceNotFoundException", "AccessDeniedException", "UnrecognizedClientException"].includes(error.code)
  );
}

function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

interface Counters {
  eventsRead: number;
  pages: number;
  retries: number;
  published: number;
  alreadyPublished: number;
}

/** The stats of several detectors as one. */
function sumStats(all: readonly DetectionStats[]): DetectionStats {
  const total: DetectionStats = {
    records: 0,
    findings: 0,
    findingsBySeverity: Object.fromEntries(SEVERITIES.map((level) => [level, 0])) as Record<Severity, number>,
    skipped: Object.fromEntries(SKIP_REASONS.map((reason) => [reason, 0])) as Record<SkipReason, number>,
    controlMessages: 0,
    problems: 0,
  };
  for (const stats of all) {
    total.records += stats.records;
    total.findings += stats.findings;
    total.controlMessages += stats.controlMessages;
    total.problems += stats.problems;
    for (const level of SEVERITIES) total.findingsBySeverity[level] += stats.findingsBySeverity[level];
    for (const reason of SKIP_REASONS) total.skipped[reason] += stats.skipped[reason];
  }
  return total;
}

function huntSummary(state: HuntState, counters: Counters, publishing: boolean): string {
  const groups = state.targets.reduce((sum, target) => sum + target.logGroups.length, 0);
  const lines = [
    `ephemeral-guard: hunted ${count(groups, "log group")} (${state.engine} engine) ` +
      `from ${new Date(state.startMs).toISOString()} to ${new Date(state.endMs).toISOString()}: ` +
      `${count(counters.eventsRead, "event")} read in ${state.engine === "filter" ? count(counters.pages, "page") : count(counters.pages, "query range")}, ` +
      `${count(counters.retries, "call")} retried`,
  ];
  if (publishing) {
    lines.push(
      `ephemeral-guard: published ${count(counters.published, "finding")}; ${counters.alreadyPublished} had been published already`,
    );
  }
  if (state.notRead.length > 0) {
    lines.push(`ephemeral-guard: not read: ${state.notRead.map(inert).join("; ")}`);
  }
  return lines.join("\n");
}

/** The `hunt` command. Returns the exit status; reports bad input and AWS failures instead of throwing. */
export async function runHunt(
  argv: readonly string[],
  io: HuntIo,
  overrides: Partial<HuntDeps> = {},
): Promise<number> {
  const deps: HuntDeps = { ...DEFAULT_HUNT_DEPS, ...overrides };
  let options: HuntOptions;
  try {
    options = parseHuntArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(
      `ephemeral-guard hunt: ${error.message}\n${synopsis(HUNT_USAGE)}\n(ephemeral-guard help hunt)\n`,
    );
    return EXIT_USAGE;
  }
  if (options.help) {
    io.stdout.write(`${HUNT_USAGE}\n`);
    return EXIT_OK;
  }
  const progress = new HuntProgress((text) => io.stderr.write(text), io.progress, deps.now, io.columns);
  const say = (line: string) => {
    progress.clear();
    io.stderr.write(`${line}\n`);
  };

  let config: DetectionConfig;
  let loaded: HuntState | undefined;
  try {
    config = await loadScanConfig(options.config, undefined);
    loaded = options.resume === undefined ? undefined : await readHuntState(options.resume);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    say(`ephemeral-guard: configuration: ${error.message}`);
    return EXIT_USAGE;
  }
  if (loaded) {
    const ignored = describesSearch(argv);
    say(
      `ephemeral-guard: resuming ${inert(options.resume ?? "")}${
        ignored.length > 0 ? ` (the search comes from it: ${ignored.join(", ")} ignored)` : ""
      }`,
    );
  }

  const logs = new CloudWatchLogsClient({
    ...LOGS_CLIENT_CONFIG,
    ...((loaded?.region ?? options.region) ? { region: loaded?.region ?? options.region } : {}),
  });
  let publishTarget: PublishTarget | undefined;
  try {
    // Resolved once (flag, environment or profile) and kept in the resume file, so a resume searches the same.
    let region: string;
    try {
      region = await logs.config.region();
    } catch {
      say("ephemeral-guard: no AWS region: pass --region or set AWS_REGION (or a profile's region)");
      return EXIT_USAGE;
    }
    if (options.publish) {
      try {
        // Loaded only when asked for: the SNS, DynamoDB and Powertools modules are most of a cold start.
        const { publishTargetFromEnvironment } = await import("./hunt-publish.ts");
        publishTarget = publishTargetFromEnvironment(io.env, region);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        say(`ephemeral-guard: configuration: ${error.message}`);
        return EXIT_USAGE;
      }
    }
    return await hunt({ options, io, deps, config, loaded, region, logs, publishTarget, progress, say });
  } finally {
    logs.destroy();
    publishTarget?.destroy();
  }
}

interface HuntContext {
  options: HuntOptions;
  io: HuntIo;
  deps: HuntDeps;
  config: DetectionConfig;
  loaded: HuntState | undefined;
  region: string;
  logs: CloudWatchLogsClient;
  publishTarget: PublishTarget | undefined;
  progress: HuntProgress;
  say: (line: string) => void;
}

async function hunt(context: HuntContext): Promise<number> {
  const { options, io, deps, logs, progress, say } = context;
  const counters: Counters = {
    eventsRead: 0,
    pages: 0,
    retries: 0,
    published: 0,
    alreadyPublished: 0,
  };
  const retry: RetryPolicy = {
    ...deps.retry,
    sleep: deps.sleep,
    random: deps.random,
    ...(io.signal ? { signal: io.signal } : {}),
    onRetry: (event) => {
      counters.retries++;
      progress.remark(
        `${event.operation}: ${inert(event.error).slice(0, 80)}, retrying in ${Math.ceil(event.delayMs / 1000)}s`,
      );
    },
  };

  let state: HuntState;
  if (context.loaded) {
    state = context.loaded;
  } else {
    const endMs = options.endMs ?? deps.now();
    const startMs = options.startMs ?? endMs - (options.sinceMs ?? DEFAULT_SINCE_MS);
    if (startMs >= endMs) {
      say(
        `ephemeral-guard: the range is empty: ${new Date(startMs).toISOString()} is not before ${new Date(endMs).toISOString()}`,
      );
      return EXIT_USAGE;
    }
    let planned: HuntState | number;
    try {
      planned = await planSearch(context, retry, startMs, endMs);
    } catch (error) {
      if (!io.signal?.aborted) throw error;
      say("ephemeral-guard: interrupted before the hunt started; nothing was read");
      return EXIT_INTERRUPTED;
    }
    if (typeof planned === "number") return planned;
    state = planned;
    if (options.resume !== undefined) await writeHuntState(options.resume, state);
  }

  // One Detector per log group: its duplicate check is by auditID, which is unique only within a cluster (and
  // is what the idempotency key pairs with the cluster), so one cluster's event must never hide another's.
  const detectors = new Map<string, Detector>();
  const detectorFor = (logGroup: string | undefined): Detector => {
    const key = logGroup ?? "";
    let detector = detectors.get(key);
    if (!detector) {
      detector = new Detector(context.config, (problem) => say(formatProblem(problem)));
      detectors.set(key, detector);
    }
    return detector;
  };
  const stats = () => sumStats([...detectors.values()].map((detector) => detector.stats));
  // Printed as found, never held back to sort: a hunt runs for hours, and what it printed is what the
  // resume file has moved past.
  const output = new FindingOutput({
    format: options.format,
    sort: "input",
    minSeverity: options.minSeverity,
    colour: io.colour,
    stdout: io.stdout,
    report: say,
  });
  const print = (finding: Finding) => output.print(finding);
  const coveredUntil = new Map<HuntTarget, number>();
  const snapshot = () => ({
    share: coveredShare(state, coveredUntil),
    eventsRead: counters.eventsRead,
    findingsBySeverity: stats().findingsBySeverity,
  });
  let lastSaved = deps.now();
  const save = async (force: boolean) => {
    if (options.resume === undefined) return;
    if (!force && deps.now() - lastSaved < deps.saveEveryMs) return;
    lastSaved = deps.now();
    await writeHuntState(options.resume, state);
  };
  const publish = async (findings: readonly Finding[]) => {
    const sink: FindingSink | undefined = context.publishTarget?.sink;
    if (!sink || findings.length === 0) return;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await sink(findings);
        counters.published += result.published.length;
        counters.alreadyPublished += result.duplicates.length;
        return;
      } catch (error) {
        if (attempt >= PUBLISH_ATTEMPTS) {
          throw new HuntStopped(`publishing failed ${attempt} times: ${errorMessage(error)}`, {
            cause: error,
          });
        }
        const delayMs = backoffDelay(attempt, retry);
        retry.onRetry?.({ operation: "publish", error: errorMessage(error), attempt, delayMs });
        await deps.sleep(delayMs, io.signal);
      }
    }
  };

  /**
   * Each page: detect, publish (before anything is printed, so a page whose findings could not be published
   * is read again by the resume), print, then move the target's cursor past it.
   */
  async function consume<C>(
    target: HuntTarget,
    pages: AsyncGenerator<HistoryPage<C>>,
    keep: (cursor: C) => void,
  ) {
    for await (const page of pages) {
      const findings: Finding[] = [];
      for (const record of page.records) {
        const finding = detectorFor(record.logGroup).process(record);
        if (finding) findings.push(finding);
      }
      await publish(findings);
      for (const finding of findings) print(finding);
      keep(page.cursor);
      coveredUntil.set(target, page.coveredUntil);
      counters.eventsRead += page.eventsRead;
      counters.pages++;
      await save(false);
      progress.update(snapshot());
      if (io.signal?.aborted) throw new HuntStopped("interrupted");
    }
  }

  let stopped: string | undefined;
  try {
    for (const target of state.targets) {
      if (target.done) continue;
      if (io.signal?.aborted) throw new HuntStopped("interrupted");
      try {
        if (state.engine === "filter") {
          const pages = readFilteredHistory(
            logs,
            {
              logGroup: target.logGroups[0] as string,
              startMs: state.startMs,
              endMs: state.endMs,
              filterPattern: state.filterPattern,
              ...(target.filter ? { cursor: target.filter } : {}),
              onNote: (note) => say(`ephemeral-guard: ${inert(note)}`),
            },
            retry,
          );
          await consume<FilterCursor>(target, pages, (cursor) => {
            target.filter = cursor;
          });
        } else {
          const pages = readInsightsHistory(
            logs,
            {
              logGroups: target.logGroups,
              startMs: state.startMs,
              endMs: state.endMs,
              ...(target.insights ? { cursor: target.insights } : {}),
              inFlight: deps.inFlight,
              pollMs: deps.pollMs,
              filterPattern: state.filterPattern,
              onNote: (note) => say(`ephemeral-guard: ${inert(note)}`),
            },
            retry,
          );
          await consume<InsightsCursor>(target, pages, (cursor) => {
            target.insights = cursor;
          });
        }
      } catch (error) {
        if (io.signal?.aborted || !isTargetFailure(error)) throw error;
        // Gone or forbidden: this target cannot be read now, the others still can.
        const what = `${target.logGroups.join(", ")}: ${errorMessage(error)}`;
        state.notRead.push(what);
        say(`ephemeral-guard: cannot read ${inert(what)}`);
      }
      target.done = true;
      await save(true);
    }
  } catch (error) {
    if (io.signal?.aborted) stopped = "interrupted";
    else if (
      error instanceof HuntStopped ||
      error instanceof LogsCallError ||
      error instanceof InsightsQueryError
    ) {
      stopped = `stopped: ${error.message}`;
    } else throw error;
  }

  progress.clear();
  let resumeFrom: string | undefined;
  if (stopped !== undefined) {
    resumeFrom = options.resume ?? (await createResumeFile(io.cwd, deps.now(), state));
    if (options.resume !== undefined) await writeHuntState(options.resume, state);
  } else {
    await save(true);
  }
  const totals = stats();
  const lines = [
    huntSummary(state, counters, context.publishTarget !== undefined),
    formatStats(totals, output.shown),
  ];
  if (output.unprintable > 0) {
    lines.push(`ephemeral-guard: ${count(output.unprintable, "finding")} could not be printed`);
  }
  if (stopped !== undefined && resumeFrom !== undefined) {
    lines.push(
      `ephemeral-guard: ${stopped} at ${(coveredShare(state, coveredUntil) * 100).toFixed(1)}% of the range; ` +
        `resume with: ephemeral-guard hunt --resume ${shellQuote(resumeFrom)}`,
    );
  }
  io.stderr.write(`${lines.join("\n")}\n`);
  if (stopped === "interrupted") return EXIT_INTERRUPTED;
  if (stopped !== undefined || totals.problems > 0 || state.notRead.length > 0 || output.unprintable > 0) {
    return EXIT_UNREADABLE_INPUT;
  }
  return EXIT_OK;
}

/** The clusters to search, their log groups that exist, and the units of work for the engine. */
async function planSearch(
  context: HuntContext,
  retry: RetryPolicy,
  startMs: number,
  endMs: number,
): Promise<HuntState | number> {
  const { options, say } = context;
  let clusters: string[] = options.clusters;
  if (options.allClusters) {
    const [{ EKSClient }, { ListClustersError, listClusterNames }] = await Promise.all([
      import("@aws-sdk/client-eks"),
      import("../adapters/aws/eks-list-clusters.ts"),
    ]);
    const eks = new EKSClient({ region: context.region });
    try {
      clusters = await listClusterNames(eks, context.io.signal);
    } catch (error) {
      if (!(error instanceof ListClustersError)) throw error;
      say(`ephemeral-guard: ${error.message}`);
      return EXIT_UNREADABLE_INPUT;
    } finally {
      eks.destroy();
    }
    if (clusters.length === 0) say("ephemeral-guard: EKS lists no clusters in this region");
  }
  clusters = [...new Set(clusters)];
  let present: string[];
  let missing: string[];
  try {
    ({ present, missing } = await existingLogGroups(context.logs, clusters.map(clusterLogGroup), retry));
  } catch (error) {
    if (!(error instanceof LogsCallError)) throw error;
    say(`ephemeral-guard: ${error.message}`);
    return EXIT_UNREADABLE_INPUT;
  }
  const notRead: string[] = [];
  for (const logGroup of missing) {
    const what = `${logGroup}: no such log group (control-plane logging never enabled, or the group was deleted)`;
    notRead.push(what);
    say(`ephemeral-guard: cannot read ${inert(what)}`);
  }
  const groups =
    options.engine === "filter" ? present.map((group) => [group]) : chunks(present, INSIGHTS_MAX_LOG_GROUPS);
  return {
    version: 1,
    engine: options.engine,
    region: context.region,
    startMs,
    endMs,
    filterPattern: SUBSCRIPTION_FILTER_PATTERN,
    clusters,
    targets: groups.map((logGroups) => ({ logGroups, done: false })),
    notRead,
  };
}
