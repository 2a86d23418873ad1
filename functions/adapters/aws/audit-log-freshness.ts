import {
  type CloudWatchLogsClient,
  DescribeLogStreamsCommand,
  FilterLogEventsCommand,
  type FilterLogEventsCommandOutput,
} from "@aws-sdk/client-cloudwatch-logs";

/**
 * When did a cluster's log group last receive an audit event?
 *
 * 1. DescribeLogStreams ordered by LastEventTime, newest first: the first `kube-apiserver-audit-*` stream's
 *    times. Cheap, but the service refuses a name prefix together with that order (so the audit streams are
 *    picked out here), and `lastEventTimestamp` is eventually consistent: AWS documents it may lag ingestion
 *    by up to an hour. A stale answer alone would call a healthy cluster silent.
 * 2. So when step 1 says "older than the threshold" (or finds no audit stream among the newest), the answer is
 *    confirmed with FilterLogEvents over the audit streams for the threshold's window, one event per page, at
 *    most a few pages (the service may answer empty pages with a token before it has searched the window).
 *    An event found there wins; a window searched to the end without one confirms the silence; a window not
 *    searched to the end within the pages is an error (the check is inconclusive, not a false alarm).
 */

/** EKS names the audit streams `kube-apiserver-audit-<id>`. */
export const AUDIT_STREAM_PREFIX = "kube-apiserver-audit-";

/** One DescribeLogStreams page: the newest streams of the group (the service's maximum is 50). */
const STREAMS_PAGE = 50;
const MAX_FILTER_PAGES = 5;

export class FreshnessError extends Error {
  constructor(
    message: string,
    readonly logGroup: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "FreshnessError";
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export interface FreshnessOptions {
  now: number;
  /** The silence threshold: the window FilterLogEvents searches when confirming. */
  windowMs: number;
}

/** The newest of the times a stream reports; undefined when it reports none. */
function newestTime(stream: { lastEventTimestamp?: number; lastIngestionTime?: number }): number | undefined {
  const times = [stream.lastEventTimestamp, stream.lastIngestionTime].filter(
    (time): time is number => typeof time === "number",
  );
  return times.length === 0 ? undefined : Math.max(...times);
}

async function newestFromStreams(logs: CloudWatchLogsClient, logGroup: string): Promise<number | undefined> {
  const output = await logs.send(
    new DescribeLogStreamsCommand({
      logGroupName: logGroup,
      orderBy: "LastEventTime",
      descending: true,
      limit: STREAMS_PAGE,
    }),
  );
  const audit = (output.logStreams ?? []).filter((stream) =>
    stream.logStreamName?.startsWith(AUDIT_STREAM_PREFIX),
  );
  const times = audit.map(newestTime).filter((time): time is number => time !== undefined);
  return times.length === 0 ? undefined : Math.max(...times);
}

/** An audit event's time within the window, null when the window holds none. */
async function newestInWindow(
  logs: CloudWatchLogsClient,
  logGroup: string,
  { now, windowMs }: FreshnessOptions,
): Promise<number | null> {
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_FILTER_PAGES; page++) {
    const output: FilterLogEventsCommandOutput = await logs.send(
      new FilterLogEventsCommand({
        logGroupName: logGroup,
        logStreamNamePrefix: AUDIT_STREAM_PREFIX,
        startTime: Math.max(0, now - windowMs),
        endTime: now,
        limit: 1,
        nextToken,
      }),
    );
    const event = output.events?.[0];
    if (event) return Math.max(event.timestamp ?? 0, event.ingestionTime ?? 0);
    nextToken = output.nextToken;
    if (!nextToken) return null;
  }
  throw new FreshnessError(
    `FilterLogEvents on ${logGroup} had not searched the last ${Math.round(windowMs / 60_000)} minutes after ${MAX_FILTER_PAGES} pages`,
    logGroup,
  );
}

/** The time of the newest audit event (epoch ms), null when there is none at all. Throws FreshnessError. */
export async function lastAuditEventTime(
  logs: CloudWatchLogsClient,
  logGroup: string,
  options: FreshnessOptions,
): Promise<number | null> {
  try {
    const listed = await newestFromStreams(logs, logGroup);
    if (listed !== undefined && options.now - listed <= options.windowMs) return listed;
    const confirmed = await newestInWindow(logs, logGroup, options);
    return confirmed ?? listed ?? null;
  } catch (error) {
    if (error instanceof FreshnessError) throw error;
    throw new FreshnessError(
      `could not tell when ${logGroup} last received audit events: ${describeError(error)}`,
      logGroup,
      {
        cause: error,
      },
    );
  }
}
