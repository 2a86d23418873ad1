import {
  CloudWatchLogsClient,
  DeleteSubscriptionFilterCommand,
  DescribeLogGroupsCommand,
  DescribeLogStreamsCommand,
  DescribeSubscriptionFiltersCommand,
  FilterLogEventsCommand,
  type FilterLogEventsCommandOutput,
  GetQueryResultsCommand,
  PutSubscriptionFilterCommand,
  StartQueryCommand,
  StopQueryCommand,
} from "@aws-sdk/client-cloudwatch-logs";
import { DescribeClusterCommand, EKSClient, ListClustersCommand } from "@aws-sdk/client-eks";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SUBSCRIPTION_FILTER_PATTERN } from "../../functions/adapters/aws/subscription-filter.ts";
import { compileFilterPattern } from "./cloudwatch-logs-filter-pattern.ts";
import { type CloudWatchLogsServer, startCloudWatchLogsServer } from "./cloudwatch-logs-server.ts";
import { type EksServer, startEksServer } from "./eks-server.ts";

const GROUP = "/aws/eks/prod/cluster";
/** A JSON pattern of the form the stack has used, independent of what infra/subscription-filter.json holds now. */
const JSON_PATTERN =
  '{ $.objectRef.subresource = "ephemeralcontainers" && ($.verb = "patch" || $.verb = "update") }';
const T0 = Date.UTC(2026, 10, 24, 3, 0, 0);
const CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

const write = (verb: string, extra = "") =>
  JSON.stringify({
    kind: "Event",
    verb,
    objectRef: { resource: "pods", subresource: "ephemeralcontainers" },
    extra,
  });

describe("CloudWatch Logs loopback peer, through the real SDK client", () => {
  let logs: CloudWatchLogsServer;
  let client: CloudWatchLogsClient;

  beforeAll(async () => {
    logs = await startCloudWatchLogsServer({ pageSize: 2, scanPerPage: 3, rowCap: 3 });
    client = new CloudWatchLogsClient({
      endpoint: logs.endpoint,
      region: "us-east-1",
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await logs.stop();
  });
  beforeEach(() => logs.reset());

  it("pages FilterLogEvents within the time bounds, with empty pages and a token before the range is done", async () => {
    logs.putLogEvents(GROUP, [
      { timestamp: T0, message: write("patch") },
      ...Array.from({ length: 5 }, (_, i) => ({ timestamp: T0 + 1 + i, message: write("get") })),
      { timestamp: T0 + 10, message: write("update") },
      { timestamp: T0 + 11, message: write("patch") },
      { timestamp: T0 + 99, message: write("patch", "outside the range") },
    ]);
    const pages: FilterLogEventsCommandOutput[] = [];
    let nextToken: string | undefined;
    do {
      const page = await client.send(
        new FilterLogEventsCommand({
          logGroupName: GROUP,
          startTime: T0,
          endTime: T0 + 11,
          filterPattern: JSON_PATTERN,
          nextToken,
        }),
      );
      pages.push(page);
      nextToken = page.nextToken;
    } while (nextToken);
    expect(pages.map((page) => page.events?.map((event) => event.timestamp))).toEqual([
      [T0],
      [],
      [T0 + 10, T0 + 11],
    ]);
    expect(pages[0]?.events?.[0]).toMatchObject({
      logStreamName: "kube-apiserver-audit-0",
      ingestionTime: T0,
    });
  });

  it("refuses a nextToken that belongs to another request or has expired", async () => {
    logs.putLogEvents(
      GROUP,
      Array.from({ length: 5 }, (_, i) => ({ timestamp: T0 + i, message: "ephemeralcontainers" })),
    );
    const first = await client.send(new FilterLogEventsCommand({ logGroupName: GROUP }));
    expect(first.nextToken).toBeDefined();
    await expect(
      client.send(
        new FilterLogEventsCommand({ logGroupName: GROUP, startTime: T0 + 1, nextToken: first.nextToken }),
      ),
    ).rejects.toMatchObject({ name: "InvalidParameterException" });
    logs.expireTokens();
    await expect(
      client.send(new FilterLogEventsCommand({ logGroupName: GROUP, nextToken: first.nextToken })),
    ).rejects.toMatchObject({ name: "InvalidParameterException", $metadata: { httpStatusCode: 400 } });
  });

  it("answers injected throttling, limit and unavailability errors with the service's types and statuses", async () => {
    logs.createLogGroup(GROUP);
    logs.fail({ operation: "FilterLogEvents", code: "ThrottlingException", times: 1 });
    logs.fail({ operation: "FilterLogEvents", code: "LimitExceededException", times: 1 });
    logs.fail({ operation: "FilterLogEvents", code: "ServiceUnavailableException", times: 1 });
    const send = () => client.send(new FilterLogEventsCommand({ logGroupName: GROUP }));
    await expect(send()).rejects.toMatchObject({
      name: "ThrottlingException",
      $metadata: { httpStatusCode: 400 },
    });
    await expect(send()).rejects.toMatchObject({ name: "LimitExceededException" });
    await expect(send()).rejects.toMatchObject({
      name: "ServiceUnavailableException",
      $metadata: { httpStatusCode: 500 },
    });
    await expect(send()).resolves.toMatchObject({ events: [] });
    await expect(
      client.send(new FilterLogEventsCommand({ logGroupName: "/aws/eks/missing/cluster" })),
    ).rejects.toMatchObject({ name: "ResourceNotFoundException" });
  });

  it("refuses loudly a filter pattern it cannot evaluate", async () => {
    logs.createLogGroup(GROUP);
    await expect(
      client.send(new FilterLogEventsCommand({ logGroupName: GROUP, filterPattern: "%ephemeral.*%" })),
    ).rejects.toThrow(/cannot evaluate filter pattern/);
  });

  it("runs an Insights query Scheduled → Running → Complete, one step per poll, capped at the row limit", async () => {
    logs.putLogEvents(
      GROUP,
      Array.from({ length: 5 }, (_, i) => ({ timestamp: T0 + i * 1000, message: write("patch", String(i)) })),
    );
    logs.putLogEvents("/aws/eks/other/cluster", [{ timestamp: T0, message: "nothing to see" }]);
    const { queryId } = await client.send(
      new StartQueryCommand({
        logGroupNames: [GROUP, "/aws/eks/other/cluster"],
        startTime: T0 / 1000,
        endTime: T0 / 1000 + 3,
        queryString:
          'fields @timestamp, @message, @log | filter @message like "ephemeralcontainers" | sort @timestamp asc | limit 10000',
      }),
    );
    const statuses: string[] = [];
    let rows: Array<Array<{ field?: string; value?: string }>> = [];
    for (let poll = 0; poll < 5; poll++) {
      const result = await client.send(new GetQueryResultsCommand({ queryId }));
      statuses.push(result.status ?? "?");
      if (result.status === "Complete") {
        rows = result.results ?? [];
        expect(result.statistics?.recordsMatched).toBe(4);
        break;
      }
    }
    expect(statuses).toEqual(["Scheduled", "Running", "Complete"]);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toEqual([
      { field: "@timestamp", value: "2026-11-24 03:00:00.000" },
      { field: "@message", value: write("patch", "0") },
      { field: "@log", value: `123456789012:${GROUP}` },
      { field: "@ptr", value: expect.any(String) },
    ]);
  });

  it("ends queries as injected, stops running ones, and refuses malformed queries and more than 50 log groups", async () => {
    logs.createLogGroup(GROUP);
    const start = (queryString = "fields @message") =>
      client.send(new StartQueryCommand({ logGroupName: GROUP, startTime: 0, endTime: 10, queryString }));
    const poll = async (queryId: string | undefined) => {
      let status: string | undefined;
      for (let i = 0; i < 3; i++)
        status = (await client.send(new GetQueryResultsCommand({ queryId }))).status;
      return status;
    };
    for (const outcome of ["Failed", "Cancelled", "Timeout"] as const) {
      logs.failQueries(outcome);
      expect(await poll((await start()).queryId)).toBe(outcome);
    }
    const running = await start();
    await expect(client.send(new StopQueryCommand({ queryId: running.queryId }))).resolves.toMatchObject({
      success: true,
    });
    expect((await client.send(new GetQueryResultsCommand({ queryId: running.queryId }))).status).toBe(
      "Cancelled",
    );
    await expect(client.send(new StopQueryCommand({ queryId: running.queryId }))).rejects.toMatchObject({
      name: "InvalidParameterException",
    });
    await expect(start("stats count(*) by bin(5m)")).rejects.toMatchObject({
      name: "MalformedQueryException",
    });
    const groups = Array.from({ length: 51 }, (_, i) => `/aws/eks/c${i}/cluster`);
    for (const name of groups) logs.createLogGroup(name);
    await expect(
      client.send(
        new StartQueryCommand({
          logGroupNames: groups,
          startTime: 0,
          endTime: 1,
          queryString: "fields @message",
        }),
      ),
    ).rejects.toMatchObject({ name: "InvalidParameterException" });
  });

  it("limits concurrent queries with LimitExceededException", async () => {
    const limited = await startCloudWatchLogsServer({ maxConcurrentQueries: 1 });
    const limitedClient = new CloudWatchLogsClient({
      endpoint: limited.endpoint,
      region: "us-east-1",
      credentials: CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      limited.createLogGroup(GROUP);
      const input = { logGroupName: GROUP, startTime: 0, endTime: 1, queryString: "fields @message" };
      await limitedClient.send(new StartQueryCommand(input));
      await expect(limitedClient.send(new StartQueryCommand(input))).rejects.toMatchObject({
        name: "LimitExceededException",
      });
    } finally {
      limitedClient.destroy();
      await limited.stop();
    }
  });

  it("keeps at most two subscription filters per log group, replaces by name and deletes", async () => {
    logs.createLogGroup(GROUP);
    const put = (filterName: string, filterPattern = SUBSCRIPTION_FILTER_PATTERN) =>
      client.send(
        new PutSubscriptionFilterCommand({
          logGroupName: GROUP,
          filterName,
          filterPattern,
          destinationArn: "arn:aws:lambda:us-east-1:123456789012:function:detect",
        }),
      );
    await put("ours-ephemeral-containers");
    await put("someone-elses", "ERROR");
    await put("ours-ephemeral-containers", "ephemeralcontainers");
    await expect(put("a-third")).rejects.toMatchObject({ name: "LimitExceededException" });
    const described = await client.send(new DescribeSubscriptionFiltersCommand({ logGroupName: GROUP }));
    expect(described.subscriptionFilters?.map((f) => [f.filterName, f.filterPattern])).toEqual([
      ["ours-ephemeral-containers", "ephemeralcontainers"],
      ["someone-elses", "ERROR"],
    ]);
    await client.send(
      new DeleteSubscriptionFilterCommand({ logGroupName: GROUP, filterName: "someone-elses" }),
    );
    await expect(
      client.send(new DeleteSubscriptionFilterCommand({ logGroupName: GROUP, filterName: "someone-elses" })),
    ).rejects.toMatchObject({ name: "ResourceNotFoundException" });
    expect(logs.subscriptionFilters(GROUP).map((f) => f.filterName)).toEqual(["ours-ephemeral-containers"]);
  });

  it("refuses a filter to another account's (organization) destination without a role, and a role with a Lambda destination", async () => {
    logs.createLogGroup(GROUP);
    const destination = "arn:aws:logs:us-east-1:111122223333:destination:central-audit";
    const role = "arn:aws:iam::123456789012:role/central-subscription";
    const put = (destinationArn: string, roleArn?: string) =>
      client.send(
        new PutSubscriptionFilterCommand({
          logGroupName: GROUP,
          filterName: "ours-ephemeral-containers",
          filterPattern: SUBSCRIPTION_FILTER_PATTERN,
          destinationArn,
          ...(roleArn === undefined ? {} : { roleArn }),
        }),
      );
    await expect(put(destination)).rejects.toMatchObject({
      name: "InvalidParameterException",
      message: expect.stringContaining("Role ARN is required"),
    });
    await expect(put("arn:aws:lambda:us-east-1:123456789012:function:detect", role)).rejects.toMatchObject({
      name: "InvalidParameterException",
    });
    expect(logs.subscriptionFilters(GROUP)).toEqual([]);
    await put(destination, role);
    const described = await client.send(new DescribeSubscriptionFiltersCommand({ logGroupName: GROUP }));
    expect(described.subscriptionFilters?.map((f) => [f.destinationArn, f.roleArn])).toEqual([
      [destination, role],
    ]);
  });

  it("describes log groups by prefix with paging, and log streams by last event time", async () => {
    for (const name of ["a", "b", "c"]) logs.createLogGroup(`/aws/eks/${name}/cluster`);
    logs.createLogGroup("/aws/lambda/detect");
    const first = await client.send(
      new DescribeLogGroupsCommand({ logGroupNamePrefix: "/aws/eks/", limit: 2 }),
    );
    const second = await client.send(
      new DescribeLogGroupsCommand({ logGroupNamePrefix: "/aws/eks/", limit: 2, nextToken: first.nextToken }),
    );
    expect([...(first.logGroups ?? []), ...(second.logGroups ?? [])].map((g) => g.logGroupName)).toEqual([
      "/aws/eks/a/cluster",
      "/aws/eks/b/cluster",
      "/aws/eks/c/cluster",
    ]);
    expect(second.nextToken).toBeUndefined();

    logs.putLogEvents(GROUP, [
      { timestamp: T0, message: "x", logStream: "kube-apiserver-audit-old" },
      { timestamp: T0 + 5000, message: "x", logStream: "kube-apiserver-audit-new" },
      { timestamp: T0 + 100, message: "x", logStream: "authenticator-1" },
    ]);
    const streams = await client.send(
      new DescribeLogStreamsCommand({
        logGroupName: GROUP,
        orderBy: "LastEventTime",
        descending: true,
        limit: 2,
      }),
    );
    expect(streams.logStreams?.map((s) => [s.logStreamName, s.lastEventTimestamp])).toEqual([
      ["kube-apiserver-audit-new", T0 + 5000],
      ["authenticator-1", T0 + 100],
    ]);
    await expect(
      client.send(
        new DescribeLogStreamsCommand({
          logGroupName: GROUP,
          orderBy: "LastEventTime",
          logStreamNamePrefix: "k",
        }),
      ),
    ).rejects.toMatchObject({ name: "InvalidParameterException" });
  });
});

describe("the peer's filter patterns", () => {
  it("evaluates the project's own subscription pattern", () => {
    expect(compileFilterPattern(SUBSCRIPTION_FILTER_PATTERN)(write("patch"))).toBe(true);
  });

  it("matches terms as whole words, so a cut event still matches a term pattern", () => {
    const term = compileFilterPattern("ephemeralcontainers");
    expect(term('{"requestURI":"/api/v1/namespaces/a/pods/b/ephemeralcontainers","req')).toBe(true);
    expect(term("myephemeralcontainers2")).toBe(false);
    expect(term("EphemeralContainers")).toBe(false);
    expect(compileFilterPattern('?ERROR ?"pods/ephemeralcontainers"')("x pods/ephemeralcontainers")).toBe(
      true,
    );
    expect(compileFilterPattern("ERROR pods")("ERROR only")).toBe(false);
  });

  it("matches JSON patterns with && and || only on JSON, and refuses what it does not implement", () => {
    const json = compileFilterPattern(JSON_PATTERN);
    expect(json(write("patch"))).toBe(true);
    expect(json(write("update"))).toBe(true);
    expect(json(write("get"))).toBe(false);
    expect(json(write("patch").slice(0, -5))).toBe(false);
    expect(json('{"objectRef":"ephemeralcontainers","verb":"patch"}')).toBe(false);
    for (const pattern of [
      '{ $.verb != "get" }',
      "{ $.count > 3 }",
      '{ $.verb = "pat*" }',
      "{ $.verb = patch }",
      '{ $.items[0].verb = "patch" }',
      "[ip, user]",
      "-DEBUG",
      "%regex%",
      "pods/ephemeralcontainers",
    ]) {
      expect(() => compileFilterPattern(pattern), pattern).toThrow(/cannot evaluate/);
    }
  });
});

describe("EKS loopback peer: ListClusters and logging configuration", () => {
  let eks: EksServer;
  let client: EKSClient;

  beforeAll(async () => {
    eks = await startEksServer({ listPageSize: 2 });
    client = new EKSClient({ endpoint: eks.endpoint, region: "us-east-1", credentials: CREDENTIALS });
  });
  afterAll(async () => {
    client.destroy();
    await eks.stop();
  });

  it("pages ListClusters and reports which log types each cluster sends", async () => {
    eks.putCluster({ name: "prod", logTypes: ["api", "audit"] });
    eks.putCluster({ name: "dark", logTypes: [] });
    eks.putCluster({ name: "staging", status: "CREATING" });
    const names: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(new ListClustersCommand({ nextToken }));
      names.push(...(page.clusters ?? []));
      nextToken = page.nextToken;
      pages++;
    } while (nextToken);
    expect(names).toEqual(["dark", "prod", "staging"]);
    expect(pages).toBe(2);

    const prod = (await client.send(new DescribeClusterCommand({ name: "prod" }))).cluster;
    expect(prod).toMatchObject({ status: "ACTIVE", arn: "arn:aws:eks:us-east-1:111122223333:cluster/prod" });
    expect(prod?.logging?.clusterLogging).toEqual([
      { types: ["api", "audit"], enabled: true },
      { types: ["authenticator", "controllerManager", "scheduler"], enabled: false },
    ]);
    const dark = (await client.send(new DescribeClusterCommand({ name: "dark" }))).cluster;
    expect(dark?.logging?.clusterLogging).toEqual([
      { types: ["api", "audit", "authenticator", "controllerManager", "scheduler"], enabled: false },
    ]);
    expect((await client.send(new DescribeClusterCommand({ name: "staging" }))).cluster?.status).toBe(
      "CREATING",
    );
  });
});
