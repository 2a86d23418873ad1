import { gzipSync } from "node:zlib";
import { Logger } from "@aws-lambda-powertools/logger";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createIdempotencyStore } from "../functions/adapters/aws/act-once.ts";
import { findingMessage, type TopicMessage } from "../functions/adapters/aws/sns-message.ts";
import { StormDigestStore } from "../functions/adapters/aws/storm-digest-store.ts";
import type { SlackMessage } from "../functions/adapters/slack/slack-block-kit.ts";
import type { NotifySummary } from "../functions/adapters/slack/slack-notifier.ts";
import {
  LOOPBACK_HTTP_FOR_TESTS_ONLY,
  WebhookUrlSource,
} from "../functions/adapters/slack/slack-webhook-url.ts";
import type { FlushSummary } from "../functions/adapters/slack/storm-digests.ts";
import { type Finding, FindingSchema } from "../functions/core/finding.ts";
import { StormNoticeSchema } from "../functions/core/storm.ts";
import { createNotifySlackHandler, type NotifySlackDeps } from "../functions/notify-slack.ts";
import { loadAuditJson, readEventText } from "./helpers/events.ts";
import { allTexts, expectInert, expectWithinSlackLimits } from "./helpers/slack-message-checks.ts";
import { asTopicMessages, snsEvent } from "./helpers/sns-lambda-events.ts";
import { type DynamoPeer, idempotencyTable, startDynalite, stormTable } from "./peers/dynalite.ts";
import { type SlackWebhookServer, startSlackWebhookServer } from "./peers/slack-webhook-server.ts";
import { type SnsServer, startSnsServer } from "./peers/sns-server.ts";
import { type SsmServer, startSsmServer } from "./peers/ssm-server.ts";

/**
 * Alert fatigue, end to end over the loopback peers: a flood of findings on one cluster goes through the
 * deployed detect handler (which counts them against the storm budget in DynamoDB and marks those past it),
 * the alerts topic, and notify-slack (which posts, holds for the digest, and flushes the digest on its
 * schedule). What is asserted is what people get: Slack posts, and (test/infra/template.test.ts) pages.
 */

const TOPIC = "arn:aws:sns:us-east-1:123456789012:ephemeral-guard-test-alerts";
const IDEMPOTENCY = "ephemeral-guard-test-idempotency";
const STORM = "ephemeral-guard-test-storm";
const PARAMETER = "/ephemeral-guard/slack-webhook";
const BUDGET = 20;
const credentials = { accessKeyId: "test", secretAccessKey: "test" };

type Handler = (event: unknown, context: Context) => Promise<unknown>;

let sns: SnsServer;
let dynamo: DynamoPeer;
let slack: SlackWebhookServer;
let ssm: SsmServer;
let detect: Handler;
let notify: Handler;
/** notify-slack's clock (the digest windows); detect counts on the real clock within one invocation each. */
let clock = Date.parse("2026-11-20T10:01:00.000Z");
/** notify-slack waiting for another invocation that holds a claim: released by the test, not by time. */
const sleepers: (() => void)[] = [];
const savedEnv = { ...process.env };

function lambdaContext(name: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: `ephemeral-guard-test-${name}`,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:ephemeral-guard-test-${name}`,
    memoryLimitInMB: "512",
    awsRequestId: `req-${Math.random().toString(36).slice(2)}`,
    logGroupName: `/aws/lambda/ephemeral-guard-test-${name}`,
    logStreamName: "test",
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const SAMPLE_POD = "checkout-api-7d9f8b6c5d-x2kqp";
const ACTORS = ["mallory", "eve", "trent"];

/** `count` audit events from one sample, each its own auditID, pod and actor (the attacker's flood). */
function flood(sample: string, count: number, tag: string): string[] {
  return Array.from({ length: count }, (_, index) => {
    const event = loadAuditJson(sample);
    event.auditID = `${tag}-${String(index).padStart(4, "0")}`;
    (event.user as { username: string }).username = ACTORS[index % ACTORS.length] ?? "mallory";
    const text = JSON.stringify(event);
    // Pod names from the samples' pods: most in shop, a few in logging (host-path-mount).
    return text
      .replaceAll(SAMPLE_POD, `api-${index % 7}`)
      .replaceAll("fluent-bit-7xq4m", `fluent-bit-${index % 3}`);
  });
}

function delivery(messages: readonly string[], cluster: string): unknown {
  const data = {
    messageType: "DATA_MESSAGE",
    owner: "123456789012",
    logGroup: `/aws/eks/${cluster}/cluster`,
    logStream: "kube-apiserver-audit-0123456789abcdef",
    subscriptionFilters: ["ephemeral-guard-test-ephemeral-containers"],
    logEvents: messages.map((message, index) => ({
      id: String(index),
      timestamp: 1_700_000_000_000,
      message,
    })),
  };
  return { awslogs: { data: gzipSync(JSON.stringify(data)).toString("base64") } };
}

function posted(): SlackMessage[] {
  return slack.requests
    .filter((request) => request.answer.status === 200)
    .map((request) => request.json as SlackMessage);
}

function findingOf(message: TopicMessage): Finding {
  return FindingSchema.parse(JSON.parse(message.body));
}

const isStormMember = (message: TopicMessage) => message.attributes.storm?.StringValue === "member";
const typeOf = (message: TopicMessage) => message.attributes.messageType?.StringValue;

/** One SNS record per invocation, as SNS delivers, `parallel` invocations at a time (Lambda concurrency). */
async function deliverAll(messages: readonly TopicMessage[], parallel = 10): Promise<NotifySummary[]> {
  const summaries: NotifySummary[] = [];
  for (let start = 0; start < messages.length; start += parallel) {
    const chunk = messages.slice(start, start + parallel);
    const results = await Promise.all(
      chunk.map((message) => notify(snsEvent([message]), lambdaContext("notify"))),
    );
    summaries.push(...(results as NotifySummary[]));
  }
  return summaries;
}

/** The EventBridge schedule's event, as notify-slack receives it every minute. */
const scheduled = JSON.parse(readEventText("schedule/storm-digest-flush.json")) as unknown;
const flush = async () => (await notify(scheduled, lambdaContext("notify"))) as FlushSummary;

/** Everything published by detect for the two clusters, as SNS delivers it to notify-slack. */
let topic: TopicMessage[] = [];
let firstRound: NotifySummary[] = [];
let postsBeforeFlush = 0;

beforeAll(async () => {
  sns = await startSnsServer({ topics: [TOPIC] });
  dynamo = await startDynalite([idempotencyTable(IDEMPOTENCY), stormTable(STORM)]);
  slack = await startSlackWebhookServer();
  ssm = await startSsmServer();
  ssm.setParameter(PARAMETER, { value: slack.url, type: "SecureString" });
  Object.assign(process.env, {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_ENDPOINT_URL_SNS: sns.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_MAX_ATTEMPTS: "2",
    ALERTS_TOPIC_ARN: TOPIC,
    IDEMPOTENCY_TABLE: IDEMPOTENCY,
    STORM_TABLE: STORM,
    STORM_BUDGET: String(BUDGET),
    STORM_WINDOW_MINUTES: "5",
    POWERTOOLS_LOG_LEVEL: "WARN",
    AWS_LAMBDA_FUNCTION_NAME: "ephemeral-guard-test-detect",
  });
  // Logs and EMF lines are the functions' business, not the test's output.
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  vi.resetModules();
  ({ handler: detect } = (await import("../functions/detect.ts")) as { handler: Handler });

  const digestStore = new StormDigestStore(dynamo.client, {
    tableName: STORM,
    windowMinutes: 5,
    expiresAfterSeconds: 3600,
    now: () => clock,
  });
  const deps: NotifySlackDeps = {
    logger: new Logger({ serviceName: "notify-slack", logLevel: "WARN" }),
    region: "us-east-1",
    webhookUrl: new WebhookUrlSource({
      location: { store: "ssm", name: PARAMETER },
      cacheSeconds: 3600,
      policy: LOOPBACK_HTTP_FOR_TESTS_ONLY,
      ssmClient: new SSMClient({ endpoint: ssm.endpoint, region: "us-east-1", credentials, maxAttempts: 1 }),
    }),
    idempotency: createIdempotencyStore(dynamo.client, {
      tableName: IDEMPOTENCY,
      expiresAfterSeconds: 3600,
      keyPrefix: "ephemeral-guard.notify-slack",
    }),
    storm: digestStore,
    inProgress: {
      waits: 3,
      waitMs: 1_000,
      sleep: () => new Promise<void>((resolve) => sleepers.push(resolve)),
    },
    digests: { digests: digestStore, settings: { budget: BUDGET, windowMinutes: 5, delaySeconds: 90 } },
  };
  notify = createNotifySlackHandler(() => deps) as Handler;

  // The flood: 190 findings on prod-eu in one delivery, then 10 more with 5 critical ones in them; meanwhile
  // 3 ordinary findings on staging.
  await detect(
    delivery(
      [...flood("host-path-mount", 60, "high"), ...flood("kubectl-debug-general-profile", 130, "med")],
      "prod-eu",
    ),
    lambdaContext("detect"),
  );
  await detect(
    delivery(
      [
        ...flood("privileged-sysadmin-profile", 5, "crit"),
        ...flood("kubectl-debug-general-profile", 5, "late"),
      ],
      "prod-eu",
    ),
    lambdaContext("detect"),
  );
  await detect(
    delivery(
      [
        ...flood("privileged-sysadmin-profile", 1, "stg-crit"),
        ...flood("kubectl-debug-general-profile", 2, "stg"),
      ],
      "staging",
    ),
    lambdaContext("detect"),
  );
  topic = asTopicMessages(sns.published);
  firstRound = await deliverAll(topic);
  postsBeforeFlush = posted().length;
}, 60_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await Promise.all([sns.stop(), dynamo.stop(), slack.stop(), ssm.stop()]);
  process.env = savedEnv;
});

describe("alert fatigue: a storm of 200 findings on one cluster", () => {
  it("detect marks exactly the findings past the budget and publishes one storm notice", () => {
    const prod = topic.filter(
      (message) => typeOf(message) === "finding" && findingOf(message).cluster === "prod-eu",
    );
    expect(prod).toHaveLength(200);
    expect(prod.filter((message) => !isStormMember(message))).toHaveLength(BUDGET);
    // The budget went to the most severe findings of the first batch; the late criticals came after it.
    expect(
      prod.filter((message) => !isStormMember(message)).map((message) => findingOf(message).severity),
    ).toEqual(Array(BUDGET).fill("high"));
    const notices = topic.filter((message) => typeOf(message) === "storm");
    expect(notices).toHaveLength(1);
    expect(StormNoticeSchema.parse(JSON.parse(notices[0]?.body ?? ""))).toMatchObject({
      cluster: "prod-eu",
      budget: BUDGET,
      windowMinutes: 5,
      count: 190,
    });
  });

  it("posts the budget, every critical, and one storm notice; holds the other 175 for the digest", () => {
    const texts = posted().map((message) => message.text);
    const prodFindings = texts.filter((text) => text.includes("on `prod-eu`") && !text.startsWith("🌀"));
    expect(prodFindings).toHaveLength(BUDGET + 5);
    expect(prodFindings.filter((text) => text.startsWith("🚨 CRITICAL"))).toHaveLength(5);
    expect(texts.filter((text) => text.startsWith("🌀 Alert storm on `prod-eu`"))).toEqual([
      "🌀 Alert storm on `prod-eu`: more than 20 findings in 5 minutes",
    ]);
    const held = firstRound.reduce((total, summary) => total + summary.held, 0);
    expect(held).toBe(175);
    for (const message of posted()) {
      expectWithinSlackLimits(message);
      expectInert(message);
    }
  });

  it("leaves a second cluster alone: its findings post one by one, with no storm", () => {
    const staging = posted().filter((message) => message.text.includes("on `staging`"));
    expect(staging).toHaveLength(3);
    expect(
      topic.filter((message) => message.attributes.cluster?.StringValue === "staging").some(isStormMember),
    ).toBe(false);
  });

  it("posts no digest before the window ended and the flush delay passed", async () => {
    clock = Date.parse("2026-11-20T10:06:29.000Z");
    expect(await flush()).toMatchObject({ due: 0, posted: 0 });
    expect(posted()).toHaveLength(postsBeforeFlush);
  });

  it("posts one digest after the window: counts by severity, top actors and pods, how to list them all", async () => {
    clock = Date.parse("2026-11-20T10:06:31.000Z");
    expect(await flush()).toMatchObject({ due: 1, posted: 1 });
    const digests = posted().filter((message) => message.text.startsWith("🌀 Storm digest"));
    expect(digests).toHaveLength(1);
    const [digest] = digests;
    if (!digest) throw new Error("no digest");
    expect(digest.text).toBe(
      "🌀 Storm digest for `prod-eu`: 175 finding(s) held back; 5 critical past the budget posted on their own",
    );
    const text = allTexts(digest).join("\n");
    expect(text).toContain("*Held back, by severity*\n🔴 high: 40\n🟠 medium: 135");
    expect(text).toContain("*Past the budget, posted on their own*\n🚨 critical: 5");
    expect(text).toMatch(/\*Top actors\*\n• `mallory`: \d+\n• `eve`: \d+\n• `trent`: \d+/);
    expect(text).toMatch(/\*Top pods\*\n• `shop\/api-\d`: \d+/);
    expect(text).toContain("Open the storm window in CloudWatch Logs Insights");
    // From the earliest held event (the samples' times) to the latest, in whole minutes.
    expect(text).toContain(
      "```ephemeral-guard hunt --cluster prod-eu --start 2026-11-20T09:21:00.000Z --end 2026-11-20T10:49:00.000Z```",
    );
    expectWithinSlackLimits(digest);
    expectInert(digest);
  });

  it("posts the digest once even when the flush runs again, or twice at once", async () => {
    const before = posted().length;
    clock = Date.parse("2026-11-20T10:07:31.000Z");
    const again = await Promise.all([flush(), flush()]);
    expect(again.map((summary) => summary.posted)).toEqual([0, 0]);
    expect(posted()).toHaveLength(before);
  });
});

describe("duplicate delivery: a lost SNS response left two copies on the topic", () => {
  it("posts a finding, a storm notice and a held member once, however often they are delivered", async () => {
    const before = posted().length;
    const postedFinding = topic.find((message) => typeOf(message) === "finding" && !isStormMember(message));
    const notice = topic.find((message) => typeOf(message) === "storm");
    const heldMember = topic.find(
      (message) => isStormMember(message) && findingOf(message).severity !== "critical",
    );
    if (!postedFinding || !notice || !heldMember) throw new Error("missing sample messages");
    const summaries = await deliverAll([postedFinding, notice, heldMember, postedFinding], 1);
    expect(summaries.map((summary) => summary.duplicates)).toEqual([1, 1, 1, 1]);
    expect(posted()).toHaveLength(before);
  });

  it("posts once when both copies arrive at the same time", async () => {
    const before = posted().length;
    const first = topic.find((message) => typeOf(message) === "finding");
    if (!first) throw new Error("no finding");
    const fresh = findingMessage({ ...findingOf(first), auditID: "dup-0001", cluster: "staging" });
    const both = [
      notify(snsEvent([fresh]), lambdaContext("notify")),
      notify(snsEvent([fresh]), lambdaContext("notify")),
    ];
    // Whichever copy claimed it posts; the other waits for it (if it saw the claim) and then finds it done.
    await Promise.race(both);
    for (const wake of sleepers.splice(0)) wake();
    const copies = await Promise.all(both);
    const summaries = copies as NotifySummary[];
    expect(summaries.map((summary) => summary.posted.finding + summary.duplicates).sort()).toEqual([1, 1]);
    expect(posted()).toHaveLength(before + 1);
  });
});
