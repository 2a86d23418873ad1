import { randomUUID } from "node:crypto";
import { userInfo } from "node:os";
import type { Writable } from "node:stream";
import { findingMessage } from "../adapters/aws/sns-message.ts";
import { postToSlack, SlackPostError } from "../adapters/slack/post-to-slack.ts";
import { findingSlackMessage } from "../adapters/slack/slack-blocks-finding.ts";
import {
  HTTPS_ONLY,
  validateWebhookUrl,
  WebhookUrlError,
  type WebhookUrlPolicy,
} from "../adapters/slack/slack-webhook-url.ts";
import { errorMessage } from "../core/decode-cloudwatch.ts";
import type { Finding } from "../core/finding.ts";
import { testFinding } from "../core/test-finding.ts";
import { synopsis, UsageError } from "./command-options.ts";
import { EXIT } from "./exit-codes.ts";
import { inert } from "./format-finding-text.ts";
import { parseTestAlertArgs, TEST_ALERT_USAGE, type TestAlertOptions } from "./parse-test-alert-args.ts";

/**
 * `ephemeral-guard test-alert`: a finding marked `test: true` (core/test-finding.ts) sent through the real
 * path: the Block Kit message notify-slack would post, straight to a webhook; or the message detect would
 * publish, with its attributes, to the alerts topic.
 */

export interface TestAlertIo {
  stdout: Writable;
  stderr: Writable;
  /** SLACK_WEBHOOK_URL (the default webhook); the AWS client reads its own chain. */
  env: Record<string, string | undefined>;
}

export interface TestAlertDeps {
  now: () => Date;
  id: () => string;
  sender: () => string;
  /** Which webhook URLs are accepted: https only, except in tests (slack-webhook-url.ts). */
  webhookPolicy: WebhookUrlPolicy;
  /** Waits for Slack's Retry-After (at most three). */
  sleep?: (ms: number) => Promise<void>;
}

function osUser(): string {
  try {
    return userInfo().username || "someone";
  } catch {
    return "someone";
  }
}

export const DEFAULT_TEST_ALERT_DEPS: TestAlertDeps = {
  now: () => new Date(),
  id: randomUUID,
  sender: osUser,
  webhookPolicy: HTTPS_ONLY,
};

/** Time given to Slack, as notify-slack's invocation would (30 s). */
const SLACK_TIME_MS = 30_000;
/** Slack's answers that mean the URL is wrong or the webhook was removed. */
const WEBHOOK_GONE = new Set([403, 404, 410]);

type Sent = { ok: true; line: string } | { ok: false; status: number; line: string };

async function sendToWebhook(rawUrl: string, finding: Finding, deps: TestAlertDeps): Promise<Sent> {
  let url: URL;
  try {
    url = validateWebhookUrl(rawUrl, "--webhook-url", deps.webhookPolicy);
  } catch (error) {
    if (!(error instanceof WebhookUrlError)) throw error;
    return { ok: false, status: EXIT.usage, line: error.message };
  }
  const message = findingSlackMessage(finding, { region: undefined });
  const started = Date.now();
  try {
    await postToSlack(url, message, {
      remainingTimeMs: () => SLACK_TIME_MS - (Date.now() - started),
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
    });
  } catch (error) {
    if (!(error instanceof SlackPostError)) throw error;
    const hint =
      error.status !== undefined && WEBHOOK_GONE.has(error.status)
        ? ": the webhook does not exist or was revoked; check the URL (Slack app, Incoming Webhooks)"
        : "";
    return {
      ok: false,
      status: EXIT.incomplete,
      line: `Slack did not take the test alert: ${error.message}${hint}`,
    };
  }
  return {
    ok: true,
    line: `sent a ${finding.severity} test alert (audit ID ${finding.auditID}) to the Slack webhook`,
  };
}

async function publishToTopic(topicArn: string, region: string | undefined, finding: Finding): Promise<Sent> {
  // Loaded only for this path: the SDK is most of the start-up time.
  const [{ SNSClient }, { publishMessages }] = await Promise.all([
    import("@aws-sdk/client-sns"),
    import("../adapters/aws/sns-publisher.ts"),
  ]);
  const sns = new SNSClient({ ...(region ? { region } : {}), maxAttempts: 3 });
  try {
    await publishMessages(sns, topicArn, [findingMessage(finding)]);
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    // The publisher's cause already starts with the SDK error's name; a plain Error adds nothing.
    const name = cause instanceof Error && cause.name !== "Error" ? cause.name : "";
    const denied = /AuthorizationError|AccessDenied|KMS/i.test(`${name} ${errorMessage(cause)}`);
    const hint = denied
      ? ": the topic's policy lets only the stack's roles and the roles listed in its alertPublishers parameter publish, and the role needs sns:Publish and kms:GenerateDataKey/kms:Decrypt on the stack key (docs/deploy.md)"
      : "";
    return {
      ok: false,
      status: EXIT.incomplete,
      line: `SNS did not take the test alert: ${name ? `${name}: ` : ""}${errorMessage(cause)}${hint}`,
    };
  } finally {
    sns.destroy();
  }
  return {
    ok: true,
    line:
      `published a ${finding.severity} test alert (audit ID ${finding.auditID}) to ${topicArn}: notify-slack ` +
      "posts it, the pager gets it if that level is at or above pagingMinSeverity, remediation ignores it",
  };
}

export async function runTestAlert(
  argv: readonly string[],
  io: TestAlertIo,
  overrides: Partial<TestAlertDeps> = {},
): Promise<number> {
  const deps: TestAlertDeps = { ...DEFAULT_TEST_ALERT_DEPS, ...overrides };
  let options: TestAlertOptions;
  try {
    options = parseTestAlertArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(
      `ephemeral-guard test-alert: ${error.message}\n${synopsis(TEST_ALERT_USAGE)}\n(ephemeral-guard help test-alert)\n`,
    );
    return EXIT.usage;
  }
  if (options.help) {
    io.stdout.write(`${TEST_ALERT_USAGE}\n`);
    return EXIT.ok;
  }
  const webhookUrl =
    options.topicArn === undefined ? (options.webhookUrl ?? io.env.SLACK_WEBHOOK_URL) : undefined;
  if (options.topicArn === undefined && !webhookUrl) {
    io.stderr.write(
      `ephemeral-guard test-alert: where to? --webhook-url URL (or SLACK_WEBHOOK_URL) or --topic-arn ARN\n${synopsis(TEST_ALERT_USAGE)}\n`,
    );
    return EXIT.usage;
  }
  const finding = testFinding({
    severity: options.severity,
    id: deps.id(),
    time: deps.now(),
    sender: deps.sender(),
    ...(options.cluster ? { cluster: options.cluster } : {}),
  });
  const sent =
    options.topicArn !== undefined
      ? await publishToTopic(options.topicArn, options.region ?? options.topicRegion, finding)
      : await sendToWebhook(webhookUrl ?? "", finding, deps);
  io.stderr.write(`ephemeral-guard test-alert: ${inert(sent.line)}\n`);
  return sent.ok ? EXIT.ok : sent.status;
}
