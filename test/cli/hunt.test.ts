import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createIdempotencyStore } from "../../functions/adapters/aws/act-once.ts";
import { SUBSCRIPTION_FILTER_PATTERN } from "../../functions/adapters/aws/subscription-filter.ts";
import { snsFindingSink } from "../../functions/adapters/lambda/finding-sinks.ts";
import { type HuntDeps, runHunt } from "../../functions/cli/run-hunt.ts";
import { runScan } from "../../functions/cli/run-scan.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { Detector } from "../../functions/core/detector.ts";
import { type Finding, FindingSchema } from "../../functions/core/finding.ts";
import { EVENTS_DIR, loadAuditJson } from "../helpers/events.ts";
import {
  type CloudWatchLogsServer,
  type CloudWatchLogsServerOptions,
  type LogEventInput,
  startCloudWatchLogsServer,
} from "../peers/cloudwatch-logs-server.ts";
import { type DynamoPeer, idempotencyTable, startDynalite } from "../peers/dynalite.ts";
import { type EksServer, startEksServer } from "../peers/eks-server.ts";
import { type SnsServer, startSnsServer } from "../peers/sns-server.ts";

/**
 * `ephemeral-guard hunt` against loopback CloudWatch Logs, EKS, SNS and DynamoDB peers, through the real AWS SDK
 * clients and the standard endpoint chain (AWS_ENDPOINT_URL_<SERVICE>). Waits (backoff, polls) go through an
 * injected sleep: no test waits for time to pass.
 */

const ROOT = join(import.meta.dirname, "../..");
const GROUP = "/aws/eks/prod/cluster";
const T0 = Date.UTC(2026, 10, 20);
const RANGE = ["--start", "2026-11-19", "--end", "2026-11-21"];
const TOPIC = "arn:aws:sns:us-east-1:123456789012:ephemeral-guard-test-alerts";
const TABLE = "ephemeral-guard-test-idempotency";

const ENV_KEYS = [
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
  "AWS_ENDPOINT_URL_EKS",
  "AWS_ENDPOINT_URL_SNS",
  "AWS_ENDPOINT_URL_DYNAMODB",
  "AWS_PROFILE",
] as const;
/**
 * The scanner reports the deliberately broken line of events/jsonl (exit 2). The filter engine sees that line
 * only when the subscription's pattern passes text that is not JSON: a term pattern does, a JSON pattern does
 * not. Insights selects by the detector's marker, so it always sees it.
 */
const FILTER_ENGINE_STATUS = SUBSCRIPTION_FILTER_PATTERN.trim().startsWith("{") ? 0 : 2;

const savedEnv = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]]));

/** Every sample the scanner reads from events/audit and events/jsonl, in the scanner's order, as log messages. */
function sampleMessages(): string[] {
  const audit = join(EVENTS_DIR, "audit");
  const jsonl = join(EVENTS_DIR, "jsonl");
  return [
    ...readdirSync(audit)
      .sort()
      .map((file) => JSON.stringify(JSON.parse(readFileSync(join(audit, file), "utf8")))),
    ...readdirSync(jsonl)
      .sort()
      .flatMap((file) =>
        readFileSync(join(jsonl, file), "utf8")
          .split("\n")
          .map((line) => line.trim())
          .filter((line) => line !== ""),
      ),
  ];
}

const NOISE = JSON.stringify({
  kind: "Event",
  apiVersion: "audit.k8s.io/v1",
  verb: "get",
  objectRef: { resource: "configmaps", namespace: "default", name: "settings" },
});

/**
 * The samples one second apart over two streams, with runs of unrelated events between them so that a page
 * of the filter engine can come back empty with a token, as the service's do.
 */
function sampleEvents(perTimestamp = 1, count?: number): LogEventInput[] {
  const events: LogEventInput[] = [];
  sampleMessages()
    .slice(0, count)
    .forEach((message, index) => {
      const timestamp = T0 + Math.floor(index / perTimestamp) * 1000;
      if (index % 10 === 0) {
        for (let n = 0; n < 8; n++)
          events.push({ timestamp, message: NOISE, logStream: "kube-apiserver-audit-b" });
      }
      events.push({
        timestamp,
        message,
        logStream: index % 2 === 0 ? "kube-apiserver-audit-a" : "kube-apiserver-audit-b",
      });
    });
  return events;
}

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function collect(stream: PassThrough): () => string {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString("utf8");
}

let workDir: string;
let sleeps: number[];

/** Deps for a test: sleeps are recorded, never waited for (an aborted signal still rejects, as a timer's would). */
function testDeps(overrides: Partial<HuntDeps> = {}): Partial<HuntDeps> {
  return {
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      signal?.throwIfAborted();
    },
    random: () => 0.5,
    now: () => Date.UTC(2026, 10, 24),
    ...overrides,
  };
}

async function hunt(
  args: string[],
  options: {
    progress?: boolean;
    signal?: AbortSignal;
    env?: Record<string, string>;
    deps?: Partial<HuntDeps>;
    /** Sees each write to stdout as it happens (to press Ctrl-C after some findings). */
    onStdout?: (text: string) => void;
  } = {},
): Promise<Run> {
  const stdout = new PassThrough();
  if (options.onStdout) {
    const onStdout = options.onStdout;
    stdout.on("data", (chunk: Buffer) => onStdout(chunk.toString("utf8")));
  }
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  const status = await runHunt(
    args,
    {
      stdout,
      stderr,
      colour: false,
      progress: options.progress ?? false,
      ...(options.signal ? { signal: options.signal } : {}),
      env: options.env ?? {},
      cwd: workDir,
    },
    testDeps(options.deps),
  );
  return { status, stdout: out(), stderr: err() };
}

/** What scan prints for the first `count` samples, given as JSON Lines on standard input. */
async function scanFirst(count: number): Promise<string> {
  const stdout = new PassThrough();
  const out = collect(stdout);
  await runScan(["--format", "json", "--log-group", GROUP, "-"], {
    stdin: Readable.from([sampleMessages().slice(0, count).join("\n")]),
    stdout,
    stderr: new PassThrough().resume(),
    colour: false,
  });
  return out();
}

/**
 * What scan prints for the same log events a hunt reads: sampleEvents() as `aws logs filter-log-events` would
 * print them (timestamps included: a cut event's finding takes its time from CloudWatch's).
 */
async function scanSamples(format: "json" | "text" | "ocsf" = "json"): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out = collect(stdout);
  const err = collect(stderr);
  const dir = mkdtempSync(join(tmpdir(), "eg-hunt-scan-"));
  const file = join(dir, "filter-log-events.json");
  const events = sampleEvents().map((event) => ({
    logStreamName: event.logStream,
    timestamp: event.timestamp,
    message: event.message,
  }));
  writeFileSync(file, JSON.stringify({ events }));
  try {
    // In the order read: a hunt prints as it finds, never sorted.
    const status = await runScan(["--format", format, "--sort", "input", "--log-group", GROUP, file], {
      stdin: Readable.from([]),
      stdout,
      stderr,
      colour: false,
    });
    return { status, stdout: out(), stderr: err() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function findings(stdout: string): Finding[] {
  return stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => FindingSchema.parse(JSON.parse(line)));
}

function resumeFileFrom(stderr: string): string {
  const match = /resume with: ephemeral-guard hunt --resume (\S+)/.exec(stderr);
  if (!match?.[1]) throw new Error(`no resume hint in: ${stderr}`);
  return match[1];
}

let logs: CloudWatchLogsServer;

async function useLogsPeer(options: CloudWatchLogsServerOptions): Promise<CloudWatchLogsServer> {
  await logs?.stop();
  logs = await startCloudWatchLogsServer(options);
  process.env.AWS_ENDPOINT_URL_CLOUDWATCH_LOGS = logs.endpoint;
  return logs;
}

let scanned: Run;

beforeAll(async () => {
  process.env.AWS_REGION = "us-east-1";
  process.env.AWS_ACCESS_KEY_ID = "test";
  process.env.AWS_SECRET_ACCESS_KEY = "test";
  delete process.env.AWS_PROFILE;
  scanned = await scanSamples();
});

afterAll(async () => {
  await logs?.stop();
  for (const key of ENV_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
});

beforeEach(async () => {
  workDir = mkdtempSync(join(tmpdir(), "eg-hunt-"));
  sleeps = [];
  await useLogsPeer({ pageSize: 4, scanPerPage: 6 });
});

describe("ephemeral-guard hunt --engine filter", () => {
  it("prints exactly the findings scan prints for the same events, reading page by page through empty pages", async () => {
    logs.putLogEvents(GROUP, sampleEvents());
    const json = await hunt(["--cluster", "prod", ...RANGE, "--format", "json"]);
    expect(json.stdout).toBe(scanned.stdout);
    expect(findings(json.stdout).length).toBeGreaterThan(40);
    expect(json.status).toBe(FILTER_ENGINE_STATUS);
    expect(json.stderr).toMatch(/hunted 1 log group \(filter engine\)/);

    const pages = logs.requests.filter((request) => request.operation === "FilterLogEvents");
    const empty = pages.filter(
      (request) =>
        request.output?.nextToken !== undefined && (request.output.events as unknown[]).length === 0,
    );
    expect(empty.length).toBeGreaterThan(0);
    // Every page is asked for with the subscription's pattern, within the range (the service's end is inclusive).
    for (const request of pages) {
      expect(request.input).toMatchObject({
        logGroupName: GROUP,
        filterPattern: SUBSCRIPTION_FILTER_PATTERN,
        startTime: Date.parse("2026-11-19"),
        endTime: Date.parse("2026-11-21") - 1,
      });
    }
  });

  it("prints the same OCSF Detection Findings as scan with --format ocsf", async () => {
    logs.putLogEvents(GROUP, sampleEvents());
    const ocsf = await hunt(["--cluster", "prod", ...RANGE, "--format", "OCSF"]);
    const scanned = await scanSamples("ocsf");
    expect(ocsf.stdout).toBe(scanned.stdout);
    expect(ocsf.stdout.split("\n")[0]).toContain('"class_uid":2004');
  });

  it("prints the same text as scan", async () => {
    logs.putLogEvents(GROUP, sampleEvents());
    const text = await hunt(["--cluster", "prod", ...RANGE]);
    expect(text.stdout).toBe((await scanSamples("text")).stdout);
    expect(text.stdout).toContain(" CRITICAL ");
  });

  it("backs off with jitter on throttling and unavailability, then goes on", async () => {
    logs.putLogEvents(GROUP, sampleEvents());
    logs.fail({ operation: "DescribeLogGroups", code: "ThrottlingException", times: 1 });
    logs.fail({ operation: "FilterLogEvents", code: "ThrottlingException", times: 2 });
    logs.fail({ operation: "FilterLogEvents", code: "LimitExceededException", times: 1 });
    logs.fail({ operation: "FilterLogEvents", code: "ServiceUnavailableException", times: 1 });
    const run = await hunt(["--cluster", "prod", ...RANGE, "--format", "json"]);
    expect(run.status).toBe(FILTER_ENGINE_STATUS);
    expect(run.stdout).toBe(scanned.stdout);
    expect(run.stderr).toContain("5 calls retried");
    // Exponential from 500 ms with equal jitter (random 0.5 gives 3/4 of each ceiling): 375, 375, 750, 1500, 3000.
    expect(sleeps).toEqual([375, 375, 750, 1500, 3000]);
  });

  it("stops on throttling that does not end, says where to resume, and the resume loses nothing", async () => {
    logs.putLogEvents(GROUP, sampleEvents());
    let pages = 0;
    logs.beforeAnswer((operation) => {
      // A few pages go through, then the service throttles every request.
      if (operation === "FilterLogEvents" && ++pages === 5) {
        logs.fail({ operation: "FilterLogEvents", code: "ThrottlingException" });
      }
    });
    const stopped = await hunt(["--cluster", "prod", ...RANGE, "--format", "json"]);
    expect(stopped.status).toBe(2);
    expect(stopped.stderr).toMatch(
      /stopped: FilterLogEvents failed after 8 attempt\(s\): ThrottlingException/,
    );
    expect(findings(stopped.stdout).length).toBeGreaterThan(0);
    expect(sleeps).toHaveLength(7);
    const file = resumeFileFrom(stopped.stderr);
    expect(file.startsWith(workDir)).toBe(true);

    logs.recover();
    logs.beforeAnswer(undefined);
    const resumed = await hunt(["--resume", file, "--format", "json"]);
    expect(resumed.status).toBe(FILTER_ENGINE_STATUS);
    expect(stopped.stdout + resumed.stdout).toBe(scanned.stdout);
  });

  it("resumes after Ctrl-C from the stored token without repeating or losing a finding", async () => {
    logs.putLogEvents(GROUP, sampleEvents());
    const file = join(workDir, "state.json");
    const controller = new AbortController();
    let pages = 0;
    logs.beforeAnswer((operation) => {
      if (operation === "FilterLogEvents" && ++pages === 6) controller.abort();
    });
    const first = await hunt(["--cluster", "prod", ...RANGE, "--format", "json", "--resume", file], {
      signal: controller.signal,
    });
    expect(first.status).toBe(130);
    expect(first.stderr).toContain("interrupted at ");
    expect(resumeFileFrom(first.stderr)).toBe(file);
    const printed = findings(first.stdout).length;
    expect(printed).toBeGreaterThan(0);
    expect(printed).toBeLessThan(findings(scanned.stdout).length);

    logs.beforeAnswer(undefined);
    const second = await hunt(["--resume", file, "--format", "json"]);
    expect(second.status).toBe(FILTER_ENGINE_STATUS);
    expect(first.stdout + second.stdout).toBe(scanned.stdout);
    expect(second.stderr).toContain(`resuming ${file}`);
    const continued = logs.requests.filter((r) => r.operation === "FilterLogEvents").slice(pages);
    expect(continued[0]?.input.nextToken).toBeDefined();

    const again = await hunt(["--resume", file, "--format", "json"]);
    expect(again.stdout).toBe("");
    expect(again.stderr).toContain("0 events read");
  });

  it("resumes through the time cursor when the token expired, even inside a run of events sharing a timestamp", async () => {
    await useLogsPeer({ pageSize: 2 });
    logs.putLogEvents(GROUP, sampleEvents(3, 30));
    const full = await hunt(["--cluster", "prod", ...RANGE, "--format", "json"]);
    expect(findings(full.stdout).length).toBeGreaterThan(10);
    const file = join(workDir, "state.json");
    for (const stopAt of [3, 8]) {
      const controller = new AbortController();
      let pages = 0;
      logs.beforeAnswer((operation) => {
        if (operation === "FilterLogEvents" && ++pages === stopAt) controller.abort();
      });
      const first = await hunt(["--cluster", "prod", ...RANGE, "--format", "json", "--resume", file], {
        signal: controller.signal,
      });
      expect(first.status).toBe(130);
      const state = JSON.parse(readFileSync(file, "utf8")) as {
        targets: Array<{ filter: { seenAtFrom: string[] } }>;
      };
      expect(state.targets[0]?.filter.seenAtFrom.length).toBeGreaterThan(0);
      logs.beforeAnswer(undefined);
      logs.expireTokens();
      const second = await hunt(["--resume", file, "--format", "json"]);
      expect(second.stderr).toContain("the stored nextToken was refused");
      expect(first.stdout + second.stdout, `stopped at page ${stopAt}`).toBe(full.stdout);
      rmSync(file);
    }
  });

  it("reports a cluster whose log group does not exist, hunts the others, and exits 2", async () => {
    logs.putLogEvents(GROUP, sampleEvents());
    const file = join(workDir, "state.json");
    const run = await hunt([
      "--cluster",
      "gone",
      "--cluster",
      "prod",
      ...RANGE,
      "--format",
      "json",
      "--resume",
      file,
    ]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("cannot read /aws/eks/gone/cluster: no such log group");
    expect(run.stdout).toBe(scanned.stdout);
    // A later run of the same hunt still says what it never read.
    const again = await hunt(["--resume", file]);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain("not read: /aws/eks/gone/cluster: no such log group");
  });
});

describe("ephemeral-guard hunt --engine insights", () => {
  it("runs again the rest of a range whose query reached the row cap, printing what scan prints", async () => {
    await useLogsPeer({ rowCap: 10 });
    logs.putLogEvents(GROUP, sampleEvents());
    const run = await hunt(["--cluster", "prod", ...RANGE, "--format", "json", "--engine", "insights"]);
    expect(run.stdout).toBe(scanned.stdout);
    expect(run.status).toBe(scanned.status);
    const capped = logs.queries.filter((query) => query.recordsMatched > query.rows.length);
    expect(capped.length).toBeGreaterThan(1);
    for (const query of capped) {
      // The rows before the last row's second were kept; from that second on, the range was queried again.
      const lastSecond = Math.floor(
        Date.parse(`${query.rows.at(-1)?.[0]?.value?.replace(" ", "T")}Z`) / 1000,
      );
      expect(logs.queries.some((q) => q.startTime === lastSecond && q.startTime > query.startTime)).toBe(
        true,
      );
    }
    // Every second of the range was searched; none outside it.
    expect(Math.min(...logs.queries.map((q) => q.startTime))).toBe(Date.parse("2026-11-19") / 1000);
    expect(Math.max(...logs.queries.map((q) => q.endTime))).toBe(Date.parse("2026-11-21") / 1000 - 1);
    expect(logs.queries.every((query) => query.status === "Complete")).toBe(true);
    // Pieces after a burst are sized from it: a few dozen queries for some ninety events, not hundreds.
    expect(logs.queries.length).toBeLessThan(30);
  });

  it("asks for at most 1,000 rows a query, so events an attacker pads to 256 KB cannot fill the hunt's memory", async () => {
    await useLogsPeer({});
    const read = { ...loadAuditJson("read-get-pod-ephemeralcontainers.json") };
    logs.putLogEvents(
      GROUP,
      Array.from({ length: 1_500 }, (_, index) => ({
        timestamp: T0 + index * 10,
        message: JSON.stringify({ ...read, auditID: `read-${index}` }),
      })),
    );
    logs.putLogEvents(GROUP, [
      { timestamp: T0 + 20_000, message: JSON.stringify(loadAuditJson("run-as-root.json")) },
    ]);
    const run = await hunt(["--cluster", "prod", ...RANGE, "--format", "json", "--engine", "insights"]);
    expect(run.status).toBe(0);
    expect(findings(run.stdout)).toHaveLength(1);
    const starts = logs.requests.filter((request) => request.operation === "StartQuery");
    expect(starts.every((request) => request.input.limit === 1_000)).toBe(true);
    expect(starts.every((request) => String(request.input.queryString).endsWith("| limit 1000"))).toBe(true);
    expect(Math.max(...logs.queries.map((query) => query.rows.length))).toBe(1_000);
    expect(run.stderr).toContain("1500 read-verb");
  });

  it("runs again a query that failed, was cancelled or timed out, and throttled StartQuery calls", async () => {
    logs.putLogEvents(GROUP, sampleEvents());
    logs.failQueries("Failed", 1);
    logs.failQueries("Cancelled", 1);
    logs.failQueries("Timeout", 1);
    logs.fail({ operation: "StartQuery", code: "LimitExceededException", times: 2 });
    const run = await hunt(["--cluster", "prod", ...RANGE, "--format", "json", "--engine", "insights"]);
    expect(run.status).toBe(scanned.status);
    expect(run.stdout).toBe(scanned.stdout);
    expect(logs.queries.map((query) => query.status)).toEqual(
      expect.arrayContaining(["Failed", "Cancelled", "Timeout", "Complete"]),
    );
  });

  it("reads a second holding more rows than the cap with FilterLogEvents instead", async () => {
    await useLogsPeer({ rowCap: 3 });
    const sample = loadAuditJson("privileged-sysadmin-profile.json");
    logs.putLogEvents(
      GROUP,
      Array.from({ length: 5 }, (_, index) => ({
        timestamp: T0 + 100 + index,
        message: JSON.stringify({ ...sample, auditID: `burst-${index}` }),
      })),
    );
    const minute = ["--start", "2026-11-20T00:00:00Z", "--end", "2026-11-20T00:01:00Z"];
    const run = await hunt(["--cluster", "prod", ...minute, "--format", "json", "--engine", "insights"]);
    expect(run.status).toBe(0);
    expect(findings(run.stdout).map((finding) => finding.auditID)).toEqual([
      "burst-0",
      "burst-1",
      "burst-2",
      "burst-3",
      "burst-4",
    ]);
    expect(run.stderr).toContain("read with FilterLogEvents");
  });

  it("resumes after Ctrl-C without repeating or losing a finding, stopping the queries in flight", async () => {
    await useLogsPeer({ rowCap: 10 });
    logs.putLogEvents(GROUP, sampleEvents());
    const file = join(workDir, "state.json");
    const controller = new AbortController();
    let printed = 0;
    const first = await hunt(
      ["--cluster", "prod", ...RANGE, "--format", "json", "--engine", "insights", "--resume", file],
      {
        signal: controller.signal,
        // Ctrl-C once ten findings are out, with queries in flight for the pieces after them.
        onStdout: (text) => {
          printed += text.split("\n").length - 1;
          if (printed >= 10) controller.abort();
        },
      },
    );
    expect(first.status).toBe(130);
    expect(findings(first.stdout).length).toBeGreaterThanOrEqual(10);
    expect(findings(first.stdout).length).toBeLessThan(findings(scanned.stdout).length);
    // The queries running when Ctrl-C came were stopped, not left holding the account's query slots.
    expect(
      logs.queries.filter((query) => query.status === "Running" || query.status === "Scheduled"),
    ).toEqual([]);
    logs.beforeAnswer(undefined);
    const second = await hunt(["--resume", file, "--format", "json"]);
    expect(second.status).toBe(scanned.status);
    expect(first.stdout + second.stdout).toBe(scanned.stdout);
  });

  it("stops the queries in flight on Ctrl-C, so they do not hold the account's query slots", async () => {
    logs.putLogEvents(GROUP, sampleEvents());
    const controller = new AbortController();
    let polls = 0;
    logs.beforeAnswer((operation) => {
      if (operation === "GetQueryResults" && ++polls === 2) controller.abort();
    });
    const run = await hunt(["--cluster", "prod", ...RANGE, "--format", "json", "--engine", "insights"], {
      signal: controller.signal,
    });
    expect(run.status).toBe(130);
    expect(run.stdout).toBe("");
    const stopped = logs.requests.filter((request) => request.operation === "StopQuery");
    expect(stopped.length).toBeGreaterThan(0);
    expect(
      logs.queries.filter((query) => query.status === "Running" || query.status === "Scheduled"),
    ).toEqual([]);
    expect(resumeFileFrom(run.stderr).startsWith(workDir)).toBe(true);
  });

  it("searches up to 50 log groups per query", async () => {
    const clusters = Array.from({ length: 51 }, (_, index) => `c${String(index).padStart(2, "0")}`);
    for (const cluster of clusters) logs.createLogGroup(`/aws/eks/${cluster}/cluster`);
    logs.putLogEvents("/aws/eks/c50/cluster", [
      { timestamp: T0, message: JSON.stringify(loadAuditJson("run-as-root.json")) },
    ]);
    const run = await hunt([
      ...clusters.flatMap((cluster) => ["--cluster", cluster]),
      ...RANGE,
      "--format",
      "json",
      "--engine",
      "insights",
    ]);
    expect(run.status).toBe(0);
    expect(findings(run.stdout).map((finding) => finding.cluster)).toEqual(["c50"]);
    expect(new Set(logs.queries.map((query) => query.logGroups.length))).toEqual(new Set([50, 1]));
  });
});

describe("ephemeral-guard hunt --all-clusters", () => {
  let eks: EksServer;
  beforeAll(async () => {
    eks = await startEksServer({ listPageSize: 1 });
    process.env.AWS_ENDPOINT_URL_EKS = eks.endpoint;
  });
  afterAll(async () => {
    await eks.stop();
  });

  it("hunts every cluster EKS lists across ListClusters pages, reports one without a log group, and never lets one cluster's auditID hide another's", async () => {
    for (const name of ["prod", "dev", "dark"]) eks.putCluster({ name });
    logs.putLogEvents(GROUP, sampleEvents());
    // dev's event is the same sample as one of prod's, auditID included.
    logs.putLogEvents("/aws/eks/dev/cluster", [
      { timestamp: T0, message: JSON.stringify(loadAuditJson("secret-env.json")) },
    ]);
    const run = await hunt(["--all-clusters", ...RANGE, "--format", "json"]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("cannot read /aws/eks/dark/cluster: no such log group");
    expect(eks.requests.filter((request) => request.path === "/clusters")).toHaveLength(3);
    const clusters = findings(run.stdout).map((finding) => finding.cluster);
    expect(clusters[0]).toBe("dev");
    expect(clusters.filter((cluster) => cluster === "prod")).toHaveLength(findings(scanned.stdout).length);
  });
});

describe("ephemeral-guard hunt --publish", () => {
  let sns: SnsServer;
  let dynamo: DynamoPeer;
  const env = { ALERTS_TOPIC_ARN: TOPIC, IDEMPOTENCY_TABLE: TABLE };

  beforeAll(async () => {
    [sns, dynamo] = await Promise.all([
      startSnsServer({ topics: [TOPIC] }),
      startDynalite([idempotencyTable(TABLE)]),
    ]);
    process.env.AWS_ENDPOINT_URL_SNS = sns.endpoint;
    process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
  });
  afterAll(async () => {
    await Promise.all([sns.stop(), dynamo.stop()]);
  });
  afterEach(async () => {
    await sns.recover();
    sns.clear();
    await dynamo.clearTable(TABLE);
  });

  // Sorted: within a page the most severe are published first, so the topic's order is not the printed one.
  const publishedIDs = () =>
    sns.published.map((message) => FindingSchema.parse(JSON.parse(message.message)).auditID).sort();

  it("publishes each finding once across two runs over the same range", async () => {
    logs.putLogEvents(GROUP, sampleEvents(1, 8));
    const first = await hunt(["--cluster", "prod", ...RANGE, "--format", "json", "--publish"], { env });
    expect(first.status).toBe(0);
    const found = findings(first.stdout).map((finding) => finding.auditID);
    expect(found.length).toBeGreaterThan(5);
    expect(publishedIDs()).toEqual([...found].sort());
    expect(first.stderr).toContain(`published ${found.length} findings; 0 had been published already`);

    const second = await hunt(["--cluster", "prod", ...RANGE, "--format", "json", "--publish"], { env });
    expect(second.stdout).toBe(first.stdout);
    expect(publishedIDs()).toEqual([...found].sort());
    expect(second.stderr).toContain(`published 0 findings; ${found.length} had been published already`);
  });

  it("fills the gap after an outage: publishes only what detect had not published", async () => {
    const samples = sampleMessages().slice(0, 3);
    logs.putLogEvents(
      GROUP,
      samples.map((message, index) => ({ timestamp: T0 + index * 1000, message })),
    );
    // detect published the first one before the outage, through the same sink and idempotency records.
    const sent = new SNSClient({});
    const table = new DynamoDBClient({});
    try {
      const store = createIdempotencyStore(table, {
        tableName: TABLE,
        expiresAfterSeconds: 3600,
        keyPrefix: "ephemeral-guard.detect",
      });
      const finding = new Detector(detectionConfig({})).process({
        text: samples[0] as string,
        position: "detect",
        logGroup: GROUP,
      });
      if (!finding) throw new Error("the first sample gives no finding");
      await snsFindingSink(sent, TOPIC, store, () => 60_000)([finding]);
    } finally {
      sent.destroy();
      table.destroy();
    }
    expect(publishedIDs()).toHaveLength(1);

    const run = await hunt(["--cluster", "prod", ...RANGE, "--format", "json", "--publish"], { env });
    expect(run.stderr).toContain("published 2 findings; 1 had been published already");
    const ids = samples.map((message) => (JSON.parse(message) as { auditID: string }).auditID);
    expect(publishedIDs()).toEqual([...ids].sort());
  });

  it("stops when the topic refuses, prints nothing unpublished, and the resume publishes each finding once", async () => {
    logs.putLogEvents(GROUP, sampleEvents(1, 8));
    const expected = await scanFirst(8);
    await sns.fail({ kind: "http", status: 403, code: "AuthorizationError", message: "not allowed" });
    const stopped = await hunt(["--cluster", "prod", ...RANGE, "--format", "json", "--publish"], { env });
    expect(stopped.status).toBe(2);
    expect(stopped.stderr).toMatch(/stopped: publishing failed 4 times/);
    expect(stopped.stdout).toBe("");
    expect(sns.published).toEqual([]);

    await sns.recover();
    const resumed = await hunt(
      ["--resume", resumeFileFrom(stopped.stderr), "--format", "json", "--publish"],
      {
        env,
      },
    );
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toBe(expected);
    expect(publishedIDs()).toEqual(
      findings(expected)
        .map((finding) => finding.auditID)
        .sort(),
    );
  });

  it("refuses --publish without the topic and table, before reading anything", async () => {
    const run = await hunt(["--cluster", "prod", ...RANGE, "--publish"], { env: {} });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("ALERTS_TOPIC_ARN");
    expect(logs.requests).toEqual([]);
  });
});

describe("ephemeral-guard hunt: progress, usage and the real process", () => {
  it("draws progress on a terminal (share of the range, events, findings, rate, time left), else only the summary", async () => {
    logs.putLogEvents(GROUP, sampleEvents());
    let clock = Date.UTC(2026, 10, 24);
    const tty = await hunt(["--cluster", "prod", ...RANGE, "--format", "json"], {
      progress: true,
      deps: { now: () => (clock += 250) },
    });
    const CLEAR_LINE = "\r\u001b[2K";
    const lines = tty.stderr.split(CLEAR_LINE).filter(Boolean);
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.at(-2)).toMatch(/^hunt: \d+\.\d% of the range, \d+ events \(\d+\/s\), findings: .*critical/);
    expect(lines.some((line) => /^hunt: .*, ~\d+s left$/.test(line))).toBe(true);
    // The line is cleared before the summary.
    expect(lines.at(-1)).toMatch(/^ephemeral-guard: hunted 1 log group/);
    const pipe = await hunt(["--cluster", "prod", ...RANGE, "--format", "json"]);
    expect(pipe.stderr).not.toContain("\r");
    expect(pipe.stderr).not.toContain("% of the range");
    expect(pipe.stderr).toContain("ephemeral-guard: hunted 1 log group");
  });

  it("refuses bad arguments with the usage and exit 1, before reading anything", async () => {
    for (const args of [
      [...RANGE],
      ["--cluster", "../../other", ...RANGE],
      ["--cluster", "prod", "--all-clusters"],
      ["--cluster", "prod", "--since", "7d", "--start", "2026-11-01"],
      ["--cluster", "prod", "--start", "2026-11-01T03:00"],
      ["--cluster", "prod", "--since", "7 days"],
      ["--cluster", "prod", "--engine", "grep"],
      ["--cluster", "prod", "--start", "2026-11-21", "--end", "2026-11-20"],
    ]) {
      const run = await hunt(args);
      expect(run.status, args.join(" ")).toBe(1);
      expect(run.stdout).toBe("");
    }
    expect(logs.requests).toEqual([]);
  });

  it("stops on Ctrl-C in a real process with exit 130, and the resume file continues it", async () => {
    logs.putLogEvents(GROUP, sampleEvents(1, 12));
    const file = join(workDir, "state.json");
    let release: () => void = () => undefined;
    let pages = 0;
    const held = new Promise<void>((resolve) => {
      logs.beforeAnswer((operation) => {
        if (operation !== "FilterLogEvents" || ++pages !== 3) return undefined;
        resolve();
        return new Promise<void>((done) => {
          release = done;
        });
      });
    });
    const child = spawn(
      process.execPath,
      [
        join(ROOT, "bin", "ephemeral-guard.mjs"),
        "hunt",
        "--cluster",
        "prod",
        ...RANGE,
        "--format",
        "json",
        "--resume",
        file,
      ],
      {
        env: {
          PATH: process.env.PATH,
          AWS_REGION: "us-east-1",
          AWS_ACCESS_KEY_ID: "test",
          AWS_SECRET_ACCESS_KEY: "test",
          AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.endpoint,
        },
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    await held;
    child.kill("SIGINT");
    const code = await exited;
    release();
    logs.beforeAnswer(undefined);
    expect(code, stderr).toBe(130);
    expect(stderr).toContain(`resume with: ephemeral-guard hunt --resume ${file}`);
    expect(findings(stdout).length).toBeGreaterThan(0);
    const resumed = await hunt(["--resume", file, "--format", "json"]);
    expect(stdout + resumed.stdout).toBe(await scanFirst(12));
  });
});

describe("ephemeral-guard hunt --config with rule overrides", () => {
  function putSample(name: string): void {
    const message = JSON.stringify(loadAuditJson(name));
    logs.putLogEvents(GROUP, [{ timestamp: T0, message, logStream: "kube-apiserver-audit-a" }]);
  }

  function configFile(config: unknown): string {
    const path = join(workDir, "tuned.json");
    writeFileSync(path, JSON.stringify(config));
    return path;
  }

  it("scores what it finds as the tuned configuration says, as scan does", async () => {
    putSample("run-as-root");
    const config = configFile({ rules: { "container.run-as-root": { level: "high" } } });
    const result = await hunt(["--cluster", "prod", ...RANGE, "--format", "json", "--config", config]);
    const [finding, ...more] = findings(result.stdout);
    expect(more).toEqual([]);
    expect(finding?.severity).toBe("high");
    expect(finding?.reasons[0]?.text).toContain("(level high set by configuration; default medium)");
  });

  it("refuses a typo in a rule id with the closest id, before asking CloudWatch Logs for anything", async () => {
    putSample("run-as-root");
    const config = configFile({ rules: { "container.run-as-rot": { level: "high" } } });
    const result = await hunt(["--cluster", "prod", ...RANGE, "--format", "json", "--config", config]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain('did you mean "container.run-as-root"?');
    expect(logs.requests).toEqual([]);
  });
});
