import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { z } from "zod";
import { clusterKeyOf } from "../../core/aws-origin.ts";
import { CoverageAlertSchema } from "../../core/cluster-coverage/coverage-alert.ts";
import { type Finding, FindingSchema, findingKey } from "../../core/finding.ts";
import { RemediationOutcomeSchema } from "../../core/remediation-outcome.ts";
import { postsAloneInStorm, StormNoticeSchema } from "../../core/storm.ts";
import { actOnce, type IdempotencyStore, type OnceResult } from "../aws/act-once.ts";
import { type SnsDeliveryRecord, SnsDeliverySchema } from "../aws/sns-delivery.ts";
import type { StormDigestStore } from "../aws/storm-digest-store.ts";
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
import { stormNoticeSlackMessage, stormNoticeText } from "./slack-blocks-storm.ts";
import { mrkdwnCode } from "./slack-escape.ts";
import { WebhookUrlError } from "./slack-webhook-url.ts";

export interface RenderOptions {
  region: string | undefined;
}

type RenderResult =
  | {
      ok: true;
      message: SlackMessage;
      auditID: string;
      /** What its exactly-once record is keyed on (with the cluster and the message kind). */
      key: string;
      cluster: string;
      /** The finding itself, for messages that are findings (storm members are routed by it). */
      finding?: Finding;
      renderError?: string;
    }
  | { ok: false; problem: string };

export interface MessageKind<T> {
  schema: z.ZodType<T>;
  /** What the message is about for people: the audit ID (a storm notice: its window start). */
  auditID: (value: T) => string;
  /**
   * What tells this message from another of its kind, when the audit ID does not: a finding's
   * `<auditID>@<occurrence>` (a client can choose the auditID, core/event-key.ts). The audit ID when absent.
   */
  key?: (value: T) => string;
  /** The cluster it concerns; "unknown" when the message does not say. */
  cluster?: (value: T) => string | undefined;
  finding?: (value: T) => Finding;
  render: (value: T, options: RenderOptions) => SlackMessage;
  /** One line that cannot fail: sent as plain text if `render` throws, so a rendering bug never eats an alert. */
  line: (value: T) => string;
}

export function messageKind<T>(kind: MessageKind<T>) {
  return (value: unknown, options: RenderOptions): RenderResult => {
    const parsed = kind.schema.safeParse(value);
    if (!parsed.success) return { ok: false, problem: z.prettifyError(parsed.error) };
    const auditID = kind.auditID(parsed.data);
    const subject = {
      auditID,
      key: kind.key?.(parsed.data) ?? auditID,
      cluster: kind.cluster?.(parsed.data) ?? "unknown",
      ...(kind.finding ? { finding: kind.finding(parsed.data) } : {}),
    };
    try {
      return { ok: true, ...subject, message: kind.render(parsed.data, options) };
    } catch (error) {
      const renderError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      return {
        ok: true,
        ...subject,
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
    key: findingKey,
    // As detect's storm budget counts it (storm-budget.ts), so that digests gather the right members.
    cluster: clusterKeyOf,
    finding: (finding) => finding,
    render: findingSlackMessage,
    line: findingNotificationText,
  }),
  remediation: messageKind({
    schema: RemediationOutcomeSchema,
    auditID: (outcome) => outcome.auditID,
    key: findingKey,
    cluster: (outcome) => outcome.cluster,
    render: (outcome) => remediationSlackMessage(outcome),
    line: remediationNotificationText,
  }),
  storm: messageKind({
    schema: StormNoticeSchema,
    auditID: (notice) => notice.windowStart,
    cluster: (notice) => notice.cluster,
    render: (notice) => stormNoticeSlackMessage(notice),
    line: stormNoticeText,
  }),
  coverage: messageKind({
    schema: CoverageAlertSchema,
    auditID: (alert) => alert.id,
    cluster: (alert) => alert.cluster,
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

/** The part of the storm state the notifier uses (StormDigestStore). */
export type StormHolder = Pick<StormDigestStore, "hold">;

export interface NotifierDeps {
  logger: Logger;
  /** CloudWatch EMF metrics (SlackPosted, SlackInvalid, SlackPlainFallbacks, …); absent in some tests. */
  metrics?: Metrics;
  webhookUrl: WebhookUrlProvider;
  region: string | undefined;
  post?: Omit<PostOptions, "remainingTimeMs">;
  /** notify-slack's idempotency records: one post per (cluster, auditID, message kind). */
  idempotency: IdempotencyStore;
  /** Storm control; without it storm members are posted like any finding. */
  storm?: StormHolder;
  /** How long to wait for another invocation that is posting the same message (a duplicate delivery). */
  inProgress?: { waits: number; waitMs: number; sleep?: (ms: number) => Promise<void> };
}

export interface NotifySummary {
  records: number;
  posted: Record<MessageType, number>;
  /** Storm members held for their window's digest instead of posted. */
  held: number;
  /** Deliveries of messages already posted (or held): SNS duplicates, retries. Not posted again. */
  duplicates: number;
  /** Records that were not a valid finding, remediation outcome or storm notice: logged, not retried. */
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
function fallbackMessage(item: Postable, slackError: string | undefined): SlackMessage {
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

/** What can be posted: a rendered record, or a digest. */
export interface Postable {
  auditID: string;
  message: SlackMessage;
  /** Already the plain-text fallback (the detailed message could not be built). */
  plain: boolean;
}

interface Rendered extends Postable {
  position: string;
  messageType: MessageType;
  /** What its exactly-once record is keyed on, with the cluster and the message type. */
  key: string;
  cluster: string;
  finding?: Finding;
  /** `storm = member`: past its cluster's budget (storm-budget.ts). */
  stormMember: boolean;
}

/** notify-slack's metric names; alarms select on them. */
export const NOTIFY_METRIC = {
  posted: "SlackPosted",
  invalid: "SlackInvalid",
  plainFallbacks: "SlackPlainFallbacks",
  duplicates: "SlackDuplicatesSuppressed",
  idempotencyFailures: "SlackIdempotencyFailures",
  held: "StormHeld",
  holdFailures: "StormHoldFailures",
} as const;

function recordMetrics(metrics: Metrics | undefined, summary: NotifySummary): void {
  if (!metrics) return;
  const posted = Object.values(summary.posted).reduce((total, count) => total + count, 0);
  metrics.addMetric(NOTIFY_METRIC.posted, MetricUnit.Count, posted);
  metrics.addMetric(NOTIFY_METRIC.invalid, MetricUnit.Count, summary.invalid);
  metrics.addMetric(NOTIFY_METRIC.plainFallbacks, MetricUnit.Count, summary.plainFallbacks);
  metrics.addMetric(NOTIFY_METRIC.duplicates, MetricUnit.Count, summary.duplicates);
  metrics.addMetric(NOTIFY_METRIC.held, MetricUnit.Count, summary.held);
}

function countMetric(metrics: Metrics | undefined, name: string): void {
  metrics?.addMetric(name, MetricUnit.Count, 1);
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
      deps.logger.error("SNS record is not a message notify-slack knows; skipped, not retried", {
        position,
        messageId: record.Sns.MessageId,
        messageType,
        problem: problem.slice(0, MAX_PROBLEM_CHARS),
      });
    };
    if (!isMessageType(messageType)) {
      reject(
        `messageType attribute is ${messageType === undefined ? "missing" : "not finding, remediation or storm"}`,
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
      key: result.key,
      cluster: result.cluster,
      ...(result.finding ? { finding: result.finding } : {}),
      message: result.message,
      plain: result.renderError !== undefined,
      stormMember: record.Sns.MessageAttributes?.storm?.Value === "member",
    });
  });
  return { rendered, invalid };
}

/** Posts one message; when Slack refuses its content, posts the plain one-line version instead. */
export async function deliver(
  url: URL,
  item: Postable,
  remainingTimeMs: () => number,
  deps: Pick<NotifierDeps, "logger" | "post">,
): Promise<PostResult & { plain: boolean }> {
  const post = (message: SlackMessage) => postToSlack(url, message, { ...deps.post, remainingTimeMs });
  try {
    return { ...(await post(item.message)), plain: item.plain };
  } catch (error) {
    if (!isContentRejection(error)) throw error;
    deps.logger.error("Slack refused the detailed message; sending it as plain text", {
      auditID: item.auditID,
      slackError: error.slackError,
      message: JSON.stringify(item.message).slice(0, MAX_PROBLEM_CHARS),
    });
    return { ...(await post(fallbackMessage(item, error.slackError))), plain: true };
  }
}

/** The webhook URL, read only when something is to be posted, and at most once per invocation. */
export function lazyWebhookUrl(deps: Pick<NotifierDeps, "logger" | "webhookUrl">): () => Promise<URL> {
  let url: Promise<URL> | undefined;
  return () => {
    url ??= deps.webhookUrl.get().catch((error: unknown) => {
      deps.logger.error("could not get the Slack webhook URL; failing the invocation so it is retried", {
        webhook: deps.webhookUrl.description,
        error: error instanceof Error ? error.message : String(error),
      });
      throw error;
    });
    return url;
  };
}

/** Key of what people were told: a duplicate SNS delivery of the same message has the same key. */
export function notifyKey(cluster: string, id: string, kind: string): string {
  return `${cluster}:${id}:${kind}`;
}

const DEFAULT_IN_PROGRESS = { waits: 3, waitMs: 1_000 };
const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * actOnce, waiting a little when another invocation holds the claim: a duplicate SNS delivery usually arrives
 * while the first copy is being posted, and is a duplicate a second later. If that invocation died holding
 * the claim, this one fails and Lambda retries it after the claim expired, so nothing is lost.
 */
export async function actOncePatiently<T>(
  deps: Pick<NotifierDeps, "idempotency" | "inProgress">,
  key: string,
  remainingTimeMs: () => number,
  act: () => Promise<T>,
): Promise<OnceResult<T>> {
  const { waits, waitMs, sleep = realSleep } = { ...DEFAULT_IN_PROGRESS, ...deps.inProgress };
  for (let attempt = 0; ; attempt++) {
    const result = await actOnce(deps.idempotency, key, remainingTimeMs(), act);
    if (result.kind !== "in-progress" || attempt >= waits || remainingTimeMs() < waitMs * 2) return result;
    await sleep(waitMs);
  }
}

/** What happened to one record. */
type Handled = { kind: "posted"; result: PostResult & { plain: boolean } } | { kind: "held" };

/**
 * How a record reaches people: posted; held for its window's digest (a non-critical storm member); or posted
 * and also counted in the digest (a critical storm member).
 */
type Route = "post" | "hold" | "post-and-count";

function routeOf(item: Rendered, deps: NotifierDeps): Route {
  if (!item.stormMember || !item.finding || !deps.storm) return "post";
  return postsAloneInStorm(item.finding.severity) ? "post-and-count" : "hold";
}

/** Posts or holds one record (the act claimed once for its key). */
async function handle(
  item: Rendered,
  route: Route,
  url: () => Promise<URL>,
  remainingTimeMs: () => number,
  deps: NotifierDeps,
): Promise<Handled> {
  const post = async (): Promise<Handled> => ({
    kind: "posted",
    result: await deliver(await url(), item, remainingTimeMs, deps),
  });
  if (route === "post" || !item.finding || !deps.storm) return post();
  if (route === "post-and-count") {
    const posted = await post();
    await deps.storm.hold(item.cluster, item.finding, true).catch((error: unknown) => {
      // The alert went out; only the digest's count of critical findings misses it.
      countMetric(deps.metrics, NOTIFY_METRIC.holdFailures);
      deps.logger.error("posted a critical storm member but could not count it for the digest", {
        position: item.position,
        auditID: item.auditID,
        error: error instanceof Error ? error.message : String(error),
      });
    });
    return posted;
  }
  try {
    await deps.storm.hold(item.cluster, item.finding, false);
    return { kind: "held" };
  } catch (error) {
    // Fail open: a member that cannot be held for the digest is posted on its own, never dropped.
    countMetric(deps.metrics, NOTIFY_METRIC.holdFailures);
    deps.logger.error("could not hold a storm member for the digest; posting it on its own", {
      position: item.position,
      auditID: item.auditID,
      error: error instanceof Error ? error.message : String(error),
    });
    return post();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Posts one Slack message per valid record, in order, each once per (cluster, auditID, message kind) however
 * often SNS delivers it; storm members are held for their window's digest unless critical. Invalid records
 * are logged and counted. The first delivery failure stops the rest (Slack is down or rate limiting) and fails
 * the invocation; SNS delivers one record per invocation, so a retry does not repost others.
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
    posted: { finding: 0, remediation: 0, storm: 0, coverage: 0 },
    held: 0,
    duplicates: 0,
    invalid,
    rateLimitedWaits: 0,
    plainFallbacks: 0,
  };
  const url = lazyWebhookUrl(deps);
  const fail = (item: Rendered, index: number, error: unknown, what: string): never => {
    if (error instanceof SlackPostError && error.webhookGone) deps.webhookUrl.invalidate();
    recordMetrics(deps.metrics, summary);
    // Already logged by lazyWebhookUrl, naming the parameter or secret.
    if (error instanceof WebhookUrlError) throw error;
    const failed = rendered.slice(index).map((rest) => rest.position);
    deps.logger.error(`${what}; failing the invocation so it is retried`, {
      position: item.position,
      auditID: item.auditID,
      webhook: deps.webhookUrl.description,
      status: error instanceof SlackPostError ? error.status : undefined,
      slackError: error instanceof SlackPostError ? error.slackError : undefined,
      rateLimited: error instanceof SlackRateLimitError,
      error: describe(error),
      notAttempted: failed.length - 1,
      ...summary,
    });
    throw new SlackDeliveryError(
      `Slack did not accept ${failed.length} message(s): ${describe(error)}`,
      failed,
      {
        cause: error,
      },
    );
  };

  for (const [index, item] of rendered.entries()) {
    const route = routeOf(item, deps);
    const act = () => handle(item, route, url, remainingTimeMs, deps);
    const key = notifyKey(item.cluster, item.key, item.messageType);
    let once = await actOncePatiently(deps, key, remainingTimeMs, act);
    if (once.kind === "claim-failed") {
      // Fail open: a possible second post beats a lost alert when the records cannot be read.
      countMetric(deps.metrics, NOTIFY_METRIC.idempotencyFailures);
      deps.logger.error("could not check whether this was already posted; posting anyway", {
        position: item.position,
        auditID: item.auditID,
        reason: once.reason,
      });
      try {
        once = { kind: "acted", value: await act(), recorded: false };
      } catch (error) {
        once = { kind: "act-failed", error };
      }
    }
    if (once.kind === "in-progress") {
      fail(
        item,
        index,
        new Error("another invocation is posting it right now"),
        "still being posted elsewhere",
      );
    } else if (once.kind === "act-failed") {
      fail(item, index, once.error, "Slack did not accept the message");
    } else if (once.kind === "duplicate") {
      summary.duplicates++;
      deps.logger.info("already posted: duplicate delivery not posted again", {
        position: item.position,
        messageType: item.messageType,
        auditID: item.auditID,
      });
    } else if (once.kind === "acted") {
      if (!once.recorded) {
        countMetric(deps.metrics, NOTIFY_METRIC.idempotencyFailures);
        deps.logger.error("posted but not recorded: a duplicate delivery may post it again", {
          position: item.position,
          auditID: item.auditID,
        });
      }
      const handled = once.value;
      if (handled.kind === "held") {
        summary.held++;
        deps.logger.info("storm member held for the digest", {
          position: item.position,
          auditID: item.auditID,
          cluster: item.cluster,
        });
      } else {
        summary.posted[item.messageType]++;
        summary.rateLimitedWaits += handled.result.rateLimitedWaits;
        if (handled.result.plain) summary.plainFallbacks++;
        deps.logger.info("posted to Slack", {
          position: item.position,
          messageType: item.messageType,
          auditID: item.auditID,
          route,
          rateLimitedWaits: handled.result.rateLimitedWaits,
          plain: handled.result.plain,
        });
      }
    }
  }
  recordMetrics(deps.metrics, summary);
  deps.logger.info(rendered.length === 0 ? "nothing to post to Slack" : "Slack notifications done", {
    ...summary,
  });
  return summary;
}
