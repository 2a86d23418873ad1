import { Logger } from "@aws-lambda-powertools/logger";
import { SNSClient } from "@aws-sdk/client-sns";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createIdempotencyStore } from "../functions/adapters/aws/act-once.ts";
import {
  findingMessage,
  remediationMessage,
  STORM_MEMBER_ATTRIBUTES,
  withAttributes,
} from "../functions/adapters/aws/sns-message.ts";
import { publishMessages } from "../functions/adapters/aws/sns-publisher.ts";
import { parseSlackEnvironment } from "../functions/adapters/lambda/notify-slack-environment.ts";
import type { SlackMessage } from "../functions/adapters/slack/slack-block-kit.ts";
import {
  type NotifierDeps,
  type NotifySummary,
  SlackDeliveryError,
} from "../functions/adapters/slack/slack-notifier.ts";
import {
  LOOPBACK_HTTP_FOR_TESTS_ONLY,
  WebhookUrlError,
  WebhookUrlSource,
} from "../functions/adapters/slack/slack-webhook-url.ts";
import { decodeDocument } from "../functions/core/decode-input.ts";
import { detectionConfig } from "../functions/core/detection-config.ts";
import { Detector } from "../functions/core/detector.ts";
import type { Finding } from "../functions/core/finding.ts";
import type { RemediationOutcome } from "../functions/core/remediation-outcome.ts";
import { createNotifySlackHandler, productionDeps } from "../functions/notify-slack.ts";
import { loadAuditJson, readEventText } from "./helpers/events.ts";
import { expectInert, expectWithinSlackLimits } from "./helpers/slack-message-checks.ts";
import { asTopicMessages, snsEvent } from "./helpers/sns-lambda-events.ts";
import { type DynamoPeer, idempotencyTable, startDynalite } from "./peers/dynalite.ts";
import {
  OK,
  rateLimited,
  type SlackWebhookServer,
  serverError,
  startSlackWebhookServer,
  WEBHOOK_PATH,
} from "./peers/slack-webhook-server.ts";
import { type SnsServer, startSnsServer } from "./peers/sns-server.ts";
import { type SsmServer, startSsmServer } from "./peers/ssm-server.ts";

const PARAMETER = "/ephemeral-guard/slack-webhook";
const LOG_GROUP = "/aws/eks/prod-eu/cluster";
const credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "test-secret" };
const TABLE = "ephemeral-guard-test-idempotency";

/** What the handler returns for an SNS event (it returns a flush summary for the schedule's events). */
function notified(result: unknown): NotifySummary {
  if (!(result && typeof result === "object" && "records" in result)) throw new Error("not a notify summary");
  return result as NotifySummary;
}

/** Findings as detect publishes them: sample audit events through the core Detector. */
function detect(...names: string[]): Finding[] {
  const detector = new Detector(detectionConfig({}));
  return names.flatMap((name) =>
    detector.ingest(decodeDocument(loadAuditJson(name), name, { logGroup: LOG_GROUP })),
  );
}

function lambdaContext(remainingMs = 30_000): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "ephemeral-guard-test-notify-slack",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:eu-west-1:111122223333:function:ephemeral-guard-test-notify-slack",
    memoryLimitInMB: "256",
    awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
    logGroupName: "/aws/lambda/ephemeral-guard-test-notify-slack",
    logStreamName: "2026/11/20/[$LATEST]0123456789abcdef",
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

const remediationOutcome: RemediationOutcome = {
  schemaVersion: 1,
  kind: "remediation",
  auditID: "1d3f5b7a-9c2e-4d6a-8b0c-7e9a1c3e5f64",
  cluster: "prod-eu",
  pod: { namespace: "shop", name: "checkout-api-7d9f8b6c5d-x2kqp" },
  mode: "enforce",
  result: "deleted",
  detail: "Deleted pod shop/checkout-api-7d9f8b6c5d-x2kqp; its ReplicaSet will replace it.",
  time: "2026-11-20T09:34:02.000Z",
};

let slack: SlackWebhookServer;
let ssm: SsmServer;
let dynamo: DynamoPeer;
let deps: NotifierDeps;
let logs: string[];

function getParameterCalls(): number {
  return ssm.calls.filter((call) => call.target === "AmazonSSM.GetParameter").length;
}

function delivered(): SlackMessage[] {
  return slack.requests
    .filter((request) => request.answer.status === 200)
    .map((request) => request.json as SlackMessage);
}

beforeAll(async () => {
  slack = await startSlackWebhookServer();
  ssm = await startSsmServer();
  ssm.setParameter(PARAMETER, { value: slack.url, type: "SecureString" });
  dynamo = await startDynalite([idempotencyTable(TABLE)]);
});
afterAll(async () => {
  await slack.stop();
  await ssm.stop();
  await dynamo.stop();
});
beforeEach(async () => {
  await dynamo.clearTable(TABLE);
  slack.requests.length = 0;
  ssm.calls.length = 0;
  logs = [];
  // Powertools Logger writes JSON lines to stdout (stderr for errors): captured to assert on, kept off the console.
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array) => {
      logs.push(String(chunk));
      return true;
    });
  }
  deps = {
    logger: new Logger({ serviceName: "notify-slack" }),
    region: "eu-west-1",
    webhookUrl: new WebhookUrlSource({
      location: { store: "ssm", name: PARAMETER },
      cacheSeconds: 3600,
      policy: LOOPBACK_HTTP_FOR_TESTS_ONLY,
      ssmClient: new SSMClient({ endpoint: ssm.endpoint, region: "eu-west-1", credentials, maxAttempts: 1 }),
    }),
    idempotency: createIdempotencyStore(dynamo.client, {
      tableName: TABLE,
      expiresAfterSeconds: 3600,
      keyPrefix: "ephemeral-guard.notify-slack",
    }),
  };
});
afterEach(() => {
  vi.restoreAllMocks();
  // The webhook URL is the credential: it must never be logged, whatever happened.
  expect(logs.join("")).not.toContain(WEBHOOK_PATH);
});

describe("notify-slack handler", () => {
  it("posts one alert per finding and a follow-up per remediation outcome", async () => {
    const findings = detect("privileged-sysadmin-profile", "kubectl-debug-general-profile");
    expect(findings).toHaveLength(2);
    const handler = createNotifySlackHandler(() => deps);
    const summary = await handler(
      snsEvent([...findings.map(findingMessage), remediationMessage(remediationOutcome)]),
      lambdaContext(),
    );
    expect(summary).toEqual({
      records: 3,
      posted: { finding: 2, remediation: 1, storm: 0, coverage: 0 },
      held: 0,
      duplicates: 0,
      invalid: 0,
      rateLimitedWaits: 0,
      plainFallbacks: 0,
    });
    const [privileged, general, remediation] = delivered();
    expect(privileged?.text).toBe(
      "🚨 CRITICAL: ephemeral container added to a pod: `shop/checkout-api-7d9f8b6c5d-x2kqp` on `prod-eu` by `jane.doe`",
    );
    expect(privileged?.attachments?.[0]?.color).toBe("#A30D1F");
    expect(JSON.stringify(privileged)).toContain("logs-insights$3FqueryDetail$3D");
    expect(general?.text).toMatch(/ephemeral container added to a pod/);
    expect(remediation?.text).toBe(
      "↳ 🗑️ *Remediation of alert* `1d3f5b7a-9c2e-4d6a-8b0c-7e9a1c3e5f64`: *pod deleted* · `shop/checkout-api-7d9f8b6c5d-x2kqp` on `prod-eu`",
    );
    for (const message of delivered()) {
      expectWithinSlackLimits(message);
      expectInert(message);
    }
  });

  it("posts the sample SNS delivery in events/sns (what `invoke local` uses)", async () => {
    const handler = createNotifySlackHandler(() => deps);
    const summary = await handler(
      JSON.parse(readEventText("sns/critical-finding-privileged-debug.json")) as unknown,
      lambdaContext(),
    );
    expect(summary).toMatchObject({ records: 1, posted: { finding: 1, remediation: 0 }, invalid: 0 });
    expect(delivered()[0]?.text).toMatch(/^🚨 CRITICAL: ephemeral container added to a pod/);
  });

  it("posts the sample storm notice in events/sns once, however often it is delivered", async () => {
    const handler = createNotifySlackHandler(() => deps);
    const event = JSON.parse(readEventText("sns/storm-notice.json")) as unknown;
    const first = notified(await handler(event, lambdaContext()));
    const again = notified(await handler(event, lambdaContext()));
    expect(first).toMatchObject({ posted: { storm: 1 }, invalid: 0 });
    expect(again).toMatchObject({ posted: { storm: 0 }, duplicates: 1 });
    const [notice] = delivered();
    expect(delivered()).toHaveLength(1);
    expect(notice?.text).toBe("🌀 Alert storm on `prod-eu`: more than 20 findings in 5 minutes");
    const text = JSON.stringify(notice);
    expect(text).toContain("190 findings in this window when the storm began");
    expect(text).toContain("*Critical findings still are.*");
    if (notice) {
      expectWithinSlackLimits(notice);
      expectInert(notice);
    }
  });

  it("renders injection strings from the audit event as inert text", async () => {
    const handler = createNotifySlackHandler(() => deps);
    await handler(snsEvent(detect("slack-injection-strings").map(findingMessage)), lambdaContext());
    const [message] = delivered();
    expect(message).toBeDefined();
    if (!message) return;
    expectInert(message);
    expectWithinSlackLimits(message);
    const body = slack.requests[0]?.body ?? "";
    for (const raw of ["<!channel>", "<!here>", "<@U0ADMIN>", "<https://evil", "\\u202e", "\\u0007"]) {
      expect(body).not.toContain(raw);
    }
    expect(body).toContain("`&lt;!channel&gt;`");
  });

  it("fetches the webhook URL once across invocations", async () => {
    const handler = createNotifySlackHandler(() => deps);
    const findings = detect("kubectl-debug-general-profile", "run-as-root", "host-path-mount");
    expect(findings).toHaveLength(3);
    for (const finding of findings) {
      await handler(snsEvent([findingMessage(finding)]), lambdaContext());
    }
    expect(delivered()).toHaveLength(3);
    expect(getParameterCalls()).toBe(1);
    expect(ssm.calls[0]?.body).toEqual({ Name: PARAMETER, WithDecryption: true });
  });

  it("waits out a 429 and delivers the message exactly once", async () => {
    slack.script(rateLimited(1), OK);
    const waits: number[] = [];
    // The wait is recorded, not slept: the test asserts on what was asked for, not on time passing.
    const handler = createNotifySlackHandler(() => ({
      ...deps,
      post: { sleep: async (ms: number) => void waits.push(ms) },
    }));
    const summary = await handler(
      snsEvent(detect("privileged-sysadmin-profile").map(findingMessage)),
      lambdaContext(),
    );
    expect(notified(summary).rateLimitedWaits).toBe(1);
    expect(waits).toEqual([1000]);
    expect(slack.requests.map((request) => request.answer.status)).toEqual([429, 200]);
    expect(delivered()).toHaveLength(1);
    expect(slack.requests[0]?.body).toBe(slack.requests[1]?.body);
  });

  it("fails the invocation when Slack answers 500, so Lambda retries it", async () => {
    slack.script(serverError);
    const handler = createNotifySlackHandler(() => deps);
    const error = await handler(
      snsEvent(detect("privileged-sysadmin-profile").map(findingMessage)),
      lambdaContext(),
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SlackDeliveryError);
    expect((error as SlackDeliveryError).failedPositions).toEqual(["Records[0]"]);
    expect(slack.requests).toHaveLength(1);
    expect(logs.join("")).toContain("Slack did not accept the message");
  });

  it("fails when rate limiting outlasts the invocation, without waiting for nothing", async () => {
    slack.script(rateLimited(120));
    const handler = createNotifySlackHandler(() => deps);
    await expect(
      handler(snsEvent(detect("privileged-sysadmin-profile").map(findingMessage)), lambdaContext(30_000)),
    ).rejects.toThrow(/rate limited/);
    expect(slack.requests).toHaveLength(1);
  });

  it("re-reads the webhook URL after Slack says the webhook is gone", async () => {
    const handler = createNotifySlackHandler(() => deps);
    const event = snsEvent(detect("kubectl-debug-general-profile").map(findingMessage));
    slack.script({ status: 404, body: "no_service" });
    await expect(handler(event, lambdaContext())).rejects.toThrow(/404 no_service/);
    await handler(event, lambdaContext());
    expect(getParameterCalls()).toBe(2);
    expect(delivered()).toHaveLength(1);
  });

  it("fails the invocation, naming the parameter, when the webhook URL cannot be read", async () => {
    ssm.failNext(400, "AccessDeniedException");
    const handler = createNotifySlackHandler(() => deps);
    const event = snsEvent(detect("kubectl-debug-general-profile").map(findingMessage));
    await expect(handler(event, lambdaContext())).rejects.toThrow(WebhookUrlError);
    expect(slack.requests).toHaveLength(0);
    const output = logs.join("");
    expect(output).toContain("could not get the Slack webhook URL");
    expect(output).toContain("AccessDeniedException");
    expect(output).toContain("SSM parameter /ephemeral-guard/slack-webhook");
    await handler(event, lambdaContext());
    expect(delivered()).toHaveLength(1);
  });

  it("sends the alert as plain text when Slack refuses the detailed message", async () => {
    slack.script({ status: 400, body: "invalid_blocks" }, OK);
    const handler = createNotifySlackHandler(() => deps);
    const summary = await handler(
      snsEvent(detect("privileged-sysadmin-profile").map(findingMessage)),
      lambdaContext(),
    );
    expect(summary).toMatchObject({ posted: { finding: 1, remediation: 0 }, plainFallbacks: 1 });
    const [plain] = delivered();
    expect(plain).toEqual({
      text:
        "🚨 CRITICAL: ephemeral container added to a pod: `shop/checkout-api-7d9f8b6c5d-x2kqp` on `prod-eu` by `jane.doe`\n" +
        "Audit ID `1d3f5b7a-9c2e-4d6a-8b0c-7e9a1c3e5f64`. " +
        "_The detailed message was refused by Slack (invalid_blocks); see notify-slack's logs._",
      unfurl_links: false,
      unfurl_media: false,
    });
  });

  it("logs and counts records that are neither findings nor outcomes, and still posts the rest", async () => {
    const [finding] = detect("kubectl-debug-general-profile");
    if (!finding) throw new Error("no finding");
    const good = findingMessage(finding);
    const event = snsEvent([
      {
        ...good,
        attributes: { ...good.attributes, messageType: { DataType: "String", StringValue: "pager" } },
      },
      { ...good, body: "{not json" },
      { ...good, body: JSON.stringify({ ...finding, severity: "apocalyptic" }) },
      good,
      { ...remediationMessage(remediationOutcome), body: JSON.stringify({ kind: "remediation" }) },
    ]);
    const { messageType: _dropped, ...withoutType } = good.attributes;
    event.Records.push(...snsEvent([{ ...good, attributes: withoutType }]).Records);
    const handler = createNotifySlackHandler(() => deps);
    const summary = await handler(event, lambdaContext());
    expect(summary).toEqual({
      records: 6,
      posted: { finding: 1, remediation: 0, storm: 0, coverage: 0 },
      held: 0,
      duplicates: 0,
      invalid: 5,
      rateLimitedWaits: 0,
      plainFallbacks: 0,
    });
    expect(delivered()).toHaveLength(1);
    const output = logs.join("");
    for (const position of ["Records[0]", "Records[1]", "Records[2]", "Records[4]", "Records[5]"]) {
      expect(output).toContain(`"position":"${position}"`);
    }
    expect(output).toContain("not JSON");
    expect(output).toContain("at severity");
  });

  it("does not fetch the webhook URL when there is nothing to post", async () => {
    const handler = createNotifySlackHandler(() => deps);
    const summary = await handler(snsEvent([{ id: "x", body: "[]", attributes: {} }]), lambdaContext());
    expect(notified(summary).invalid).toBe(1);
    expect(getParameterCalls()).toBe(0);
    expect(slack.requests).toHaveLength(0);
  });
});

describe("exported production handler", () => {
  it("reads its environment and refuses a webhook URL that is not https, even on loopback", async () => {
    vi.stubEnv("SLACK_WEBHOOK_PARAMETER", PARAMETER);
    vi.stubEnv("AWS_REGION", "eu-west-1");
    vi.stubEnv("AWS_ACCESS_KEY_ID", credentials.accessKeyId);
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", credentials.secretAccessKey);
    vi.stubEnv("AWS_ENDPOINT_URL_SSM", ssm.endpoint);
    vi.stubEnv("AWS_ENDPOINT_URL_DYNAMODB", dynamo.endpoint);
    vi.stubEnv("IDEMPOTENCY_TABLE", TABLE);
    try {
      const { handler } = await import("../functions/notify-slack.ts");
      const event = snsEvent(detect("kubectl-debug-general-profile").map(findingMessage));
      const error = await handler(event, lambdaContext()).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(WebhookUrlError);
      expect((error as Error).message).toMatch(
        /must use https \(SSM parameter \/ephemeral-guard\/slack-webhook\)/,
      );
      expect(getParameterCalls()).toBe(1);
      expect(slack.requests).toHaveLength(0);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe("local runs (invoke local -f notify-slack with SLACK_WEBHOOK_URL)", () => {
  /** What `osls invoke local -f notify-slack --param=local=true` sets, plus the URL; no AWS credentials. */
  const LOCAL_ENV = {
    SLACK_WEBHOOK_PARAMETER: PARAMETER,
    IDEMPOTENCY_TABLE: "ephemeral-guard-local-idempotency",
    STORM_TABLE: "ephemeral-guard-local-storm",
  };

  it("posts to SLACK_WEBHOOK_URL without AWS: no parameter read, nothing recorded, storm members posted", async () => {
    const env = { ...LOCAL_ENV, SLACK_WEBHOOK_URL: slack.url };
    const handler = createNotifySlackHandler(() => productionDeps(env, LOOPBACK_HTTP_FOR_TESTS_ONLY));
    const [finding] = detect("kubectl-debug-general-profile");
    if (!finding) throw new Error("no finding");
    const member = withAttributes(findingMessage(finding), STORM_MEMBER_ATTRIBUTES);
    const summary = notified(await handler(snsEvent([member]), lambdaContext()));
    expect(summary.posted.finding).toBe(1);
    expect(summary.held).toBe(0);
    // Twice in a run is twice: nothing is recorded locally.
    await handler(snsEvent([member]), lambdaContext());
    expect(delivered()).toHaveLength(2);
    expect(getParameterCalls()).toBe(0);
    // No idempotency table was asked (a failed claim would be logged, and posted anyway).
    expect(logs.join("")).not.toMatch(/could not check whether|posted but not recorded|could not hold/);
  });

  it("still refuses a webhook URL that is not https in the production handler, naming the variable", async () => {
    vi.stubEnv("SLACK_WEBHOOK_PARAMETER", PARAMETER);
    vi.stubEnv("IDEMPOTENCY_TABLE", "ephemeral-guard-local-idempotency");
    vi.stubEnv("SLACK_WEBHOOK_URL", slack.url);
    // A new container: the handler builds its dependencies once per module instance.
    vi.resetModules();
    try {
      const { handler } = await import("../functions/notify-slack.ts");
      const event = snsEvent(detect("kubectl-debug-general-profile").map(findingMessage));
      const error = await handler(event, lambdaContext()).catch((caught: unknown) => caught);
      // A fresh module graph: its own WebhookUrlError class.
      expect((error as Error).name).toBe("WebhookUrlError");
      expect((error as Error).message).toContain("must use https (SLACK_WEBHOOK_URL (local run))");
      expect(getParameterCalls()).toBe(0);
      expect(slack.requests).toHaveLength(0);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("refuses SLACK_WEBHOOK_URL inside Lambda, where the URL must come from SSM or Secrets Manager", () => {
    expect(() =>
      parseSlackEnvironment({
        ...LOCAL_ENV,
        SLACK_WEBHOOK_URL: "https://hooks.slack.com/services/T/B/x",
        AWS_LAMBDA_RUNTIME_API: "127.0.0.1:9001",
      }),
    ).toThrow(/SLACK_WEBHOOK_URL is for local runs/);
    expect(parseSlackEnvironment(LOCAL_ENV)).not.toHaveProperty("localWebhookUrl");
  });
});

describe("contract with the publisher", () => {
  let sns: SnsServer;
  beforeAll(async () => {
    sns = await startSnsServer();
  });
  afterAll(async () => {
    await sns.stop();
  });

  it("posts what detect and remediate publish, as SNS delivers it", async () => {
    const topicArn = "arn:aws:sns:eu-west-1:111122223333:ephemeral-guard-test-alerts";
    const client = new SNSClient({
      endpoint: sns.endpoint,
      region: "eu-west-1",
      credentials,
      maxAttempts: 1,
    });
    const findings = detect("privileged-sysadmin-profile");
    await publishMessages(client, topicArn, [
      ...findings.map(findingMessage),
      remediationMessage(remediationOutcome),
    ]);
    const deliveries = asTopicMessages(sns.published);
    const handler = createNotifySlackHandler(() => deps);
    const summary = await handler(snsEvent(deliveries), lambdaContext());
    expect(notified(summary).posted).toEqual({ finding: 1, remediation: 1, storm: 0, coverage: 0 });
    expect(notified(summary).invalid).toBe(0);
    const [alert, followUp] = delivered().map((message) => message.text);
    expect(alert).toMatch(
      /^🚨 CRITICAL: ephemeral container added to a pod: `shop\/checkout-api-7d9f8b6c5d-x2kqp`/,
    );
    expect(followUp).toMatch(
      /^↳ 🗑️ \*Remediation of alert\* `1d3f5b7a-9c2e-4d6a-8b0c-7e9a1c3e5f64`: \*pod deleted\*/,
    );
  });
});
