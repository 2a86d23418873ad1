import {
  type CloudWatchLogsClient,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  StartQueryCommand,
  StopQueryCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import * as z from "zod";
import type { LogRecord } from "../../core/log-record.ts";
import { runBounded } from "../../core/run-bounded.ts";
import { SUBRESOURCE_MARKER } from "../../core/select-write.ts";
import { type HistoryPage, readFilteredHistory, recordPosition } from "./cloudwatch-logs-history.ts";
import { backoffDelay, type RetryPolicy, withBackoff } from "./cloudwatch-logs-retry.ts";

/**
 * Reads history with CloudWatch Logs Insights: AWS's distributed engine searches up to 50 log groups per query,
 * which is what a range of months over many clusters needs.
 *
 * A query returns its rows all at once, at most 10,000 (the hunt asks for fewer, INSIGHTS_ROWS_PER_QUERY), so
 * the time range is cut into pieces meant to stay under that. A piece whose query reached it (its
 * `recordsMatched` exceeds its rows) keeps its earliest rows (the query sorts by @timestamp) and the rest of it
 * is run again, in pieces sized from the rows just seen (afterCap). A few queries run at once (`inFlight`);
 * pieces are handed to the caller in time order, so where the read stands is one time (`from`), and at most
 * `inFlight` pieces' rows are held. A one-second piece still over the limit (Insights counts time in seconds)
 * is read with FilterLogEvents instead, group by group.
 *
 * Rows are selected with the detector's own marker, so every event the detector could report is returned;
 * the detector re-checks each one.
 */

/** Rows a query returns at most (the service's cap). */
export const INSIGHTS_ROW_CAP = 10_000;
/**
 * Rows the hunt asks one query for, well under the cap. A query's answer arrives whole, and whoever can write
 * to the cluster can pad events that mention the marker to CloudWatch's 256 KB: at 1,000 rows the queries in
 * flight hold at most about `inFlight` × 256 MB, where the cap would allow ten times that.
 */
export const INSIGHTS_ROWS_PER_QUERY = 1_000;
/** Log groups one query can search. */
export const INSIGHTS_MAX_LOG_GROUPS = 50;
/** Queries whose status stops changing are given up (as timed out) after this many polls. */
const MAX_POLLS = 2_000;
const MAX_FAILED_ATTEMPTS = 3;
const SECOND = 1000;

export const INSIGHTS_QUERY = [
  "fields @timestamp, @message, @logStream, @log",
  `filter @message like ${JSON.stringify(SUBRESOURCE_MARKER)}`,
  "sort @timestamp asc",
  `limit ${INSIGHTS_ROWS_PER_QUERY}`,
].join(" | ");

export const InsightsCursorSchema = z.object({
  /** Everything before this time was read. */
  from: z.number().int().nonnegative(),
  /** The length of the next piece, as learnt so far. */
  pieceMs: z.number().int().min(SECOND),
});
export type InsightsCursor = z.infer<typeof InsightsCursorSchema>;

export interface InsightsHistoryRequest {
  logGroups: readonly string[];
  /** Milliseconds, inclusive. */
  startMs: number;
  /** Milliseconds, exclusive. */
  endMs: number;
  cursor?: InsightsCursor;
  /** Queries running at once. */
  inFlight: number;
  /** Waits between polls of a query: from the first, growing by half each time, up to the max. */
  pollMs: { first: number; max: number };
  /** For a one-second piece over the cap, read with FilterLogEvents. */
  filterPattern: string;
  onNote?: (note: string) => void;
}

/** A query that failed (or was cancelled) every time it was run. */
export class InsightsQueryError extends Error {
  override name = "InsightsQueryError";
}

type Row = Array<{ field?: string | undefined; value?: string | undefined }>;

type Outcome =
  | { kind: "complete"; rows: Row[] }
  /** The earliest rows (the query sorts by @timestamp), and how many events matched in all. */
  | { kind: "capped"; rows: Row[]; matched: number }
  | { kind: "timeout" }
  | { kind: "failed"; status: string };

interface Piece {
  start: number;
  end: number;
  rows?: Row[];
  failures: number;
  /** Over the cap and one second long: read with FilterLogEvents. */
  filterFallback?: boolean;
}

const ceilToSecond = (ms: number) => Math.ceil(ms / SECOND) * SECOND;

/** Boundaries cutting [start, end) into about `parts` pieces, on whole seconds (Insights' unit). */
export function splitRange(start: number, end: number, parts: number): Array<[number, number]> {
  const cuts = new Set<number>();
  for (let k = 1; k < parts; k++) {
    const cut = ceilToSecond(start + ((end - start) * k) / parts);
    if (cut > start && cut < end) cuts.add(cut);
  }
  const bounds = [start, ...[...cuts].sort((a, b) => a - b), end];
  return bounds.slice(1).map((to, index) => [bounds[index] as number, to]);
}

/**
 * What replaces a piece whose query reached the cap. The rows are the earliest of the piece, so those before
 * the second of the last row are complete and kept. The rest is run again: first in pieces sized, from the
 * rows just kept, to hold half the cap each (as many as the unread events need, at most `maxParts - 1`), then
 * whatever remains as one piece, which comes back small when the burst was short or is cut again the same way.
 * When every row returned lies in the piece's first second, that second alone holds more than the cap and is
 * read with FilterLogEvents, and the rest is halved.
 */
function afterCap(piece: Piece, outcome: { rows: Row[]; matched: number }, maxParts: number): Piece[] {
  const times = outcome.rows.map((row) => parseInsightsTime(field(row, "@timestamp")));
  const lastTime = times.at(-1);
  const perPiece = Math.max(1, Math.floor(outcome.rows.length / 2));
  const fresh = ([start, end]: [number, number]): Piece => ({ start, end, failures: 0 });
  const cut = lastTime === undefined ? piece.start : Math.floor(lastTime / SECOND) * SECOND;
  if (cut <= piece.start || cut >= piece.end) {
    if (lastTime === undefined) return splitRange(piece.start, piece.end, 2).map(fresh);
    const second = Math.min(piece.end, Math.floor(piece.start / SECOND) * SECOND + SECOND);
    const burst: Piece = { start: piece.start, end: second, failures: 0, filterFallback: true };
    return [burst, ...splitRange(second, piece.end, 2).map(fresh)];
  }
  const kept = times.filter((time) => time !== undefined && time < cut).length;
  const pieces: Piece[] = [{ start: piece.start, end: cut, failures: 0, rows: outcome.rows }];
  const length = Math.max(SECOND, ceilToSecond((perPiece * (cut - piece.start)) / Math.max(1, kept)));
  const wanted = Math.min(maxParts - 1, Math.ceil(Math.max(1, outcome.matched - kept) / perPiece));
  let from = cut;
  for (let made = 0; made < wanted && from < piece.end; made++) {
    const to = Math.min(piece.end, from + length);
    pieces.push(fresh([from, to]));
    from = to;
  }
  if (from < piece.end) pieces.push(fresh([from, piece.end]));
  return pieces;
}

function field(row: Row, name: string): string | undefined {
  return row.find((entry) => entry.field === name)?.value;
}

/** `2026-11-24 03:00:00.000` (UTC) as Insights writes @timestamp. */
function parseInsightsTime(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(`${value.trim().replace(" ", "T")}Z`);
  return Number.isFinite(ms) ? ms : undefined;
}

function toRecords(rows: readonly Row[], piece: Piece, soleGroup: string | undefined): LogRecord[] {
  const records: LogRecord[] = [];
  for (const row of rows) {
    const timestamp = parseInsightsTime(field(row, "@timestamp"));
    // Insights works in whole seconds: an outer piece can return events just outside the hunt's range.
    if (timestamp !== undefined && (timestamp < piece.start || timestamp >= piece.end)) continue;
    const log = field(row, "@log");
    // `<account>:<log group>`; log group names cannot contain a colon.
    const logGroup = log === undefined ? soleGroup : log.slice(log.indexOf(":") + 1);
    const logStream = field(row, "@logStream");
    const record: LogRecord = {
      text: field(row, "@message") ?? "",
      position: recordPosition(logGroup ?? "(unknown log group)", logStream, timestamp),
    };
    if (logGroup) record.logGroup = logGroup;
    if (logStream) record.logStream = logStream;
    if (timestamp !== undefined) record.timestamp = timestamp;
    records.push(record);
  }
  return records;
}

async function runQuery(
  client: CloudWatchLogsClient,
  request: InsightsHistoryRequest,
  piece: Piece,
  retry: RetryPolicy,
): Promise<Outcome> {
  const { queryId } = await withBackoff(
    "StartQuery",
    () =>
      client.send(
        new StartQueryCommand({
          logGroupNames: [...request.logGroups],
          // Seconds, both inclusive.
          startTime: Math.floor(piece.start / SECOND),
          endTime: Math.ceil(piece.end / SECOND) - 1,
          queryString: INSIGHTS_QUERY,
          limit: INSIGHTS_ROWS_PER_QUERY,
        }),
        // Not aborted in flight: a query the service started must be known, so that it can be stopped.
      ),
    retry,
  );
  let delay = request.pollMs.first;
  try {
    retry.signal?.throwIfAborted();
    for (let poll = 0; poll < MAX_POLLS; poll++) {
      await retry.sleep(delay, retry.signal);
      delay = Math.min(request.pollMs.max, Math.round(delay * 1.5));
      const result: GetQueryResultsCommandOutput = await withBackoff(
        "GetQueryResults",
        () => client.send(new GetQueryResultsCommand({ queryId }), { abortSignal: retry.signal }),
        retry,
      );
      const status = result.status ?? "Unknown";
      if (status === "Scheduled" || status === "Running") continue;
      if (status === "Timeout") return { kind: "timeout" };
      if (status !== "Complete") return { kind: "failed", status };
      const rows = result.results ?? [];
      const matched = result.statistics?.recordsMatched ?? rows.length;
      if (rows.length >= Math.min(INSIGHTS_ROWS_PER_QUERY, INSIGHTS_ROW_CAP) || matched > rows.length) {
        return { kind: "capped", rows, matched };
      }
      return { kind: "complete", rows };
    }
  } catch (error) {
    // Interrupted (or failing) while the query runs: stop it rather than leave it using a concurrency slot.
    await client.send(new StopQueryCommand({ queryId })).catch(() => undefined);
    throw error;
  }
  await client.send(new StopQueryCommand({ queryId })).catch(() => undefined);
  return { kind: "timeout" };
}

export async function* readInsightsHistory(
  client: CloudWatchLogsClient,
  request: InsightsHistoryRequest,
  retry: RetryPolicy,
): AsyncGenerator<HistoryPage<InsightsCursor>> {
  const { startMs, endMs, inFlight } = request;
  if (request.logGroups.length === 0 || request.logGroups.length > INSIGHTS_MAX_LOG_GROUPS) {
    throw new RangeError(`a query searches 1 to ${INSIGHTS_MAX_LOG_GROUPS} log groups`);
  }
  const soleGroup = request.logGroups.length === 1 ? request.logGroups[0] : undefined;
  let pieceMs = request.cursor?.pieceMs ?? Math.max(SECOND, ceilToSecond((endMs - startMs) / inFlight));
  let nextStart = Math.max(request.cursor?.from ?? startMs, startMs);
  const queue: Piece[] = [];
  const cursor = (from: number): InsightsCursor => ({ from, pieceMs });

  for (;;) {
    while (queue.length < inFlight && nextStart < endMs) {
      const end = Math.min(endMs, Math.max(ceilToSecond(nextStart + pieceMs), ceilToSecond(nextStart + 1)));
      queue.push({ start: nextStart, end, failures: 0 });
      nextStart = end;
    }
    const front = queue[0];
    if (!front) return;

    if (front.filterFallback) {
      request.onNote?.(
        `more than ${INSIGHTS_ROWS_PER_QUERY} rows in the second at ${new Date(front.start).toISOString()}: read with FilterLogEvents`,
      );
      for (const logGroup of request.logGroups) {
        const pages = readFilteredHistory(
          client,
          { logGroup, startMs: front.start, endMs: front.end, filterPattern: request.filterPattern },
          retry,
        );
        // The cursor stays at the second's start until all of it is read: interrupted inside it, a resume
        // reads that one second again.
        for await (const page of pages)
          yield { ...page, cursor: cursor(front.start), coveredUntil: front.start };
      }
      queue.shift();
      yield { records: [], cursor: cursor(front.end), eventsRead: 0, coveredUntil: front.end };
      continue;
    }

    const window = queue
      .slice(0, inFlight)
      .filter((piece) => piece.rows === undefined && !piece.filterFallback);
    const outcomes = await runBounded(window, inFlight, (piece) => runQuery(client, request, piece, retry));
    for (const [index, settled] of outcomes.entries()) {
      const piece = window[index] as Piece;
      if (!settled.ok) throw settled.error;
      const outcome = settled.value;
      if (outcome.kind === "complete") {
        piece.rows = outcome.rows;
        // Sparse: let the next pieces grow, up to the whole range.
        if (outcome.rows.length < INSIGHTS_ROWS_PER_QUERY / 8)
          pieceMs = Math.min(pieceMs * 2, Math.max(SECOND, endMs - startMs));
        continue;
      }
      if (outcome.kind === "failed") {
        piece.failures++;
        if (piece.failures >= MAX_FAILED_ATTEMPTS) {
          throw new InsightsQueryError(
            `the query for ${new Date(piece.start).toISOString()} to ${new Date(piece.end).toISOString()} ended ${outcome.status} ${piece.failures} times`,
          );
        }
        const delayMs = backoffDelay(piece.failures, retry);
        retry.onRetry?.({
          operation: "StartQuery",
          error: `query ${outcome.status}`,
          attempt: piece.failures,
          delayMs,
        });
        await retry.sleep(delayMs, retry.signal);
        continue;
      }
      const at = queue.indexOf(piece);
      if (outcome.kind === "timeout") {
        // Too much to search in time: halve it; a one-second piece that times out is retried.
        const halves = splitRange(piece.start, piece.end, 2);
        if (halves.length < 2) {
          piece.failures++;
          if (piece.failures >= MAX_FAILED_ATTEMPTS) {
            throw new InsightsQueryError(
              `the query for the second at ${new Date(piece.start).toISOString()} timed out ${piece.failures} times`,
            );
          }
          continue;
        }
        queue.splice(at, 1, ...halves.map(([start, end]) => ({ start, end, failures: 0 })));
        continue;
      }
      const replacement = afterCap(piece, outcome, 2 * inFlight);
      queue.splice(at, 1, ...replacement);
      const rerun = replacement.find((next) => next.rows === undefined && !next.filterFallback);
      if (rerun) pieceMs = Math.max(SECOND, Math.min(pieceMs, rerun.end - rerun.start));
    }
    while (queue[0]?.rows !== undefined) {
      const done = queue.shift() as Piece;
      const rows = done.rows ?? [];
      yield {
        records: toRecords(rows, done, soleGroup),
        cursor: cursor(done.end),
        eventsRead: rows.length,
        coveredUntil: done.end,
      };
    }
  }
}
