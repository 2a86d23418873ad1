import {
  type CloudWatchLogsClient,
  FilterLogEventsCommand,
  type FilterLogEventsCommandOutput,
} from "@aws-sdk/client-cloudwatch-logs";
import * as z from "zod";
import type { LogRecord } from "../../core/log-record.ts";
import { LogsCallError, type RetryPolicy, withBackoff } from "./cloudwatch-logs-retry.ts";

/**
 * Reads a log group's history with FilterLogEvents, one page at a time: each page is handed to the caller
 * before the next is asked for, so memory holds one page (at most 10,000 events or 1 MB), never the answer.
 *
 * Where a read stands is a cursor the caller can store and resume from:
 * - `token`: the service's nextToken with the request it continues, which resumes exactly (a token is valid
 *   for 24 hours);
 * - `from` and `seenAtFrom`: every event before `from` was read, and of the events at `from` those listed.
 *   The service interleaves the streams of a group in timestamp order, so when the token is refused (expired)
 *   the read restarts at `from` and skips what it listed, without repeating or losing an event.
 */

export const FilterCursorSchema = z.object({
  from: z.number().int().nonnegative(),
  seenAtFrom: z.array(z.string()).max(10_000),
  token: z.object({ nextToken: z.string().min(1), startTime: z.number().int().nonnegative() }).optional(),
});
export type FilterCursor = z.infer<typeof FilterCursorSchema>;

/**
 * Event ids kept for the events sharing the cursor's timestamp. Thousands of audit events in one millisecond
 * of one cluster do not happen; past this bound a resume through the time cursor may repeat some of them.
 */
const MAX_SEEN_AT_FROM = 10_000;

export interface HistoryPage<Cursor> {
  records: LogRecord[];
  /** Where the read stands once this page is handled. */
  cursor: Cursor;
  /** Events the service returned in this page. */
  eventsRead: number;
  /** Everything before this time has been read (for progress). */
  coveredUntil: number;
}

export interface FilterHistoryRequest {
  logGroup: string;
  /** Milliseconds, inclusive. */
  startMs: number;
  /** Milliseconds, exclusive. */
  endMs: number;
  filterPattern: string;
  cursor?: FilterCursor;
  /** Events per page; the service's default (and maximum) is 10,000. */
  limit?: number;
  /** Told when a stored token was refused and the read went back to the time cursor. */
  onNote?: (note: string) => void;
}

/** `/aws/eks/prod/cluster kube-apiserver-audit-1a2b @2026-11-24T03:00:00.000Z`: where a record came from. */
export function recordPosition(
  logGroup: string,
  logStream: string | undefined,
  timestamp: number | undefined,
): string {
  const when =
    timestamp === undefined || !Number.isFinite(timestamp) ? "" : ` @${new Date(timestamp).toISOString()}`;
  return `${logGroup} ${logStream ?? "(unknown stream)"}${when}`;
}

function isTokenRefusal(error: unknown): boolean {
  return error instanceof LogsCallError && error.code === "InvalidParameterException";
}

export async function* readFilteredHistory(
  client: CloudWatchLogsClient,
  request: FilterHistoryRequest,
  retry: RetryPolicy,
): AsyncGenerator<HistoryPage<FilterCursor>> {
  const { logGroup, endMs } = request;
  let from = Math.max(request.cursor?.from ?? request.startMs, request.startMs);
  let seen = new Set(request.cursor?.seenAtFrom ?? []);
  let token = request.cursor?.token;
  for (;;) {
    const input = {
      logGroupName: logGroup,
      startTime: token?.startTime ?? from,
      // The service's endTime is inclusive; the hunt's range ends before endMs.
      endTime: endMs - 1,
      filterPattern: request.filterPattern,
      ...(token ? { nextToken: token.nextToken } : {}),
      ...(request.limit === undefined ? {} : { limit: request.limit }),
    };
    let page: FilterLogEventsCommandOutput;
    try {
      page = await withBackoff(
        "FilterLogEvents",
        () => client.send(new FilterLogEventsCommand(input), { abortSignal: retry.signal }),
        retry,
      );
    } catch (error) {
      if (!token || !isTokenRefusal(error)) throw error;
      request.onNote?.(
        `${logGroup}: the stored nextToken was refused; continuing from ${new Date(from).toISOString()}`,
      );
      token = undefined;
      continue;
    }
    const records: LogRecord[] = [];
    for (const event of page.events ?? []) {
      const timestamp = event.timestamp;
      const id = event.eventId ?? "";
      if (timestamp !== undefined) {
        if (timestamp === from && id !== "" && seen.has(id)) continue;
        if (timestamp > from) {
          from = timestamp;
          seen = new Set();
        }
        if (timestamp === from && id !== "" && seen.size < MAX_SEEN_AT_FROM) seen.add(id);
      }
      const record: LogRecord = {
        text: event.message ?? "",
        position: recordPosition(logGroup, event.logStreamName, timestamp),
        logGroup,
      };
      if (event.logStreamName) record.logStream = event.logStreamName;
      if (timestamp !== undefined) record.timestamp = timestamp;
      records.push(record);
    }
    token = page.nextToken ? { nextToken: page.nextToken, startTime: input.startTime } : undefined;
    const cursor: FilterCursor = { from, seenAtFrom: [...seen], ...(token ? { token } : {}) };
    yield {
      records,
      cursor,
      eventsRead: page.events?.length ?? 0,
      coveredUntil: token ? from : endMs,
    };
    if (!token) return;
  }
}
