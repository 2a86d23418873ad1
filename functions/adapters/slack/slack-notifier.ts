import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { z } from "zod";
import { CoverageAlertSchema } from "../../core/cluster-coverage/coverage-alert.ts";
import { FindingSchema } from "../../core/finding.ts";
import { RemediationOutcomeSchema } from "../../core/remediation-outcome.ts";
import { type SnsDeliveryRecord, SnsDeliverySchema } from "../aws/sns-delivery.ts";
import {
  type PostOptions,
  type PostResult,
  postToSlack,
  SlackPostError,
  SlackRateLimitError,
} from "./post-to-slack.ts";
import { plainMessage, type SlackMessage } from "./slack-block-kit.ts";
import { coverageNotificationText, coverageSlackMessage } from "./slack-blocks-coverage.ts";
import { findingNotificationText, findingSlackMessage } from "./slack-blocks-finding.ts";
import { remediationNotificationText, remediationSlackMessage } from "./slack-blocks-remediation.ts";
import { mrkdwnCode } from "./slack-escape.ts";

export interface RenderOptions {
  region: string | undefined;
}

type RenderResult =
  | { ok: true; message: SlackMessage; auditID: string; renderError?: string }
  | { ok: false; problem: string };

export interface MessageKind<T> {
  schema: z.ZodType<T>;
  auditID: (value: T) => string;
  render: (value: T, options: RenderOptions) => SlackMessage;
  /** One line that cannot fail: sent as plain text if `render` throws, so a rendering bug never eats an alert. */
  line: (value: T) => string;
}

export function messageKind<T>(kind: MessageKind<T>) {
  return (value: unknown, options: RenderOptions): RenderResult => {
    const parsed = kind.schema.safeParse(value);
    if (!parsed.success) return { ok: false, problem: z.prettifyError(parsed.error) };
    const auditID = kind.auditID(parsed.data);
    try {
      return { ok: true, auditID, message: kind.render(parsed.data, options) };
    } catch (error) {
      const renderError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      return {
        ok: true,
        auditID,
        renderError,
        message: plainMessage(
          `${kind.line(parsed.data)}\n${renderFailureNote(auditID, "could not be rendered")}`,
        ),
      };
    }
  };
}

function renderFailureNote(auditID: string, what: string): string {
  return `Audit ID ${mrkdwnCode(auditID, { max: 300 })}. _The detailed message ${what}; see notify-slack's logs._`;
}

/**
 * What each `messageType` attribute value means: its schema and its rendering. The attribute is set by
 * sns-message.ts on every message the project publishes.
 */
const MESSAGE_TYPES = {
  finding: messageKind({
    schema: FindingSchema,
    auditID: (finding) => finding.auditID,
    render: findingSlackMessage,
    line: findingNotificationText,
  }),
  remediation: messageKind({
    schema: RemediationOutcomeSchema,
    auditID: (outcome) => outcome.auditID,
    render: (outcome) => remediationSlackMessage(outcome),
    line: remediationNotificationText,
  }),
  coverage: messageKind({
    schema: CoverageAlertSchema,
    auditID: (alert) => alert.id,
    render: (alert) => coverageSlackMessage(alert),
    line: coverageNotificationText,
  }),
} as const;
type MessageType = keyof typeof MESSAGE_TYPES;

function isMessageType(value: string | undefined): value is MessageType {
  return value !== undefined && Object.hasOwn(MESSAGE_TYPES, value);
}

export interface WebhookUrlProvider {
  get(): Promise<URL>;
  invalidate(): void;
  readonly description: string;
}

export interface NotifierDeps {
  logger: Logger;
  /** CloudWatch EMF metrics (SlackPosted, SlackInvalid, SlackPlainFallbacks); absent in some tests. */
  metrics?: Metrics;
  webhookUrl: WebhookUrlProvider;
  region: string | undefined;
  post?: Omit<PostOptions, "remainingTimeMs">;
}

export interface NotifySummary {
  records: number;
  posted: Record<MessageType, number>;
  /** Records that were neither a valid finding nor a valid remediation outcome: logged, not retried. */
  invalid: number;
  rateLimitedWaits: number;
  /** Messages Slack refused as built and that were sent as plain text instead. */
  plainFallbacks: number;
}

/** Slack's answers (400) when it refuses the content itself: retrying the same message would never work. */
const CONTENT_REJECTIONS = new Set([
  "invalid_blocks",
  "invalid_blocks_format",
  "invalid_attachments",
  "too_long",
  "too_many_attachments",
  "invalid_payload",
]);

function isContentRejection(error: unknown): error is SlackPostError {
  return (
    error instanceof SlackPostError && error.status === 400 && CONTENT_REJECTIONS.has(error.slackError ?? "")
  );
}

/** The alert as one line of text, so a rendering problem never costs the alert itself. */
function fallbackMessage(item: Rendered, slackError: string | undefined): SlackMessage {
  return plainMessage(
    `${item.message.text}\n${renderFailureNote(item.auditID, `was refused by Slack (${slackError ?? "unknown error"})`)}`,
  );
}

export class NotSnsEventError extends Error {
  constructor(detail: string) {
    super(`notify-slack expects an SNS event: ${detail}`);
    this.name = "NotSnsEventError";
  }
}

/** Slack did not take every message; thrown so that Lambda retries the event (then its failure queue). */
export class SlackDeliveryError extends Error {
  constructor(
    message: string,
    readonly failedPositions: string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SlackDeliveryError";
  }
}

interface Rendered {
  position: string;
  messageType: MessageType;
  auditID: string;
  message: SlackMessage;
  /** Already the plain-text fallback (the detailed message could not be built). */
  plain: boolean;
}

/** notify-slack's metric names; alarms select on them. */
export const NOTIFY_METRIC = {
  posted: "SlackPosted",
  invalid: "SlackInvalid",
  plainFallbacks: "SlackPlainFallbacks",
} as const;

function recordMetrics(metrics: Metrics | undefined, summary: NotifySummary): void {
  if (!metrics) return;
  const posted = Object.values(summary.posted).reduce((total, count) => total + count, 0);
  metrics.addMetric(NOTIFY_METRIC.posted, MetricUnit.Count, posted);
  metrics.addMetric(NOTIFY_METRIC.invalid, MetricUnit.Count, summary.invalid);
  metrics.addMetric(NOTIFY_METRIC.plainFallbacks, MetricUnit.Count, summary.plainFallbacks);
}

/** Problems (zod messages quoting attacker input) are cut for the log. */
const MAX_PROBLEM_CHARS = 2_000;

function renderRecords(
  records: SnsDeliveryRecord[],
  deps: NotifierDeps,
): { rendered: Rendered[]; invalid: number } {
  const rendered: Rendered[] = [];
  let invalid = 0;
  records.forEach((record, index) => {
    const position = `Records[${index}]`;
    const messageType = record.Sns.MessageAttributes?.messageType?.Value;
    const reject = (problem: string) => {
      invalid++;
      deps.logger.error("SNS record is neither a finding nor a remediation outcome; skipped, not retried", {
        position,
        messageId: record.Sns.MessageId,
        messageType,
        problem: problem.slice(0, MAX_PROBLEM_CHARS),
      });
    };
    if (!isMessageType(messageType)) {
      reject(
        `messageType attribute is ${messageType === undefined ? "missing" : "not finding or remediation"}`,
      );
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(record.Sns.Message);
    } catch (error) {
      reject(`message is not JSON: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    const result = MESSAGE_TYPES[messageType](value, { region: deps.region });
    if (!result.ok) {
      reject(`not a valid ${messageType}: ${result.problem}`);
      return;
    }
    if (result.renderError) {
      deps.logger.error("could not build the detailed Slack message; sending the alert as plain text", {
        position,
        auditID: result.auditID,
        error: result.renderError,
      });
    }
    rendered.push({
      position,
      messageType,
      auditID: result.auditID,
      message: result.message,
      plain: result.renderError !== undefined,
    });
  });
  return { rendered, invalid };
}

/** Posts one message; when Slack refuses its content, posts the plain one-line version instead. */
async function deliver(
  url: URL,
  item: Rendered,
  remainingTimeMs: () => number,
  deps: NotifierDeps,
): Promise<PostResult & { plain: boolean }> {
  const post = (message: SlackMessage) => postToSlack(url, message, { ...deps.post, remainingTimeMs });
  try {
    return { ...(await post(item.message)), plain: item.plain };
  } catch (error) {
    if (!isContentRejection(error)) throw error;
    deps.logger.error("Slack refused the detailed message; sending it as plain text", {
      position: item.position,
      auditID: item.auditID,
      slackError: error.slackError,
      message: JSON.stringify(item.message).slice(0, MAX_PROBLEM_CHARS),
    });
    return { ...(await post(fallbackMessage(item, error.slackError))), plain: true };
  }
}

async function webhookUrl(deps: NotifierDeps, pending: number): Promise<URL> {
  try {
    return await deps.webhookUrl.get();
  } catch (error) {
    deps.logger.error("could not get the Slack webhook URL; failing the invocation so it is retried", {
      webhook: deps.webhookUrl.description,
      error: error instanceof Error ? error.message : String(error),
      pending,
    });
    throw error;
  }
}

/**
 * Posts one Slack message per valid record, in order. Invalid records are logged and counted. The first
 * delivery failure stops the rest (Slack is down or rate limiting) and fails the invocation; SNS delivers
 * one record per invocation, so a retry does not repost others.
 */
export async function notifySlack(
  event: unknown,
  remainingTimeMs: () => number,
  deps: NotifierDeps,
): Promise<NotifySummary> {
  const parsed = SnsDeliverySchema.safeParse(event);
  if (!parsed.success) throw new NotSnsEventError(z.prettifyError(parsed.error));
  const records = parsed.data.Records;
  const { rendered, invalid } = renderRecords(records, deps);
  const summary: NotifySummary = {
    records: records.length,
    posted: { finding: 0, remediation: 0, coverage: 0 },
    invalid,
    rateLimitedWaits: 0,
    plainFallbacks: 0,
  };
  if (rendered.length === 0) {
    recordMetrics(deps.metrics, summary);
    deps.logger.info("nothing to post to Slack", { ...summary });
    return summary;
  }
  const url = await webhookUrl(deps, rendered.length);
  for (const [index, item] of rendered.entries()) {
    try {
      const result = await deliver(url, item, remainingTimeMs, deps);
      summary.posted[item.messageType]++;
      summary.rateLimitedWaits += result.rateLimitedWaits;
      if (result.plain) summary.plainFallbacks++;
      deps.logger.info("posted to Slack", {
        position: item.position,
        messageType: item.messageType,
        auditID: item.auditID,
        rateLimitedWaits: result.rateLimitedWaits,
        plain: result.plain,
      });
    } catch (error) {
      if (error instanceof SlackPostError && error.webhookGone) deps.webhookUrl.invalidate();
      recordMetrics(deps.metrics, summary);
      const failed = rendered.slice(index).map((rest) => rest.position);
      deps.logger.error("Slack did not accept the message; failing the invocation so it is retried", {
        position: item.position,
        auditID: item.auditID,
        webhook: deps.webhookUrl.description,
        status: error instanceof SlackPostError ? error.status : undefined,
        slackError: error instanceof SlackPostError ? error.slackError : undefined,
        rateLimited: error instanceof SlackRateLimitError,
        error: error instanceof Error ? error.message : String(error),
        notAttempted: failed.length - 1,
        ...summary,
      });
      throw new SlackDeliveryError(
        `Slack did not accept ${failed.length} message(s): ${error instanceof Error ? error.message : String(error)}`,
        failed,
        { cause: error },
      );
    }
  }
  recordMetrics(deps.metrics, summary);
  deps.logger.info("Slack notifications done", { ...summary });
  return summary;
}
