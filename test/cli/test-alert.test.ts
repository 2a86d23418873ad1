import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { SNSEventRecord } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { SlackMessage } from "../../functions/adapters/slack/slack-block-kit.ts";
import { findingSlackMessage } from "../../functions/adapters/slack/slack-blocks-finding.ts";
import type { NotifySummary } from "../../functions/adapters/slack/slack-notifier.ts";
import { LOOPBACK_HTTP_FOR_TESTS_ONLY } from "../../functions/adapters/slack/slack-webhook-url.ts";
import { parseTestAlertArgs } from "../../functions/cli/parse-test-alert-args.ts";
import { runTestAlert, type TestAlertDeps } from "../../functions/cli/run-test-alert.ts";
import { FindingSchema } from "../../functions/core/finding.ts";
import { SEVERITIES } from "../../functions/core/severity.ts";
import { testFinding } from "../../functions/core/test-finding.ts";
import { createNotifySlackHandler, productionDeps } from "../../functions/notify-slack.ts";
import { readFindingMessage } from "../../functions/remediation/read-finding-message.ts";
import { allTexts, expectWithinSlackLimits } from "../helpers/slack-message-checks.ts";
import { asTopicMessages, snsEvent } from "../helpers/sns-lambda-events.ts";
import { generateTestCa, serverCertificate } from "../peers/kubernetes-api-server.ts";
import {
  type SlackWebhookServer,
  startSlackWebhookServer,
  WEBHOOK_PATH,
} from "../peers/slack-webhook-server.ts";
import { type SnsServer, startSnsServer } from "../peers/sns-server.ts";

/**
 * `ephemeral-guard test-alert` through the real path: the Slack webhook peer (the Block Kit notify-slack
 * renders), and the SNS peer (the message detect publishes, then what notify-slack and remediation make of it).
 */

const ROOT = join(import.meta.dirname, "../..");
const TOPIC = "arn:aws:sns:us-east-1:123456789012:ephemeral-guard-test-alerts";
const NOW = new Date("2026-11-24T03:00:00.000Z");
const ID = "0f0e0d0c-0b0a-4909-8807-060504030201";

let slack: SlackWebhookServer;
let sns: SnsServer;

const deps: Partial<TestAlertDeps> = {
  now: () => NOW,
  id: () => ID,
  sender: () => "jane",
  webhookPolicy: LOOPBACK_HTTP_FOR_TESTS_ONLY,
};

async function testAlert(
  args: string[],
  options: { env?: Record<string, string>; deps?: Partial<TestAlertDeps> } = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  const status = await runTestAlert(args, { stdout, stderr, env: options.env ?? {} }, options.deps ?? deps);
  return { status, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

function posted(): SlackMessage[] {
  return slack.requests.filter((request) => request.answer.status === 200).map((r) => r.json as SlackMessage);
}

beforeAll(async () => {
  slack = await startSlackWebhookServer();
  sns = await startSnsServer({ topics: [TOPIC] });
});
afterAll(async () => {
  await slack.stop();
  await sns.stop();
});
beforeEach(async () => {
  slack.requests.length = 0;
  await sns.recover();
  sns.clear();
});

describe("the test finding", () => {
  it("is a valid finding at every level, scored in that level's band, marked test, with a new audit ID per run", () => {
    for (const [rank, severity] of SEVERITIES.entries()) {
      const finding = FindingSchema.parse(testFinding({ severity, id: ID, time: NOW, sender: "jane" }));
      expect(finding.test).toBe(true);
      expect(finding.score).toBeGreaterThanOrEqual(rank * 20);
      expect(finding.score).toBeLessThan(rank * 20 + 20);
      expect(finding.reasons[0]?.text).toMatch(/^TEST ALERT/);
    }
    expect(testFinding({ severity: "high", id: "a", time: NOW, sender: "x" }).auditID).not.toBe(
      testFinding({ severity: "high", id: "b", time: NOW, sender: "x" }).auditID,
    );
  });
});

describe("test-alert --webhook-url", () => {
  it("posts the test finding exactly as notify-slack renders it, marked as a test in the notification, header and body", async () => {
    const result = await testAlert([
      "--webhook-url",
      slack.url,
      "--severity",
      "CRITICAL",
      "--cluster",
      "prod-eu",
    ]);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`sent a critical test alert (audit ID test-${ID}) to the Slack webhook`);
    const [message] = posted();
    if (!message) throw new Error("nothing posted");
    const finding = testFinding({
      severity: "critical",
      id: ID,
      time: NOW,
      sender: "jane",
      cluster: "prod-eu",
    });
    expect(message).toEqual(JSON.parse(JSON.stringify(findingSlackMessage(finding, { region: undefined }))));
    expectWithinSlackLimits(message);
    expect(message.text).toMatch(/^🧪 TEST ALERT \(not a real finding\): 🚨 CRITICAL: /);
    expect(JSON.stringify(message.blocks)).toContain("🧪 TEST ALERT · 🚨 CRITICAL");
    expect(allTexts(message).join("\n")).toContain("This is a test alert");
    // The webhook URL is the credential: never printed.
    expect(result.stderr + result.stdout).not.toContain(WEBHOOK_PATH);
  });

  it("takes the URL from SLACK_WEBHOOK_URL, keeping it out of the command line, at severity high by default", async () => {
    const result = await testAlert([], { env: { SLACK_WEBHOOK_URL: slack.url } });
    expect(result.status).toBe(0);
    expect(posted()[0]?.text).toMatch(/^🧪 TEST ALERT \(not a real finding\): 🔴 HIGH: /);
  });

  it("refuses a URL that is not https (exit 1), without printing it", async () => {
    // The production policy: https only.
    const { webhookPolicy: _loopback, ...production } = deps;
    const result = await testAlert(["--webhook-url", slack.url], { deps: production });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("webhook URL must use https (--webhook-url)");
    expect(result.stderr).not.toContain(WEBHOOK_PATH);
    expect(slack.requests).toEqual([]);
  });

  it("exits 2 when Slack does not take it, saying what to check for a removed webhook", async () => {
    slack.script({ status: 404, body: "no_service" });
    const result = await testAlert(["--webhook-url", slack.url]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("Slack did not take the test alert: Slack answered 404 no_service");
    expect(result.stderr).toContain("the webhook does not exist or was revoked");
    expect(result.stderr).not.toContain(WEBHOOK_PATH);
  });

  it("needs exactly one destination, and takes levels in any case", async () => {
    const none = await testAlert([]);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain("where to? --webhook-url URL (or SLACK_WEBHOOK_URL) or --topic-arn ARN");
    const both = await testAlert(["--webhook-url", slack.url, "--topic-arn", TOPIC]);
    expect(both.status).toBe(1);
    expect(both.stderr).toContain("--webhook-url and --topic-arn exclude each other");
    const notSns = await testAlert(["--topic-arn", "arn:aws:sqs:eu-west-1:111122223333:q"]);
    expect(notSns.stderr).toContain("--topic-arn: not an SNS topic ARN");
    expect(parseTestAlertArgs(["--webhook-url", "https://x", "--severity", "Medium"]).severity).toBe(
      "medium",
    );
    expect(slack.requests).toEqual([]);
  });
});

describe("test-alert --topic-arn", () => {
  function stubAws(): void {
    vi.stubEnv("AWS_ACCESS_KEY_ID", "test");
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", "test");
    vi.stubEnv("AWS_MAX_ATTEMPTS", "1");
    vi.stubEnv("AWS_ENDPOINT_URL_SNS", sns.endpoint);
  }

  it("publishes with detect's attributes; notify-slack posts it as a test and remediation ignores it", async () => {
    stubAws();
    let result: Awaited<ReturnType<typeof testAlert>>;
    try {
      result = await testAlert(["--topic-arn", TOPIC, "--severity", "critical", "--cluster", "prod-eu"]);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`published a critical test alert (audit ID test-${ID}) to ${TOPIC}`);
    expect(sns.published).toHaveLength(1);
    const [published] = sns.published;
    expect(published?.topicArn).toBe(TOPIC);
    expect(published?.messageAttributes).toEqual({
      messageType: { dataType: "String", value: "finding" },
      severity: { dataType: "String", value: "critical" },
      severityRank: { dataType: "Number", value: "4" },
      outcome: { dataType: "String", value: "created" },
      cluster: { dataType: "String", value: "prod-eu" },
      namespace: { dataType: "String", value: "ephemeral-guard-test" },
      actorKind: { dataType: "String", value: "user" },
    });
    const finding = FindingSchema.parse(JSON.parse(published?.message ?? ""));
    expect(finding.test).toBe(true);

    // What SNS then delivers to the subscribers.
    const event = snsEvent(asTopicMessages(sns.published));
    const notify = createNotifySlackHandler(() =>
      productionDeps(
        {
          SLACK_WEBHOOK_PARAMETER: "/ephemeral-guard/slack-webhook",
          IDEMPOTENCY_TABLE: "ephemeral-guard-local-idempotency",
          SLACK_WEBHOOK_URL: slack.url,
          POWERTOOLS_LOG_LEVEL: "SILENT",
        },
        LOOPBACK_HTTP_FOR_TESTS_ONLY,
      ),
    );
    const silence = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    let summary: NotifySummary;
    try {
      summary = (await notify(event, {
        getRemainingTimeInMillis: () => 30_000,
      } as Parameters<typeof notify>[1])) as NotifySummary;
    } finally {
      silence.mockRestore();
    }
    expect(summary.posted.finding).toBe(1);
    expect(posted()[0]?.text).toMatch(/^🧪 TEST ALERT \(not a real finding\): 🚨 CRITICAL: /);

    const record = event.Records[0] as SNSEventRecord;
    expect(readFindingMessage(record)).toEqual({
      kind: "ignored",
      reason: "test-finding",
      problem: "marked test: true",
    });
  });

  it("exits 2 when SNS refuses, naming alertPublishers (the topic's policy) as what to check", async () => {
    await sns.fail({
      kind: "http",
      status: 403,
      code: "AuthorizationError",
      message:
        "User: arn:aws:sts::123456789012:assumed-role/dev/jane is not authorized to perform: SNS:Publish",
    });
    stubAws();
    try {
      const result = await testAlert(["--topic-arn", TOPIC]);
      expect(result.status).toBe(2);
      expect(result.stderr).toContain("SNS did not take the test alert: AuthorizationError");
      expect(result.stderr).toContain("alertPublishers");
    } finally {
      vi.unstubAllEnvs();
    }
    expect(sns.published).toEqual([]);
  });
});

describe("test-alert as a process", () => {
  it("ephemeral-guard test-alert --webhook-url posts over https through the bin, with no AWS set-up", async () => {
    const ca = await generateTestCa();
    const https = await startSlackWebhookServer({ tls: await serverCertificate(ca) });
    try {
      const caFile = join(mkdtempSync(join(tmpdir(), "eg-ca-")), "ca.pem");
      writeFileSync(caFile, ca.cert);
      const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [join(ROOT, "bin", "ephemeral-guard.mjs"), "test-alert", "--webhook-url", https.url],
          {
            cwd: ROOT,
            timeout: 30_000,
            env: { PATH: process.env.PATH ?? "", NODE_EXTRA_CA_CERTS: caFile },
          },
          (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
        );
      });
      expect(result.stderr).toContain("sent a high test alert");
      expect(result.code).toBe(0);
      expect(https.requests).toHaveLength(1);
      expect((https.requests[0]?.json as SlackMessage | undefined)?.text).toMatch(/^🧪 TEST ALERT/);
    } finally {
      await https.stop();
    }
  });
});
