import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import * as z from "zod";
import { compileFilterPattern, UnsupportedFilterPatternError } from "./cloudwatch-logs-filter-pattern.ts";
import { MalformedQueryError, parseInsightsQuery } from "./cloudwatch-logs-insights-query.ts";
import { listenOnLoopback } from "./listen-on-loopback.ts";
import { RequestBodyTooLargeError, readRequestBody } from "./read-request-body.ts";

/**
 * Amazon CloudWatch Logs for tests, on 127.0.0.1, speaking the protocol the real AWS SDK v3 client uses:
 * JSON 1.1 (`POST /`, `X-Amz-Target: Logs_20140328.<Operation>`, `Content-Type: application/x-amz-json-1.1`),
 * errors as `{"__type":…,"message":…}` with the service's HTTP status. Point `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS`
 * (or a client's `endpoint`) at `server.endpoint`.
 *
 * Operations, with the behaviour of the service that callers must cope with:
 * - FilterLogEvents: logGroupName or logGroupIdentifier, startTime/endTime (both inclusive), filterPattern
 *   (cloudwatch-logs-filter-pattern.ts), nextToken paging, `limit`; each request examines at most
 *   `scanPerPage` stored events, so a sparse range yields empty pages with a token before it is done.
 * - Logs Insights: StartQuery over up to 50 log groups (times in seconds, both inclusive), GetQueryResults
 *   moving Scheduled → Running → Complete one step per poll (no timers), partial rows while Running, at most
 *   `rowCap` rows (10,000) with `recordsMatched` counting every match, StopQuery, and a concurrent-query limit.
 * - DescribeSubscriptionFilters, PutSubscriptionFilter (at most 2 per log group, roleArn kept and described),
 *   DeleteSubscriptionFilter. Every Logs destination of another account is taken to grant an organization
 *   (aws:PrincipalOrgID), as the central stack's does: like the service for such a destination, a put without
 *   roleArn is refused with InvalidParameterException ("Role ARN is required when creating subscription filter
 *   against destination with Organization access policy"); so is a roleArn with a Lambda destination. The
 *   destination's policy itself and the role's trust and permissions are not evaluated.
 * - DescribeLogGroups, DescribeLogStreams (orderBy LastEventTime, lastEventTimestamp).
 * - Injected errors (`fail`) and injected query outcomes (`failQueries`), a hook before each answer.
 */

export interface LogEventInput {
  timestamp: number;
  message: string;
  /** Default `kube-apiserver-audit-0`. */
  logStream?: string;
  /** Default: the timestamp. */
  ingestionTime?: number;
}

export interface StoredLogEvent {
  eventId: string;
  timestamp: number;
  ingestionTime: number;
  message: string;
  logStream: string;
}

export interface LogStreamRecord {
  logStreamName: string;
  creationTime: number;
  firstEventTimestamp?: number;
  lastEventTimestamp?: number;
  lastIngestionTime?: number;
  storedBytes: number;
}

export interface SubscriptionFilterRecord {
  filterName: string;
  logGroupName: string;
  filterPattern: string;
  destinationArn: string;
  roleArn?: string;
  distribution: string;
  creationTime: number;
}

export type QueryStatus = "Scheduled" | "Running" | "Complete" | "Failed" | "Cancelled" | "Timeout";

export interface QueryRecord {
  queryId: string;
  logGroups: string[];
  /** Seconds, inclusive. */
  startTime: number;
  endTime: number;
  queryString: string;
  status: QueryStatus;
  polls: number;
  /** What the query ends as once it has been polled past Running. */
  outcome: "Complete" | "Failed" | "Cancelled" | "Timeout";
  rows: Array<Array<{ field: string; value: string }>>;
  recordsMatched: number;
  recordsScanned: number;
}

export type LogsErrorCode =
  | "ThrottlingException"
  | "LimitExceededException"
  | "ServiceUnavailableException"
  | "InvalidParameterException"
  | "ResourceNotFoundException"
  | "AccessDeniedException";

export interface LogsFailure {
  /** Operations to fail (e.g. "FilterLogEvents"); every operation when omitted. */
  operation?: string | readonly string[];
  code: LogsErrorCode;
  message?: string;
  /** Default: the service's status for the code (500 for ServiceUnavailableException, else 400). */
  status?: number;
  /** Fail this many matching requests, then answer normally. Default: until `recover()`. */
  times?: number;
}

export interface LogsRequestRecord {
  operation: string;
  input: Record<string, unknown>;
  status: number;
  /** The `__type` of an error answer. */
  error?: string;
  /** The body of a successful answer. */
  output?: Record<string, unknown>;
  signed: boolean;
}

export interface CloudWatchLogsServerOptions {
  accountId?: string;
  region?: string;
  /** Most events one FilterLogEvents page returns (the service: 10,000, or 1 MB); a smaller `limit` wins. */
  pageSize?: number;
  /** Stored events one FilterLogEvents request examines before answering (default: all in range). */
  scanPerPage?: number;
  /** Most rows one Insights query returns (the service: 10,000). */
  rowCap?: number;
  /** Polls a query spends Scheduled, then Running, before it ends. */
  queryPolls?: { scheduled: number; running: number };
  /** Insights queries Scheduled or Running at once before StartQuery answers LimitExceededException. */
  maxConcurrentQueries?: number;
  /** The service's limit of subscription filters per log group (2; check the current quota). */
  subscriptionFiltersPerLogGroup?: number;
}

export interface CloudWatchLogsServer {
  readonly endpoint: string;
  readonly requests: LogsRequestRecord[];
  readonly queries: QueryRecord[];
  createLogGroup(name: string, creationTime?: number): void;
  deleteLogGroup(name: string): void;
  /** Stores events (creating the log group and streams as needed), kept in timestamp order. */
  putLogEvents(logGroup: string, events: readonly LogEventInput[]): void;
  /** Overrides what DescribeLogStreams reports for a stream (the service updates it lazily). */
  setLogStream(logGroup: string, logStreamName: string, fields: Partial<LogStreamRecord>): void;
  subscriptionFilters(logGroup: string): SubscriptionFilterRecord[];
  /**
   * Stores a filter as it stands, past PutSubscriptionFilter's checks (creating the log group as needed): one made
   * while its destination still granted accounts one by one, before it granted the organization, has no role.
   */
  seedSubscriptionFilter(
    filter: Omit<SubscriptionFilterRecord, "distribution" | "creationTime"> & { distribution?: string },
  ): void;
  /** Answers matching requests with an error from now on (see LogsFailure.times). */
  fail(failure: LogsFailure): void;
  /** The next `times` queries started end as `status` instead of Complete. */
  failQueries(status: "Failed" | "Cancelled" | "Timeout", times?: number): void;
  /** Every nextToken issued so far becomes invalid, as the service's do after 24 hours. */
  expireTokens(): void;
  /** Runs before each request is answered; a test can count, hold (return a promise) or react to requests. */
  beforeAnswer(hook: ((operation: string, input: Record<string, unknown>) => unknown) | undefined): void;
  /** No injected errors or query outcomes. */
  recover(): void;
  /** Forgets log groups, queries, requests and injections. */
  reset(): void;
  stop(): Promise<void>;
}

const TARGET_PREFIX = "Logs_20140328.";
const CONTENT_TYPE = "application/x-amz-json-1.1";
const MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_STREAM = "kube-apiserver-audit-0";
const MAX_LOG_GROUPS_PER_QUERY = 50;
const MAX_FILTER_LIMIT = 10_000;
const MAX_DESCRIBE_LIMIT = 50;

class LogsError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new LogsError(400, "InvalidParameterException", message);

/** `arn:<partition>:<service>:<region>:<account>:…`: the service and account of a destination ARN. */
function destinationOwner(arn: string): { service: string; account: string; resource: string } | undefined {
  const [, service, account, resource] = /^arn:[^:]+:([^:]+):[^:]*:(\d{12}):([^:]+)/.exec(arn) ?? [];
  if (service === undefined || account === undefined || resource === undefined) return undefined;
  return { service, account, resource };
}
const notFound = (message: string) => new LogsError(400, "ResourceNotFoundException", message);

/** Parses an operation's input, answering InvalidParameterException the way the service does. */
function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw invalid(z.prettifyError(parsed.error));
  return parsed.data;
}

const millis = z.number().int().nonnegative();
const FilterLogEventsInput = z.looseObject({
  logGroupName: z.string().optional(),
  logGroupIdentifier: z.string().optional(),
  logStreamNames: z.array(z.string()).optional(),
  logStreamNamePrefix: z.string().optional(),
  startTime: millis.optional(),
  endTime: millis.optional(),
  filterPattern: z.string().optional(),
  nextToken: z.string().optional(),
  limit: z.number().int().min(1).max(MAX_FILTER_LIMIT).optional(),
});
const StartQueryInput = z.looseObject({
  logGroupName: z.string().optional(),
  logGroupNames: z.array(z.string()).optional(),
  logGroupIdentifiers: z.array(z.string()).optional(),
  startTime: z.number().int().nonnegative(),
  endTime: z.number().int().nonnegative(),
  queryString: z.string().min(1),
  limit: z.number().int().min(1).max(10_000).optional(),
});
const QueryIdInput = z.looseObject({ queryId: z.string().min(1) });
const DescribeFiltersInput = z.looseObject({
  logGroupName: z.string().min(1),
  filterNamePrefix: z.string().optional(),
  nextToken: z.string().optional(),
  limit: z.number().int().min(1).max(MAX_DESCRIBE_LIMIT).optional(),
});
const PutFilterInput = z.looseObject({
  logGroupName: z.string().min(1),
  filterName: z.string().min(1).max(512),
  filterPattern: z.string().max(1024),
  destinationArn: z.string().min(1),
  roleArn: z.string().optional(),
  distribution: z.enum(["Random", "ByLogStream"]).optional(),
});
const DeleteFilterInput = z.looseObject({ logGroupName: z.string().min(1), filterName: z.string().min(1) });
const DescribeLogGroupsInput = z.looseObject({
  logGroupNamePrefix: z.string().optional(),
  logGroupNamePattern: z.string().optional(),
  nextToken: z.string().optional(),
  limit: z.number().int().min(1).max(MAX_DESCRIBE_LIMIT).optional(),
});
const DescribeLogStreamsInput = z.looseObject({
  logGroupName: z.string().optional(),
  logGroupIdentifier: z.string().optional(),
  logStreamNamePrefix: z.string().optional(),
  orderBy: z.enum(["LogStreamName", "LastEventTime"]).optional(),
  descending: z.boolean().optional(),
  nextToken: z.string().optional(),
  limit: z.number().int().min(1).max(MAX_DESCRIBE_LIMIT).optional(),
});

interface LogGroupRecord {
  name: string;
  creationTime: number;
  /** In (timestamp, arrival) order, as the service returns them. */
  events: StoredLogEvent[];
  streams: Map<string, LogStreamRecord>;
  filters: SubscriptionFilterRecord[];
}

/** `2026-11-24 03:00:00.000`, the form Insights gives @timestamp in. */
function insightsTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

/** A log group from a name or an ARN (`arn:aws:logs:…:log-group:NAME` with or without `:*`). */
function logGroupNameOf(identifier: string): string {
  const arn = /^arn:[^:]+:logs:[^:]*:[^:]*:log-group:([^:]+)(?::\*)?$/.exec(identifier);
  return arn?.[1] ?? identifier;
}

/** Opaque paging tokens: a position, bound to the request they continue and to the token epoch. */
function encodeToken(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

function decodeToken(token: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (typeof value === "object" && value !== null) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw invalid("The specified nextToken is invalid.");
}

export async function startCloudWatchLogsServer(
  options: CloudWatchLogsServerOptions = {},
): Promise<CloudWatchLogsServer> {
  const accountId = options.accountId ?? "123456789012";
  const region = options.region ?? "us-east-1";
  const rowCap = options.rowCap ?? 10_000;
  const polls = options.queryPolls ?? { scheduled: 1, running: 1 };
  const filtersPerGroup = options.subscriptionFiltersPerLogGroup ?? 2;
  const maxConcurrentQueries = options.maxConcurrentQueries ?? 30;

  const groups = new Map<string, LogGroupRecord>();
  const requests: LogsRequestRecord[] = [];
  const queries: QueryRecord[] = [];
  let failures: LogsFailure[] = [];
  let queryFailures: Array<{ status: "Failed" | "Cancelled" | "Timeout"; times: number }> = [];
  let tokenEpoch = 0;
  let eventSequence = 0;
  let hook: ((operation: string, input: Record<string, unknown>) => unknown) | undefined;

  function createLogGroup(name: string, creationTime = 0): LogGroupRecord {
    const existing = groups.get(name);
    if (existing) return existing;
    const group: LogGroupRecord = { name, creationTime, events: [], streams: new Map(), filters: [] };
    groups.set(name, group);
    return group;
  }

  function requireGroup(name: string): LogGroupRecord {
    const group = groups.get(logGroupNameOf(name));
    if (!group) throw notFound("The specified log group does not exist.");
    return group;
  }

  function oneGroup(input: { logGroupName?: string; logGroupIdentifier?: string }): LogGroupRecord {
    if ((input.logGroupName === undefined) === (input.logGroupIdentifier === undefined)) {
      throw invalid("Exactly one of logGroupName or logGroupIdentifier must be given.");
    }
    return requireGroup(input.logGroupName ?? input.logGroupIdentifier ?? "");
  }

  function putLogEvents(logGroup: string, events: readonly LogEventInput[]): void {
    const group = createLogGroup(logGroup);
    for (const event of events) {
      const streamName = event.logStream ?? DEFAULT_STREAM;
      const ingestionTime = event.ingestionTime ?? event.timestamp;
      const stream = group.streams.get(streamName) ?? {
        logStreamName: streamName,
        creationTime: ingestionTime,
        storedBytes: 0,
      };
      stream.firstEventTimestamp = Math.min(stream.firstEventTimestamp ?? event.timestamp, event.timestamp);
      stream.lastEventTimestamp = Math.max(stream.lastEventTimestamp ?? event.timestamp, event.timestamp);
      stream.lastIngestionTime = Math.max(stream.lastIngestionTime ?? ingestionTime, ingestionTime);
      stream.storedBytes += Buffer.byteLength(event.message);
      group.streams.set(streamName, stream);
      eventSequence++;
      group.events.push({
        eventId: String(eventSequence).padStart(56, "0"),
        timestamp: event.timestamp,
        ingestionTime,
        message: event.message,
        logStream: streamName,
      });
    }
    group.events.sort((a, b) => a.timestamp - b.timestamp || (a.eventId < b.eventId ? -1 : 1));
  }

  function filterLogEvents(raw: unknown): object {
    const input = parseInput(FilterLogEventsInput, raw);
    const group = oneGroup(input);
    if (input.logStreamNames && input.logStreamNamePrefix !== undefined) {
      throw invalid("logStreamNames and logStreamNamePrefix cannot both be given.");
    }
    let matches: (message: string) => boolean;
    try {
      matches = compileFilterPattern(input.filterPattern);
    } catch (error) {
      if (error instanceof UnsupportedFilterPatternError) throw invalid(error.message);
      throw error;
    }
    const start = input.startTime ?? Number.NEGATIVE_INFINITY;
    const end = input.endTime ?? Number.POSITIVE_INFINITY;
    const streamOk = (name: string) =>
      input.logStreamNames
        ? input.logStreamNames.includes(name)
        : name.startsWith(input.logStreamNamePrefix ?? "");
    // The token continues one request: same group, range, pattern and streams, issued in this epoch.
    const requestKey = JSON.stringify([
      group.name,
      input.startTime,
      input.endTime,
      input.filterPattern ?? "",
      input.logStreamNames,
      input.logStreamNamePrefix,
    ]);
    let position = 0;
    if (input.nextToken !== undefined) {
      const token = decodeToken(input.nextToken);
      if (token.key !== requestKey || token.epoch !== tokenEpoch || typeof token.position !== "number") {
        throw invalid("The specified nextToken is invalid.");
      }
      position = token.position;
    }
    const pageLimit = Math.min(input.limit ?? MAX_FILTER_LIMIT, options.pageSize ?? MAX_FILTER_LIMIT);
    const scanLimit = options.scanPerPage ?? Number.POSITIVE_INFINITY;
    const events = group.events;
    const firstInRange = events.findIndex((event) => event.timestamp >= start);
    let index = Math.max(position, firstInRange < 0 ? events.length : firstInRange);
    const found: StoredLogEvent[] = [];
    let examined = 0;
    while (index < events.length && examined < scanLimit && found.length < pageLimit) {
      const event = events[index] as StoredLogEvent;
      if (event.timestamp > end) {
        index = events.length;
        break;
      }
      index++;
      if (!streamOk(event.logStream)) continue;
      examined++;
      if (matches(event.message)) found.push(event);
    }
    const more = index < events.length && (events[index]?.timestamp ?? end + 1) <= end;
    return {
      events: found.map((event) => ({
        logStreamName: event.logStream,
        timestamp: event.timestamp,
        message: event.message,
        ingestionTime: event.ingestionTime,
        eventId: event.eventId,
      })),
      searchedLogStreams: [...group.streams.keys()]
        .filter(streamOk)
        .map((logStreamName) => ({ logStreamName, searchedCompletely: !more })),
      ...(more ? { nextToken: encodeToken({ key: requestKey, epoch: tokenEpoch, position: index }) } : {}),
    };
  }

  function startQuery(raw: unknown): object {
    const input = parseInput(StartQueryInput, raw);
    const given = [input.logGroupName, input.logGroupNames, input.logGroupIdentifiers].filter(
      (value) => value !== undefined,
    );
    if (given.length !== 1) {
      throw invalid("Exactly one of logGroupName, logGroupNames or logGroupIdentifiers must be given.");
    }
    const names = input.logGroupNames ?? input.logGroupIdentifiers ?? [input.logGroupName ?? ""];
    if (names.length === 0 || names.length > MAX_LOG_GROUPS_PER_QUERY) {
      throw invalid(`A query can search 1 to ${MAX_LOG_GROUPS_PER_QUERY} log groups, not ${names.length}.`);
    }
    const searched = names.map(requireGroup);
    if (input.endTime < input.startTime) throw invalid("endTime is before startTime.");
    let query: ReturnType<typeof parseInsightsQuery>;
    try {
      query = parseInsightsQuery(input.queryString);
    } catch (error) {
      if (error instanceof MalformedQueryError) {
        throw new LogsError(400, "MalformedQueryException", error.message);
      }
      throw error;
    }
    const running = queries.filter((q) => q.status === "Scheduled" || q.status === "Running").length;
    if (running >= maxConcurrentQueries) {
      throw new LogsError(400, "LimitExceededException", "Account maximum query concurrency limit reached.");
    }
    const from = input.startTime * 1000;
    const to = input.endTime * 1000 + 999;
    const candidates = searched.flatMap((group) =>
      group.events
        .filter((event) => event.timestamp >= from && event.timestamp <= to)
        .map((event) => ({ group: group.name, event })),
    );
    const matched = candidates.filter(({ event }) => query.filters.every((filter) => filter(event.message)));
    const direction = query.sort === "asc" ? 1 : -1;
    matched.sort(
      (a, b) =>
        direction * (a.event.timestamp - b.event.timestamp) || (a.event.eventId < b.event.eventId ? -1 : 1),
    );
    const limit = Math.min(query.limit ?? rowCap, input.limit ?? rowCap, rowCap);
    const fieldValue: Record<string, (group: string, event: StoredLogEvent) => string> = {
      "@timestamp": (_group, event) => insightsTime(event.timestamp),
      "@message": (_group, event) => event.message,
      "@logStream": (_group, event) => event.logStream,
      "@log": (group) => `${accountId}:${group}`,
      "@ingestionTime": (_group, event) => insightsTime(event.ingestionTime),
    };
    const rows = matched
      .slice(0, limit)
      .map(({ group, event }) => [
        ...query.fields.map((field) => ({ field, value: fieldValue[field]?.(group, event) ?? "" })),
        { field: "@ptr", value: encodeToken({ group, eventId: event.eventId }) },
      ]);
    const injected = queryFailures.find((entry) => entry.times > 0);
    if (injected) injected.times--;
    const record: QueryRecord = {
      queryId: randomUUID(),
      logGroups: searched.map((group) => group.name),
      startTime: input.startTime,
      endTime: input.endTime,
      queryString: input.queryString,
      status: "Scheduled",
      polls: 0,
      outcome: injected?.status ?? "Complete",
      rows,
      recordsMatched: matched.length,
      recordsScanned: candidates.length,
    };
    queries.push(record);
    return { queryId: record.queryId };
  }

  function findQuery(queryId: string): QueryRecord {
    const query = queries.find((q) => q.queryId === queryId);
    if (!query) throw notFound(`Query does not exist: ${queryId}`);
    return query;
  }

  function getQueryResults(raw: unknown): object {
    const query = findQuery(parseInput(QueryIdInput, raw).queryId);
    if (query.status === "Scheduled" || query.status === "Running") {
      query.polls++;
      query.status =
        query.polls <= polls.scheduled
          ? "Scheduled"
          : query.polls <= polls.scheduled + polls.running
            ? "Running"
            : query.outcome;
    }
    const rows =
      query.status === "Complete"
        ? query.rows
        : query.status === "Running"
          ? query.rows.slice(0, Math.floor(query.rows.length / 2))
          : [];
    return {
      queryLanguage: "CWLI",
      status: query.status,
      results: rows,
      statistics: {
        recordsMatched: query.status === "Scheduled" ? 0 : query.recordsMatched,
        recordsScanned: query.status === "Scheduled" ? 0 : query.recordsScanned,
        bytesScanned: 0,
      },
    };
  }

  function stopQuery(raw: unknown): object {
    const query = findQuery(parseInput(QueryIdInput, raw).queryId);
    if (query.status !== "Scheduled" && query.status !== "Running") {
      throw invalid(`Query is not running: ${query.queryId} (${query.status})`);
    }
    query.status = "Cancelled";
    return { success: true };
  }

  function describeSubscriptionFilters(raw: unknown): object {
    const input = parseInput(DescribeFiltersInput, raw);
    const group = requireGroup(input.logGroupName);
    const all = group.filters.filter((filter) => filter.filterName.startsWith(input.filterNamePrefix ?? ""));
    return page(all, input.nextToken, input.limit ?? MAX_DESCRIBE_LIMIT, "subscriptionFilters");
  }

  function putSubscriptionFilter(raw: unknown): object {
    const input = parseInput(PutFilterInput, raw);
    const group = requireGroup(input.logGroupName);
    try {
      compileFilterPattern(input.filterPattern);
    } catch (error) {
      if (error instanceof UnsupportedFilterPatternError) throw invalid(error.message);
      throw error;
    }
    const owner = destinationOwner(input.destinationArn);
    if (owner?.service === "lambda" && input.roleArn !== undefined) {
      throw invalid("destinationArn for vendor lambda cannot be used with roleArn");
    }
    // A destination of another account grants the organization (see the header): the service needs a role of
    // the sender account to check that it belongs to it.
    if (
      owner?.service === "logs" &&
      owner.resource === "destination" &&
      owner.account !== accountId &&
      input.roleArn === undefined
    ) {
      throw invalid(
        "Role ARN is required when creating subscription filter against destination with Organization access policy",
      );
    }
    const record: SubscriptionFilterRecord = {
      filterName: input.filterName,
      logGroupName: group.name,
      filterPattern: input.filterPattern,
      destinationArn: input.destinationArn,
      ...(input.roleArn === undefined ? {} : { roleArn: input.roleArn }),
      distribution: input.distribution ?? "ByLogStream",
      creationTime: Date.now(),
    };
    const existing = group.filters.findIndex((filter) => filter.filterName === input.filterName);
    if (existing >= 0) {
      group.filters[existing] = record;
    } else {
      if (group.filters.length >= filtersPerGroup) {
        throw new LogsError(400, "LimitExceededException", "Resource limit exceeded.");
      }
      group.filters.push(record);
    }
    return {};
  }

  function deleteSubscriptionFilter(raw: unknown): object {
    const input = parseInput(DeleteFilterInput, raw);
    const group = requireGroup(input.logGroupName);
    const index = group.filters.findIndex((filter) => filter.filterName === input.filterName);
    if (index < 0) throw notFound("The specified subscription filter does not exist.");
    group.filters.splice(index, 1);
    return {};
  }

  function describeLogGroups(raw: unknown): object {
    const input = parseInput(DescribeLogGroupsInput, raw);
    if (input.logGroupNamePrefix !== undefined && input.logGroupNamePattern !== undefined) {
      throw invalid("logGroupNamePrefix and logGroupNamePattern cannot both be given.");
    }
    const pattern = input.logGroupNamePattern?.toLowerCase();
    const all = [...groups.values()]
      .filter((group) => group.name.startsWith(input.logGroupNamePrefix ?? ""))
      .filter((group) => pattern === undefined || group.name.toLowerCase().includes(pattern))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((group) => {
        const arn = `arn:aws:logs:${region}:${accountId}:log-group:${group.name}`;
        return {
          logGroupName: group.name,
          creationTime: group.creationTime,
          metricFilterCount: 0,
          arn: `${arn}:*`,
          logGroupArn: arn,
          storedBytes: [...group.streams.values()].reduce((sum, stream) => sum + stream.storedBytes, 0),
          logGroupClass: "STANDARD",
        };
      });
    return page(all, input.nextToken, input.limit ?? MAX_DESCRIBE_LIMIT, "logGroups");
  }

  function describeLogStreams(raw: unknown): object {
    const input = parseInput(DescribeLogStreamsInput, raw);
    const group = oneGroup(input);
    const orderBy = input.orderBy ?? "LogStreamName";
    if (orderBy === "LastEventTime" && input.logStreamNamePrefix !== undefined) {
      throw invalid("Cannot order by LastEventTime with a logStreamNamePrefix.");
    }
    const direction = input.descending ? -1 : 1;
    const all = [...group.streams.values()]
      .filter((stream) => stream.logStreamName.startsWith(input.logStreamNamePrefix ?? ""))
      .sort((a, b) =>
        orderBy === "LastEventTime"
          ? direction * ((a.lastEventTimestamp ?? 0) - (b.lastEventTimestamp ?? 0))
          : direction * (a.logStreamName < b.logStreamName ? -1 : 1),
      )
      .map((stream) => ({
        ...stream,
        arn: `arn:aws:logs:${region}:${accountId}:log-group:${group.name}:log-stream:${stream.logStreamName}`,
      }));
    return page(all, input.nextToken, input.limit ?? MAX_DESCRIBE_LIMIT, "logStreams");
  }

  /** Index paging for the Describe operations. */
  function page(all: readonly object[], nextToken: string | undefined, limit: number, key: string): object {
    let start = 0;
    if (nextToken !== undefined) {
      const token = decodeToken(nextToken);
      if (token.epoch !== tokenEpoch || typeof token.index !== "number" || token.key !== key) {
        throw invalid("The specified nextToken is invalid.");
      }
      start = token.index;
    }
    const end = start + limit;
    return {
      [key]: all.slice(start, end),
      ...(end < all.length ? { nextToken: encodeToken({ key, epoch: tokenEpoch, index: end }) } : {}),
    };
  }

  const operations: Record<string, (input: unknown) => object> = {
    FilterLogEvents: filterLogEvents,
    StartQuery: startQuery,
    GetQueryResults: getQueryResults,
    StopQuery: stopQuery,
    DescribeSubscriptionFilters: describeSubscriptionFilters,
    PutSubscriptionFilter: putSubscriptionFilter,
    DeleteSubscriptionFilter: deleteSubscriptionFilter,
    DescribeLogGroups: describeLogGroups,
    DescribeLogStreams: describeLogStreams,
  };

  function injectedFailure(operation: string): LogsError | undefined {
    const failure = failures.find(
      (entry) =>
        (entry.times ?? 1) > 0 &&
        (entry.operation === undefined ||
          (typeof entry.operation === "string"
            ? entry.operation === operation
            : entry.operation.includes(operation))),
    );
    if (!failure) return undefined;
    if (failure.times !== undefined) failure.times--;
    const status = failure.status ?? (failure.code === "ServiceUnavailableException" ? 500 : 400);
    return new LogsError(status, failure.code, failure.message ?? "Rate exceeded (injected)");
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = String(request.headers["x-amz-target"] ?? "");
    const operation = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : target;
    let input: Record<string, unknown> = {};
    const record = (status: number, error?: string, output?: object) =>
      requests.push({
        operation,
        input,
        status,
        ...(error === undefined ? {} : { error }),
        ...(output === undefined ? {} : { output: output as Record<string, unknown> }),
        signed: String(request.headers.authorization ?? "").startsWith("AWS4-HMAC-SHA256 "),
      });
    const answer = (status: number, body: object, error?: string) => {
      record(status, error, error === undefined ? body : undefined);
      response.writeHead(status, { "content-type": CONTENT_TYPE, "x-amzn-requestid": randomUUID() });
      response.end(JSON.stringify(body));
    };
    try {
      const body = await readRequestBody(request, MAX_BODY_BYTES);
      if (request.method !== "POST" || (request.url ?? "/") !== "/") {
        throw new LogsError(404, "UnknownOperationException", `${request.method} ${request.url}`);
      }
      if (!String(request.headers["content-type"] ?? "").startsWith(CONTENT_TYPE)) {
        throw new LogsError(400, "SerializationException", `Content-Type must be ${CONTENT_TYPE}`);
      }
      const run = target.startsWith(TARGET_PREFIX) ? operations[operation] : undefined;
      if (!run) throw new LogsError(400, "UnknownOperationException", `unsupported target ${target}`);
      try {
        const parsed: unknown = body === "" ? {} : JSON.parse(body);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
          throw new Error("not an object");
        input = parsed as Record<string, unknown>;
      } catch {
        throw new LogsError(400, "SerializationException", "request body is not a JSON object");
      }
      await hook?.(operation, input);
      const injected = injectedFailure(operation);
      if (injected) throw injected;
      answer(200, run(input));
    } catch (error) {
      if (error instanceof LogsError) {
        answer(error.status, { __type: error.type, message: error.message }, error.type);
      } else if (error instanceof RequestBodyTooLargeError) {
        record(413, "RequestTooLarge");
      } else {
        answer(500, { __type: "InternalFailure", message: String(error) }, "InternalFailure");
      }
    }
  }

  const server = createServer((request, response) => {
    void handle(request, response);
  });
  const listener = await listenOnLoopback(server);

  return {
    endpoint: `http://127.0.0.1:${listener.port}`,
    requests,
    queries,
    createLogGroup(name, creationTime) {
      createLogGroup(name, creationTime);
    },
    deleteLogGroup(name) {
      groups.delete(name);
    },
    putLogEvents,
    setLogStream(logGroup, logStreamName, fields) {
      const group = createLogGroup(logGroup);
      const stream = group.streams.get(logStreamName) ?? { logStreamName, creationTime: 0, storedBytes: 0 };
      group.streams.set(logStreamName, { ...stream, ...fields, logStreamName });
    },
    subscriptionFilters(logGroup) {
      return [...(groups.get(logGroup)?.filters ?? [])];
    },
    seedSubscriptionFilter(filter) {
      const group = createLogGroup(filter.logGroupName);
      const record = { distribution: "ByLogStream", creationTime: Date.now(), ...filter };
      group.filters = [...group.filters.filter((item) => item.filterName !== filter.filterName), record];
    },
    fail(failure) {
      failures.push({ ...failure });
    },
    failQueries(status, times = 1) {
      queryFailures.push({ status, times });
    },
    expireTokens() {
      tokenEpoch++;
    },
    beforeAnswer(next) {
      hook = next;
    },
    recover() {
      failures = [];
      queryFailures = [];
    },
    reset() {
      groups.clear();
      requests.length = 0;
      queries.length = 0;
      failures = [];
      queryFailures = [];
      hook = undefined;
      tokenEpoch++;
    },
    stop: () => listener.close(),
  };
}
