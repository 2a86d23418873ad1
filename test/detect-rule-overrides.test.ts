import { gzipSync } from "node:zlib";
import type { Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type Finding, FindingSchema } from "../functions/core/finding.ts";
import { captureJsonLogs } from "./helpers/captured-logs.ts";
import { readEventText } from "./helpers/events.ts";
import { type DynamoPeer, idempotencyTable, startDynalite } from "./peers/dynalite.ts";
import { type SnsServer, startSnsServer } from "./peers/sns-server.ts";

/**
 * The detect handler as deployed with the ruleOverrides deploy parameter (RULE_OVERRIDES): each case loads the
 * function afresh, as a new Lambda container reads its environment, with real SNS and DynamoDB clients on
 * loopback peers.
 */

const TOPIC = "arn:aws:sns:us-east-1:123456789012:ephemeral-guard-test-alerts";
const TABLE = "ephemeral-guard-test-idempotency";

type Handler = (event: unknown, context: Context) => Promise<unknown>;

let sns: SnsServer;
let dynamo: DynamoPeer;
const savedEnv = { ...process.env };
let logged: Record<string, unknown>[] = [];

function lambdaContext(): Context {
  const deadline = Date.now() + 60_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "ephemeral-guard-test-detect",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:ephemeral-guard-test-detect",
    memoryLimitInMB: "512",
    awsRequestId: "req-rule-overrides",
    logGroupName: "/aws/lambda/ephemeral-guard-test-detect",
    logStreamName: "test",
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** A CloudWatch Logs subscription delivery of the given audit samples, one compact message each. */
function delivery(samples: readonly string[]): unknown {
  const data = {
    messageType: "DATA_MESSAGE",
    owner: "123456789012",
    logGroup: "/aws/eks/prod-eu/cluster",
    logStream: "kube-apiserver-audit-0123456789abcdef",
    subscriptionFilters: ["ephemeral-guard-test-ephemeral-containers"],
    logEvents: samples.map((sample, index) => ({
      id: String(2000 + index),
      timestamp: 1_700_000_000_000,
      message: JSON.stringify(JSON.parse(readEventText(`audit/${sample}`))),
    })),
  };
  return { awslogs: { data: gzipSync(JSON.stringify(data)).toString("base64") } };
}

async function detectWith(ruleOverrides: string): Promise<Handler> {
  process.env.RULE_OVERRIDES = ruleOverrides;
  vi.resetModules();
  return ((await import("../functions/detect.ts")) as { handler: Handler }).handler;
}

function published(): Finding[] {
  return sns.published.map((message) => FindingSchema.parse(JSON.parse(message.message)));
}

beforeAll(async () => {
  sns = await startSnsServer({ topics: [TOPIC] });
  dynamo = await startDynalite([idempotencyTable(TABLE)]);
  Object.assign(process.env, {
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_ENDPOINT_URL_SNS: sns.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_MAX_ATTEMPTS: "2",
    ALERTS_TOPIC_ARN: TOPIC,
    IDEMPOTENCY_TABLE: TABLE,
    POWERTOOLS_LOG_LEVEL: "INFO",
    AWS_LAMBDA_FUNCTION_NAME: "ephemeral-guard-test-detect",
  });
});

afterAll(async () => {
  await sns.stop();
  await dynamo.stop();
  process.env = savedEnv;
});

beforeEach(async () => {
  logged = [];
  captureJsonLogs(logged);
  sns.clear();
  await dynamo.clearTable(TABLE);
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("detect with the ruleOverrides deploy parameter", () => {
  it("publishes findings scored with the rule switched off and the rule re-levelled, and logs the overrides", async () => {
    const handler = await detectWith(
      '{"actor.non-kubectl-client":{"enabled":false},"container.run-as-root":{"level":"high"}}',
    );
    await handler(delivery(["json-patch-spec-path.json", "run-as-root.json"]), lambdaContext());

    const findings = published();
    expect(findings).toHaveLength(2);
    const root = findings.find((finding) => finding.reasons.some((r) => r.id === "container.run-as-root"));
    const script = findings.find((finding) => finding !== root);
    expect(root?.severity).toBe("high");
    expect(root?.reasons[0]).toMatchObject({
      id: "container.run-as-root",
      severity: "high",
      text: expect.stringContaining("(level high set by configuration; default medium)"),
    });
    expect(script?.severity).toBe("low");
    expect(script?.reasons.map((reason) => reason.id)).not.toContain("actor.non-kubectl-client");
    const high = sns.published.find((message) => message.message.includes(root?.auditID ?? "?"));
    expect(high?.messageAttributes.severity).toEqual({ dataType: "String", value: "high" });
    expect(logged.find((line) => line.message === "rule overrides in force")).toMatchObject({
      level: "INFO",
      ruleOverrides: {
        "actor.non-kubectl-client": { enabled: false },
        "container.run-as-root": { level: "high" },
      },
    });
  });

  it("fails every invocation, publishing nothing, when the overrides would switch off a pinned rule", async () => {
    const handler = await detectWith('{"body.truncated":{"enabled":false}}');
    await expect(handler(delivery(["truncated-body.json"]), lambdaContext())).rejects.toMatchObject({
      name: "ConfigurationError",
      message: expect.stringContaining(
        "RULE_OVERRIDES body.truncated.enabled: body.truncated is pinned at medium: it cannot be switched off",
      ),
    });
    expect(sns.published).toEqual([]);
  });

  it("fails on a rule id that is a typo, saying which rule was meant", async () => {
    const handler = await detectWith('{"container.run-as-rot":{"level":"high"}}');
    await expect(handler(delivery(["run-as-root.json"]), lambdaContext())).rejects.toThrow(
      'did you mean "container.run-as-root"?',
    );
    expect(sns.published).toEqual([]);
  });
});
