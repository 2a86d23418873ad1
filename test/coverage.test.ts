import { Logger } from "@aws-lambda-powertools/logger";
import {
  CloudWatchLogsClient,
  DeleteSubscriptionFilterCommand,
  PutSubscriptionFilterCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { EKSClient } from "@aws-sdk/client-eks";
import { SNSClient } from "@aws-sdk/client-sns";
import type { Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createIdempotencyStore } from "../functions/adapters/aws/act-once.ts";
import { AUDIT_STREAM_PREFIX } from "../functions/adapters/aws/audit-log-freshness.ts";
import { CoverageStateStore } from "../functions/adapters/aws/coverage-state-store.ts";
import { EksClusters } from "../functions/adapters/aws/eks-clusters.ts";
import {
  SUBSCRIPTION_FILTER_NAME_SUFFIX,
  SUBSCRIPTION_FILTER_PATTERN,
} from "../functions/adapters/aws/subscription-filter.ts";
import {
  COVERAGE_KEY_PREFIX,
  type CoverageDeps,
  CoveragePublishError,
  type CoverageSettings,
  type CoverageSummary,
  runCoverage,
} from "../functions/adapters/lambda/coverage-invocation.ts";
import { type ClusterScope, clusterScope } from "../functions/core/cluster-coverage/cluster-scope.ts";
import {
  type CoverageAlert,
  CoverageAlertSchema,
} from "../functions/core/cluster-coverage/coverage-alert.ts";
import { createCoverageHandler } from "../functions/coverage.ts";
import { readEventText } from "./helpers/events.ts";
import { type CloudWatchLogsServer, startCloudWatchLogsServer } from "./peers/cloudwatch-logs-server.ts";
import { type DynamoPeer, idempotencyTable, startDynalite, TEST_CREDENTIALS } from "./peers/dynalite.ts";
import { type EksClusterRecord, type EksServer, startEksServer } from "./peers/eks-server.ts";
import { type SnsServer, startSnsServer } from "./peers/sns-server.ts";

const REGION = "eu-west-1";
const ACCOUNT = "111122223333";
const STACK = "ephemeral-guard-prod";
const FILTER_NAME = `${STACK}-${SUBSCRIPTION_FILTER_NAME_SUFFIX}`;
const DETECT_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:ephemeral-guard-prod-detect`;
const ATTACKER_SINK = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:log-sink`;
const TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:ephemeral-guard-prod-alerts`;
const COVERAGE_TABLE = "coverage";
const IDEMPOTENCY_TABLE = "idempotency";
const MINUTE = 60_000;
const SILENCE_MS = 30 * MINUTE;
/** The time of the CloudTrail samples in events/cloudtrail: the clock starts just before them. */
const START = Date.parse("2026-11-20T09:30:00Z");

let eks: EksServer;
let logs: CloudWatchLogsServer;
let dynamo: DynamoPeer;
let sns: SnsServer;
/** What an operator (or an attacker) with CloudWatch Logs permissions does, over the real protocol. */
let console_: CloudWatchLogsClient;
let clock: { now: number };
let logLines: string[];
const clusterNames = new Set<string>();

const logGroup = (cluster: string) => `/aws/eks/${cluster}/cluster`;

function settings(scope: ClusterScope = clusterScope()): CoverageSettings {
  return {
    region: REGION,
    topicArn: TOPIC_ARN,
    scope,
    desiredFilter: {
      filterName: FILTER_NAME,
      destinationArn: DETECT_ARN,
      filterPattern: SUBSCRIPTION_FILTER_PATTERN,
    },
    filtersPerLogGroup: 2,
    silenceMs: SILENCE_MS,
    recordTtlSeconds: 7 * 86_400,
    concurrency: 4,
  };
}

function deps(scope?: ClusterScope, at?: number): CoverageDeps {
  const config = { region: REGION, credentials: TEST_CREDENTIALS, maxAttempts: 1 };
  return {
    settings: settings(scope),
    clusters: new EksClusters(new EKSClient({ ...config, endpoint: eks.endpoint })),
    logs: new CloudWatchLogsClient({ ...config, endpoint: logs.endpoint }),
    sns: new SNSClient({ ...config, endpoint: sns.endpoint }),
    state: new CoverageStateStore(dynamo.client, COVERAGE_TABLE),
    idempotency: createIdempotencyStore(dynamo.client, {
      tableName: IDEMPOTENCY_TABLE,
      expiresAfterSeconds: 3_600,
      keyPrefix: COVERAGE_KEY_PREFIX,
    }),
    logger: new Logger({ serviceName: "coverage" }),
    now: () => new Date(at ?? clock.now),
  };
}

const scheduled = () => ({
  version: "0",
  id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
  "detail-type": "Scheduled Event",
  source: "aws.events",
  account: ACCOUNT,
  time: new Date(clock.now).toISOString(),
  region: REGION,
  resources: [`arn:aws:events:${REGION}:${ACCOUNT}:rule/ephemeral-guard-prod-CoverageSchedule-1X2Y3Z`],
  detail: {},
});

function cloudTrail(name: string): Record<string, unknown> {
  return JSON.parse(readEventText(`cloudtrail/${name}`)) as Record<string, unknown>;
}

/** One run; `at` fixes its clock (concurrent runs each read their own time). */
function run(event: unknown = scheduled(), scope?: ClusterScope, at?: number): Promise<CoverageSummary> {
  return runCoverage(event, deps(scope, at), () => 60_000);
}

/** An audit event line as EKS writes it, in the cluster's audit stream. */
function audit(cluster: string, at: number): void {
  logs.putLogEvents(logGroup(cluster), [
    {
      timestamp: at,
      logStream: `${AUDIT_STREAM_PREFIX}0f1e2d3c4b5a69788`,
      message: JSON.stringify({
        kind: "Event",
        apiVersion: "audit.k8s.io/v1",
        verb: "get",
        auditID: `a-${at}`,
      }),
    },
  ]);
}

/** A cluster that logs its audit events, the last one a minute ago. */
function addCluster(name: string, record: Partial<EksClusterRecord> = {}): void {
  clusterNames.add(name);
  eks.putCluster({ name, createdAt: new Date(START - 30 * 86_400_000), ...record });
  logs.createLogGroup(logGroup(name));
  if ((record.logTypes ?? ["audit"]).includes("audit")) audit(name, clock.now - MINUTE);
}

function advance(ms: number): void {
  clock.now += ms;
}

interface Published {
  attributes: Record<string, string>;
  alert: CoverageAlert;
}

function alerts(): Published[] {
  return sns.published.map((message) => ({
    attributes: Object.fromEntries(
      Object.entries(message.messageAttributes).map(([name, attribute]) => [name, attribute.value]),
    ),
    alert: CoverageAlertSchema.parse(JSON.parse(message.message)),
  }));
}

function filterOf(cluster: string, name = FILTER_NAME) {
  return logs.subscriptionFilters(logGroup(cluster)).find((filter) => filter.filterName === name);
}

function requests(operation: string): number {
  return logs.requests.filter((request) => request.operation === operation).length;
}

/** PutSubscriptionFilter calls for detect's filter (the test's own console calls use other names or come first). */
function ourPuts(): number {
  return logs.requests.filter(
    (request) => request.operation === "PutSubscriptionFilter" && request.input.filterName === FILTER_NAME,
  ).length;
}

beforeAll(async () => {
  [eks, logs, dynamo, sns] = await Promise.all([
    startEksServer({ accountId: ACCOUNT, region: REGION }),
    startCloudWatchLogsServer({ accountId: ACCOUNT, region: REGION }),
    startDynalite([
      { name: COVERAGE_TABLE, partitionKey: "cluster", ttlAttribute: "expiresAt" },
      idempotencyTable(IDEMPOTENCY_TABLE),
    ]),
    startSnsServer(),
  ]);
  console_ = new CloudWatchLogsClient({
    endpoint: logs.endpoint,
    region: REGION,
    credentials: TEST_CREDENTIALS,
    maxAttempts: 1,
  });
});

afterAll(async () => {
  console_.destroy();
  await Promise.all([eks.stop(), logs.stop(), dynamo.stop(), sns.stop()]);
});

beforeEach(async () => {
  clock = { now: START };
  logs.reset();
  sns.clear();
  await sns.recover();
  await dynamo.clearTable(COVERAGE_TABLE, "cluster");
  await dynamo.clearTable(IDEMPOTENCY_TABLE);
  logLines = [];
  // Powertools Logger writes JSON lines to stdout (stderr for errors): captured to assert on, kept off the console.
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array) => {
      logLines.push(String(chunk));
      return true;
    });
  }
});

afterEach(() => {
  vi.restoreAllMocks();
  for (const name of clusterNames) eks.deleteCluster(name);
  clusterNames.clear();
});

describe("coverage: every cluster subscribed, and one alert when one goes blind", () => {
  it("subscribes a new cluster's audit log group to detect without an alert: onboarding is not news", async () => {
    addCluster("prod-eu");
    const summary = await run();
    expect(filterOf("prod-eu")).toMatchObject({
      destinationArn: DETECT_ARN,
      filterPattern: SUBSCRIPTION_FILTER_PATTERN,
    });
    expect(summary).toMatchObject({ request: "sweep", clusters: 1, filtersPut: 1, blind: 0 });
    expect(summary.outcomes.unchanged).toBe(1);
    expect(alerts()).toEqual([]);
  });

  it("publishes nothing and puts nothing on a run that finds no change, so the schedule never floods Slack", async () => {
    addCluster("prod-eu");
    await run();
    const puts = ourPuts();
    advance(10 * MINUTE);
    audit("prod-eu", clock.now - MINUTE);
    const summary = await run();
    expect(summary.outcomes.unchanged).toBe(1);
    expect(summary.filtersPut).toBe(0);
    expect(ourPuts()).toBe(puts);
    expect(alerts()).toEqual([]);
  });

  it("puts detect's filter back when someone deletes it, and says so once, with where the gap starts", async () => {
    addCluster("prod-eu");
    await run();
    await console_.send(
      new DeleteSubscriptionFilterCommand({ logGroupName: logGroup("prod-eu"), filterName: FILTER_NAME }),
    );
    advance(10 * MINUTE);
    audit("prod-eu", clock.now - MINUTE);
    await run();
    expect(filterOf("prod-eu")?.destinationArn).toBe(DETECT_ARN);
    const [restored, ...more] = alerts();
    expect(more).toEqual([]);
    expect(restored?.attributes).toEqual({
      messageType: "coverage",
      severity: "medium",
      severityRank: "2",
      cluster: "prod-eu",
      state: "covered",
    });
    expect(restored?.alert).toMatchObject({
      alert: "restored",
      repair: { reason: "create" },
      coveredUntil: new Date(START).toISOString(),
    });
    expect(restored?.alert.action).toContain(
      `ephemeral-guard hunt --cluster prod-eu --start ${new Date(START).toISOString()}`,
    );
    advance(10 * MINUTE);
    audit("prod-eu", clock.now - MINUTE);
    await run();
    expect(alerts()).toHaveLength(1);
  });

  it("points detect's filter back at detect when someone redirects it to their own function", async () => {
    addCluster("prod-eu");
    await run();
    await console_.send(
      new PutSubscriptionFilterCommand({
        logGroupName: logGroup("prod-eu"),
        filterName: FILTER_NAME,
        filterPattern: '{ $.verb = "get" }',
        destinationArn: ATTACKER_SINK,
      }),
    );
    advance(5 * MINUTE);
    await run();
    expect(filterOf("prod-eu")).toMatchObject({
      destinationArn: DETECT_ARN,
      filterPattern: SUBSCRIPTION_FILTER_PATTERN,
    });
    expect(alerts().map(({ alert }) => alert)).toEqual([
      expect.objectContaining({
        alert: "restored",
        severity: "medium",
        repair: { reason: "redirect", previousDestination: ATTACKER_SINK },
      }),
    ]);
  });

  it("updates a filter of ours with an outdated pattern without an alert: a release changed the pattern", async () => {
    addCluster("prod-eu");
    await run();
    await console_.send(
      new PutSubscriptionFilterCommand({
        logGroupName: logGroup("prod-eu"),
        filterName: FILTER_NAME,
        // The JSON pattern of an earlier release, which missed events cut mid-JSON.
        filterPattern: '{ $.objectRef.subresource = "ephemeralcontainers" }',
        destinationArn: DETECT_ARN,
      }),
    );
    const summary = await run();
    expect(summary.filtersPut).toBe(1);
    expect(filterOf("prod-eu")?.filterPattern).toBe(SUBSCRIPTION_FILTER_PATTERN);
    expect(alerts()).toEqual([]);
  });

  it("never removes a filter it does not own when others fill both slots: one high alert, then recovery once a slot is free", async () => {
    addCluster("staging");
    for (const name of ["siem-forwarder", "attacker-decoy"]) {
      await console_.send(
        new PutSubscriptionFilterCommand({
          logGroupName: logGroup("staging"),
          filterName: name,
          filterPattern: "",
          destinationArn: ATTACKER_SINK,
        }),
      );
    }
    const summary = await run();
    expect(summary.blind).toBe(1);
    expect(logs.subscriptionFilters(logGroup("staging")).map((filter) => filter.filterName)).toEqual([
      "siem-forwarder",
      "attacker-decoy",
    ]);
    expect(requests("DeleteSubscriptionFilter")).toBe(0);
    expect(ourPuts()).toBe(0);
    const [blocked] = alerts();
    expect(blocked?.attributes).toMatchObject({ severity: "high", severityRank: "3", state: "unsubscribed" });
    expect(blocked?.alert.problems[0]?.detail).toMatch(
      /taken by other filters \(siem-forwarder, attacker-decoy\)/,
    );
    expect(blocked?.alert.action).toMatch(/Free a subscription filter slot/);

    advance(10 * MINUTE);
    audit("staging", clock.now - MINUTE);
    await run();
    expect(alerts()).toHaveLength(1);

    await console_.send(
      new DeleteSubscriptionFilterCommand({
        logGroupName: logGroup("staging"),
        filterName: "attacker-decoy",
      }),
    );
    advance(10 * MINUTE);
    await run();
    expect(filterOf("staging")?.destinationArn).toBe(DETECT_ARN);
    expect(filterOf("staging", "siem-forwarder")).toBeDefined();
    const recovered = alerts()[1]?.alert;
    expect(recovered).toMatchObject({ alert: "recovered", severity: "info", previousState: "unsubscribed" });
    expect(recovered?.action).toMatch(/stored but not analysed.*ephemeral-guard hunt --cluster staging/);
  });

  it("announces audit logging switched off once (high), and switched back on once (info)", async () => {
    addCluster("prod-eu");
    await run();
    eks.putCluster({ name: "prod-eu", logTypes: ["api"] });
    advance(10 * MINUTE);
    await run();
    advance(10 * MINUTE);
    await run();
    expect(alerts().map(({ attributes }) => attributes)).toEqual([
      expect.objectContaining({ severity: "high", state: "audit-disabled" }),
    ]);
    expect(alerts()[0]?.alert.action).toContain("aws eks update-cluster-config --name prod-eu");

    eks.putCluster({ name: "prod-eu", logTypes: ["audit"] });
    advance(10 * MINUTE);
    audit("prod-eu", clock.now - MINUTE);
    await run();
    const recovered = alerts()[1]?.alert;
    expect(recovered).toMatchObject({
      alert: "recovered",
      severity: "info",
      previousState: "audit-disabled",
    });
    expect(recovered?.action).toMatch(/No audit events exist for the time audit logging was off/);
    expect(alerts()).toHaveLength(2);
  });

  it("announces audit logging being switched off at once, naming who, while the update is still in progress", async () => {
    addCluster("prod-eu");
    await run();
    // EKS still reports the old logging configuration until the update completes.
    eks.putCluster({ name: "prod-eu", status: "UPDATING" });
    clock.now = Date.parse("2026-11-20T10:02:50Z");
    const summary = await run(cloudTrail("update-cluster-config-audit-logging-off"));
    expect(summary).toMatchObject({ request: "cluster", clusters: 1 });
    const [disabled] = alerts();
    expect(disabled?.alert).toMatchObject({
      alert: "audit-disabled",
      severity: "high",
      trigger: {
        eventName: "UpdateClusterConfig",
        actor: `arn:aws:sts::${ACCOUNT}:assumed-role/eks-admin/mallory`,
        sourceIPAddress: "203.0.113.45",
        eventTime: "2026-11-20T10:02:44Z",
      },
    });
    expect(disabled?.alert.problems[0]?.detail).toMatch(/switching the audit log type off/);
    // The update completes: same state, no second alert; and no "recovered" while it was in progress.
    eks.putCluster({ name: "prod-eu", logTypes: ["api"] });
    advance(10 * MINUTE);
    await run();
    expect(alerts()).toHaveLength(1);
  });

  it("reports a cluster whose audit events stop arriving as silent (medium), and its return as recovered", async () => {
    addCluster("prod-eu");
    await run();
    advance(SILENCE_MS + MINUTE);
    await run();
    const [silent] = alerts();
    expect(silent?.attributes).toMatchObject({ severity: "medium", state: "silent" });
    expect(silent?.alert.lastAuditEventAt).toBe(new Date(START - MINUTE).toISOString());
    expect(silent?.alert.problems[0]?.detail).toMatch(/quiet for longer than 30 minutes/);
    advance(MINUTE);
    audit("prod-eu", clock.now - 1_000);
    await run();
    expect(alerts()[1]?.alert).toMatchObject({ alert: "recovered", previousState: "silent" });
  });

  it("does not take a lagging lastEventTimestamp for silence: FilterLogEvents finds the recent events", async () => {
    addCluster("prod-eu");
    // What DescribeLogStreams reports lags ingestion (AWS: typically under an hour, sometimes more).
    logs.setLogStream(logGroup("prod-eu"), `${AUDIT_STREAM_PREFIX}0f1e2d3c4b5a69788`, {
      lastEventTimestamp: clock.now - 2 * 3_600_000,
      lastIngestionTime: clock.now - 2 * 3_600_000,
    });
    await run();
    advance(SILENCE_MS + MINUTE);
    audit("prod-eu", clock.now - MINUTE);
    logs.setLogStream(logGroup("prod-eu"), `${AUDIT_STREAM_PREFIX}0f1e2d3c4b5a69788`, {
      lastEventTimestamp: START - 2 * 3_600_000,
      lastIngestionTime: START - 2 * 3_600_000,
    });
    const summary = await run();
    expect(summary.outcomes.unchanged).toBe(1);
    expect(requests("FilterLogEvents")).toBeGreaterThan(0);
    expect(alerts()).toEqual([]);
  });

  it("never turns a throttled CloudWatch Logs answer into a false alarm or a false all-clear", async () => {
    addCluster("prod-eu");
    await run();
    advance(SILENCE_MS + MINUTE);
    await run();
    expect(alerts()).toHaveLength(1);
    // Events arrive again, but CloudWatch Logs throttles the check: silent stays silent, nothing is announced.
    audit("prod-eu", clock.now);
    logs.fail({ operation: "DescribeSubscriptionFilters", code: "ThrottlingException" });
    advance(10 * MINUTE);
    const summary = await run();
    expect(summary.outcomes.inconclusive).toBe(1);
    expect(alerts()).toHaveLength(1);
    expect(logLines.join("")).toContain("cluster not decided in this run; its state is unchanged");
    logs.recover();
    await run();
    expect(alerts()[1]?.alert.alert).toBe("recovered");
  });

  it("still announces a deleted filter it put back when the rest of the check fails (throttled freshness)", async () => {
    addCluster("prod-eu");
    await run();
    await console_.send(
      new DeleteSubscriptionFilterCommand({ logGroupName: logGroup("prod-eu"), filterName: FILTER_NAME }),
    );
    logs.fail({ operation: "DescribeLogStreams", code: "ThrottlingException" });
    advance(10 * MINUTE);
    await run();
    expect(filterOf("prod-eu")).toBeDefined();
    expect(alerts().map(({ alert }) => [alert.alert, alert.state])).toEqual([["restored", "covered"]]);
    logs.recover();
    advance(10 * MINUTE);
    await run();
    expect(alerts()).toHaveLength(1);
  });

  it("announces a change once when the schedule and a CloudTrail event check the cluster at the same time", async () => {
    addCluster("prod-eu");
    await run();
    eks.putCluster({ name: "prod-eu", logTypes: [] });
    advance(10 * MINUTE);
    const results = await Promise.all([
      run(),
      run(cloudTrail("update-cluster-config-audit-logging-off")),
      run(),
    ]);
    expect(results.reduce((total, summary) => total + summary.outcomes.alerted, 0)).toBe(1);
    expect(alerts()).toHaveLength(1);
    expect(alerts()[0]?.alert.alert).toBe("audit-disabled");
  });

  it("keeps an alert SNS refused and publishes it on the next run, exactly once", async () => {
    addCluster("prod-eu");
    await run();
    eks.putCluster({ name: "prod-eu", logTypes: [] });
    await sns.fail({ kind: "http", status: 500, code: "InternalError" });
    advance(10 * MINUTE);
    await expect(run()).rejects.toBeInstanceOf(CoveragePublishError);
    expect(alerts()).toEqual([]);
    await sns.recover();
    advance(MINUTE);
    await run();
    advance(10 * MINUTE);
    await run();
    expect(alerts().map(({ alert }) => alert.alert)).toEqual(["audit-disabled"]);
  });

  it("starts no check it could not finish near the function's deadline: counted and logged, nothing changed", async () => {
    addCluster("prod-eu");
    addCluster("staging");
    const summary = await runCoverage(scheduled(), deps(), () => 10_000);
    expect(summary.outcomes["out-of-time"]).toBe(2);
    expect(summary.filtersPut).toBe(0);
    expect(ourPuts()).toBe(0);
    expect(logLines.join("")).toContain("cluster not decided in this run; its state is unchanged");
  });

  it("announces a deleted cluster once, then stops checking it", async () => {
    addCluster("prod-eu");
    addCluster("staging");
    await run();
    eks.deleteCluster("prod-eu");
    advance(10 * MINUTE);
    const summary = await run();
    expect(summary.clusters).toBe(2);
    expect(alerts().map(({ alert }) => [alert.cluster, alert.alert, alert.severity])).toEqual([
      ["prod-eu", "deleted", "info"],
    ]);
    advance(10 * MINUTE);
    const after = await run();
    expect(after.clusters).toBe(1);
    expect(alerts()).toHaveLength(1);
  });

  it("checks only the clusters in scope and never touches an excluded one", async () => {
    for (const name of ["prod-eu", "staging", "sandbox"]) addCluster(name);
    await run(scheduled(), clusterScope({ excludedClusters: ["sandbox"] }));
    expect(filterOf("prod-eu")).toBeDefined();
    expect(filterOf("staging")).toBeDefined();
    expect(filterOf("sandbox")).toBeUndefined();
    expect(eks.requests.some((request) => request.path === "/clusters/sandbox")).toBe(false);

    logs.reset();
    for (const name of ["prod-eu", "staging", "sandbox"]) logs.createLogGroup(logGroup(name));
    const listed = await run(scheduled(), clusterScope({ clusters: ["prod-eu", "gone-eu"] }));
    expect(listed.clusters).toBe(2);
    expect(filterOf("prod-eu")).toBeDefined();
    expect(filterOf("staging")).toBeUndefined();
    expect(logLines.join("")).toContain(
      "clusters listed in the clusters parameter do not exist in this region",
    );
  });
});

describe("the CloudTrail calls that change coverage (events/cloudtrail)", () => {
  it("CreateCluster: leaves a cluster that is still being created alone, and subscribes it once ACTIVE", async () => {
    addCluster("prod-eu", { status: "CREATING" });
    const summary = await run(cloudTrail("create-cluster-with-audit-logging"));
    expect(summary).toMatchObject({ request: "cluster", clusters: 1 });
    expect(summary.outcomes["not-ready"]).toBe(1);
    expect(filterOf("prod-eu")).toBeUndefined();
    eks.putCluster({ name: "prod-eu", status: "ACTIVE", createdAt: new Date(clock.now) });
    await run();
    expect(filterOf("prod-eu")?.destinationArn).toBe(DETECT_ARN);
    expect(alerts()).toEqual([]);
  });

  it("DeleteSubscriptionFilter: restores detect's filter at once and names who deleted it", async () => {
    addCluster("prod-eu");
    await run();
    await console_.send(
      new DeleteSubscriptionFilterCommand({ logGroupName: logGroup("prod-eu"), filterName: FILTER_NAME }),
    );
    const summary = await run(cloudTrail("delete-subscription-filter-of-detect"));
    expect(summary).toMatchObject({ request: "cluster", filtersPut: 1 });
    expect(filterOf("prod-eu")).toBeDefined();
    expect(alerts()[0]?.alert).toMatchObject({
      alert: "restored",
      trigger: { eventName: "DeleteSubscriptionFilter", actor: expect.stringContaining("/mallory") },
    });
  });

  it("PutSubscriptionFilter: undoes a redirect of detect's filter at once", async () => {
    addCluster("prod-eu");
    await run();
    await console_.send(
      new PutSubscriptionFilterCommand({
        logGroupName: logGroup("prod-eu"),
        filterName: FILTER_NAME,
        filterPattern: '{ $.verb = "get" }',
        destinationArn: ATTACKER_SINK,
      }),
    );
    await run(cloudTrail("put-subscription-filter-redirecting-detect"));
    expect(filterOf("prod-eu")?.destinationArn).toBe(DETECT_ARN);
    expect(alerts()[0]?.alert).toMatchObject({
      alert: "restored",
      repair: { reason: "redirect", previousDestination: ATTACKER_SINK },
      trigger: { eventName: "PutSubscriptionFilter" },
    });
  });

  it("DeleteLogGroup: reports the cluster unsubscribed (high) when its log group is gone", async () => {
    addCluster("prod-eu");
    await run();
    logs.deleteLogGroup(logGroup("prod-eu"));
    await run(cloudTrail("delete-log-group-of-cluster"));
    const [gone] = alerts();
    expect(gone?.attributes).toMatchObject({ severity: "high", state: "unsubscribed" });
    expect(gone?.alert.problems[0]?.detail).toBe("the log group /aws/eks/prod-eu/cluster does not exist");
    expect(gone?.alert.trigger?.eventName).toBe("DeleteLogGroup");
  });

  it("DeleteCluster: announces the cluster deleted (info) while EKS is still deleting it", async () => {
    addCluster("prod-eu");
    await run();
    eks.putCluster({ name: "prod-eu", status: "DELETING" });
    await run(cloudTrail("delete-cluster"));
    expect(alerts().map(({ alert }) => [alert.alert, alert.severity, alert.trigger?.eventName])).toEqual([
      ["deleted", "info", "DeleteCluster"],
    ]);
    eks.deleteCluster("prod-eu");
    advance(10 * MINUTE);
    await run();
    expect(alerts()).toHaveLength(1);
  });

  it("pins nothing on anyone for a call that failed, and ignores log groups that are not a cluster's", async () => {
    addCluster("prod-eu");
    await run();
    const denied = cloudTrail("delete-subscription-filter-of-detect");
    (denied.detail as Record<string, unknown>).errorCode = "AccessDenied";
    const summary = await run(denied);
    expect(summary.outcomes.unchanged).toBe(1);
    const elsewhere = cloudTrail("delete-log-group-of-cluster");
    (elsewhere.detail as { requestParameters: Record<string, unknown> }).requestParameters.logGroupName =
      "/aws/lambda/ephemeral-guard-prod-detect";
    expect(await run(elsewhere)).toMatchObject({ request: "ignore", clusters: 0 });
    expect(alerts()).toEqual([]);
  });

  it("checks a cluster outside the scope for nobody", async () => {
    addCluster("prod-eu");
    eks.requests.length = 0;
    const summary = await run(
      cloudTrail("delete-log-group-of-cluster"),
      clusterScope({ excludedClusters: ["prod-eu"] }),
    );
    expect(summary.clusters).toBe(0);
    expect(eks.requests).toEqual([]);
  });
});

describe("the deployed handler", () => {
  function lambdaContext(): Context {
    return {
      callbackWaitsForEmptyEventLoop: false,
      functionName: "ephemeral-guard-prod-coverage",
      functionVersion: "$LATEST",
      invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:ephemeral-guard-prod-coverage`,
      memoryLimitInMB: "512",
      awsRequestId: "f3c1a2b4-5d6e-4f70-8a9b-0c1d2e3f4a5b",
      logGroupName: "/aws/lambda/ephemeral-guard-prod-coverage",
      logStreamName: "2026/11/20/[$LATEST]0123456789abcdef",
      getRemainingTimeInMillis: () => 100_000,
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
  }

  it("runs through lambdaHandler with the dependencies it is given", async () => {
    addCluster("prod-eu");
    const handler = createCoverageHandler(() => deps());
    const summary = await handler(scheduled(), lambdaContext());
    expect(summary.filtersPut).toBe(1);
  });

  it("reaches AWS only through the SDK's standard endpoint chain (AWS_ENDPOINT_URL_<SERVICE>)", async () => {
    addCluster("prod-eu");
    const env: Record<string, string> = {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_EKS: eks.endpoint,
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SNS: sns.endpoint,
      ALERTS_TOPIC_ARN: TOPIC_ARN,
      COVERAGE_TABLE,
      IDEMPOTENCY_TABLE,
      DETECT_FUNCTION_ARN: DETECT_ARN,
      STACK_NAME: STACK,
      COVERAGE_CLUSTERS: "",
      EXCLUDED_CLUSTERS: "",
      SILENCE_MINUTES: "30",
    };
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    try {
      const { handler } = await import("../functions/coverage.ts");
      const summary = (await handler(scheduled(), lambdaContext())) as CoverageSummary;
      expect(summary).toMatchObject({ request: "sweep", clusters: 1, filtersPut: 1 });
      expect(filterOf("prod-eu")).toMatchObject({ filterName: FILTER_NAME, destinationArn: DETECT_ARN });
      expect(logs.requests.every((request) => request.signed)).toBe(true);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
