import { CloudWatchLogsClient, PutSubscriptionFilterCommand } from "@aws-sdk/client-cloudwatch-logs";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { AUDIT_STREAM_PREFIX } from "../functions/adapters/aws/audit-log-freshness.ts";
import {
  SUBSCRIPTION_FILTER_NAME_SUFFIX,
  SUBSCRIPTION_FILTER_PATTERN,
} from "../functions/adapters/aws/subscription-filter.ts";
import type { CoverageSummary } from "../functions/adapters/lambda/coverage-invocation.ts";
import { CoverageAlertSchema } from "../functions/core/cluster-coverage/coverage-alert.ts";
import { type CloudWatchLogsServer, startCloudWatchLogsServer } from "./peers/cloudwatch-logs-server.ts";
import { type DynamoPeer, idempotencyTable, startDynalite, TEST_CREDENTIALS } from "./peers/dynalite.ts";
import { type EksServer, startEksServer } from "./peers/eks-server.ts";
import { type SnsServer, startSnsServer } from "./peers/sns-server.ts";

/**
 * The coverage function as a member stack deploys it (serverless.member.yml): the same handler and the same
 * mechanism as in a single-account stack, its filters delivering to the central account's CloudWatch Logs
 * destination instead of detect, and its alerts, naming the member account, published to the member's topic.
 * Everything over the real protocols, configured only through the environment the stack sets. The destination
 * grants the organization, so its filters must carry the member's CentralSubscriptionRole: the CloudWatch Logs
 * peer refuses a put to another account's destination without a role, as the service does for such a destination.
 */

const REGION = "eu-west-1";
const MEMBER_ACCOUNT = "444455556666";
const CENTRAL_ACCOUNT = "111122223333";
const DESTINATION = `arn:aws:logs:${REGION}:${CENTRAL_ACCOUNT}:destination:ephemeral-guard-prod-audit`;
const SUBSCRIPTION_ROLE = `arn:aws:iam::${MEMBER_ACCOUNT}:role/StackSet-ephemeral-guard-m-CentralSubscriptionRole-1A2B3C4D`;
const STACK = "StackSet-ephemeral-guard-member-0a1b2c3d";
const FILTER_NAME = `${STACK}-${SUBSCRIPTION_FILTER_NAME_SUFFIX}`;
const TOPIC_ARN = `arn:aws:sns:${REGION}:${MEMBER_ACCOUNT}:ephemeral-guard-member-prod-alerts`;
const START = Date.parse("2026-11-20T09:30:00Z");

let eks: EksServer;
let logs: CloudWatchLogsServer;
let dynamo: DynamoPeer;
let sns: SnsServer;

const logGroup = (cluster: string) => `/aws/eks/${cluster}/cluster`;

function context(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "ephemeral-guard-member-prod-coverage",
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${MEMBER_ACCOUNT}:function:ephemeral-guard-member-prod-coverage`,
    memoryLimitInMB: "512",
    awsRequestId: "0f1e2d3c-4b5a-4978-8877-665544332211",
    logGroupName: "/aws/lambda/ephemeral-guard-member-prod-coverage",
    logStreamName: "2026/11/20/[$LATEST]0123456789abcdef",
    getRemainingTimeInMillis: () => 100_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const scheduled = (at: number) => ({
  version: "0",
  id: "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
  "detail-type": "Scheduled Event",
  source: "aws.events",
  account: MEMBER_ACCOUNT,
  time: new Date(at).toISOString(),
  region: REGION,
  resources: [`arn:aws:events:${REGION}:${MEMBER_ACCOUNT}:rule/ephemeral-guard-member-CoverageSchedule-1X2Y`],
  detail: {},
});

beforeAll(async () => {
  [eks, logs, dynamo, sns] = await Promise.all([
    startEksServer({ accountId: MEMBER_ACCOUNT, region: REGION }),
    startCloudWatchLogsServer({ accountId: MEMBER_ACCOUNT, region: REGION }),
    startDynalite([
      { name: "coverage", partitionKey: "cluster", ttlAttribute: "expiresAt" },
      idempotencyTable("idempotency"),
    ]),
    startSnsServer(),
  ]);
  const env: Record<string, string> = {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_EKS: eks.endpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_SNS: sns.endpoint,
    // What serverless.member.yml sets.
    ALERTS_TOPIC_ARN: TOPIC_ARN,
    COVERAGE_TABLE: "coverage",
    IDEMPOTENCY_TABLE: "idempotency",
    SUBSCRIPTION_DESTINATION_ARN: DESTINATION,
    SUBSCRIPTION_ROLE_ARN: SUBSCRIPTION_ROLE,
    ACCOUNT_ID: MEMBER_ACCOUNT,
    STACK_NAME: STACK,
    COVERAGE_CLUSTERS: "",
    EXCLUDED_CLUSTERS: "",
    SILENCE_MINUTES: "30",
    POWERTOOLS_LOG_LEVEL: "SILENT",
    POWERTOOLS_METRICS_DISABLED: "true",
  };
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.all([eks.stop(), logs.stop(), dynamo.stop(), sns.stop()]);
});

beforeEach(() => {
  logs.reset();
  sns.clear();
});

function addCluster(name: string, logTypes: ("audit" | "api")[] = ["audit"]): void {
  eks.putCluster({ name, createdAt: new Date(START - 30 * 86_400_000), logTypes });
  logs.createLogGroup(logGroup(name));
  if (logTypes.includes("audit")) {
    logs.putLogEvents(logGroup(name), [
      {
        timestamp: START - 60_000,
        logStream: `${AUDIT_STREAM_PREFIX}0f1e2d3c4b5a69788`,
        message: JSON.stringify({
          kind: "Event",
          apiVersion: "audit.k8s.io/v1",
          verb: "get",
          auditID: "a-1",
        }),
      },
    ]);
  }
}

describe("coverage in a member stack", () => {
  it("subscribes every cluster's audit log to the central destination with the member's role, and puts it back when pointed away", async () => {
    vi.useFakeTimers({ now: START, toFake: ["Date"] });
    try {
      addCluster("payments");
      const { handler } = await import("../functions/coverage.ts");

      const first = (await handler(scheduled(START), context())) as CoverageSummary;
      expect(first).toMatchObject({ request: "sweep", clusters: 1, filtersPut: 1 });
      const filter = () =>
        logs.subscriptionFilters(logGroup("payments")).find((item) => item.filterName === FILTER_NAME);
      expect(filter()).toMatchObject({
        destinationArn: DESTINATION,
        filterPattern: SUBSCRIPTION_FILTER_PATTERN,
        roleArn: SUBSCRIPTION_ROLE,
      });
      const put = logs.requests.find((request) => request.operation === "PutSubscriptionFilter");
      expect(put).toMatchObject({ status: 200, input: { roleArn: SUBSCRIPTION_ROLE } });
      expect(sns.published).toEqual([]);

      // Someone in the member account points the filter at their own sink: the next run puts it back and says so.
      await new CloudWatchLogsClient({
        endpoint: logs.endpoint,
        region: REGION,
        credentials: TEST_CREDENTIALS,
      }).send(
        new PutSubscriptionFilterCommand({
          logGroupName: logGroup("payments"),
          filterName: FILTER_NAME,
          filterPattern: "",
          destinationArn: `arn:aws:lambda:${REGION}:${MEMBER_ACCOUNT}:function:log-sink`,
        }),
      );
      vi.setSystemTime(START + 10 * 60_000);
      await handler(scheduled(START + 10 * 60_000), context());
      expect(filter()).toMatchObject({
        destinationArn: DESTINATION,
        filterPattern: SUBSCRIPTION_FILTER_PATTERN,
        roleArn: SUBSCRIPTION_ROLE,
      });
      const [message] = sns.published;
      expect(message?.topicArn).toBe(TOPIC_ARN);
      const alert = CoverageAlertSchema.parse(JSON.parse(message?.message ?? "{}"));
      expect(alert).toMatchObject({
        alert: "restored",
        cluster: "payments",
        account: MEMBER_ACCOUNT,
        region: REGION,
      });
      expect(alert.summary).toContain(`payments (${MEMBER_ACCOUNT}, ${REGION})`);
      expect(message?.messageAttributes.account?.value).toBe(MEMBER_ACCOUNT);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a filter of ours without the role (made before the destination granted the organization) gets it, and only once", async () => {
    // Left without a role, the filter is refused by the organization destination: the cluster would go blind.
    const at = START + 2 * 60 * 60_000;
    vi.useFakeTimers({ now: at, toFake: ["Date"] });
    try {
      addCluster("ledger");
      const { handler } = await import("../functions/coverage.ts");
      const filter = () =>
        logs.subscriptionFilters(logGroup("ledger")).find((item) => item.filterName === FILTER_NAME);
      await handler(scheduled(at), context());
      expect(filter()?.roleArn).toBe(SUBSCRIPTION_ROLE);

      logs.seedSubscriptionFilter({
        logGroupName: logGroup("ledger"),
        filterName: FILTER_NAME,
        filterPattern: SUBSCRIPTION_FILTER_PATTERN,
        destinationArn: DESTINATION,
      });
      logs.requests.length = 0;
      vi.setSystemTime(at + 10 * 60_000);
      const repaired = (await handler(scheduled(at + 10 * 60_000), context())) as CoverageSummary;
      expect(repaired.filtersPut).toBe(1);
      expect(filter()).toMatchObject({ destinationArn: DESTINATION, roleArn: SUBSCRIPTION_ROLE });
      expect(
        logs.requests.filter((request) => request.operation === "PutSubscriptionFilter").map((r) => r.input),
      ).toEqual([expect.objectContaining({ logGroupName: logGroup("ledger"), roleArn: SUBSCRIPTION_ROLE })]);
      // A release's update, not tampering: nobody is paged about it (other clusters of earlier cases may be).
      const about = (cluster: string) =>
        sns.published.filter(
          (message) => CoverageAlertSchema.parse(JSON.parse(message.message)).cluster === cluster,
        );
      expect(about("ledger")).toEqual([]);

      // The role read back matches: the next run leaves the filter alone.
      vi.setSystemTime(at + 20 * 60_000);
      const settled = (await handler(scheduled(at + 20 * 60_000), context())) as CoverageSummary;
      expect(settled.filtersPut).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a member the central destination does not let in is reported blind at once, to its own topic, naming the account", async () => {
    // The destination missing in this region, or its policy not allowing this account: CloudWatch Logs
    // refuses the put. The cluster is not watched centrally, and the member's on-call must hear it.
    vi.useFakeTimers({ now: START + 60 * 60_000, toFake: ["Date"] });
    try {
      addCluster("orders");
      logs.fail({
        operation: "PutSubscriptionFilter",
        code: "AccessDeniedException",
        message: `User is not authorized to perform logs:PutSubscriptionFilter on resource ${DESTINATION}`,
      });
      const { handler } = await import("../functions/coverage.ts");
      await handler(scheduled(START + 60 * 60_000), context());
      logs.recover();

      expect(logs.subscriptionFilters(logGroup("orders"))).toEqual([]);
      const alerts = sns.published.map((message) => ({
        topicArn: message.topicArn,
        alert: CoverageAlertSchema.parse(JSON.parse(message.message)),
      }));
      const orders = alerts.filter(({ alert }) => alert.cluster === "orders");
      expect(orders).toHaveLength(1);
      expect(orders[0]?.topicArn).toBe(TOPIC_ARN);
      expect(orders[0]?.alert).toMatchObject({
        state: "unsubscribed",
        severity: "high",
        account: MEMBER_ACCOUNT,
      });
      expect(JSON.stringify(orders[0]?.alert)).toContain("AccessDeniedException");
    } finally {
      vi.useRealTimers();
    }
  });
});
