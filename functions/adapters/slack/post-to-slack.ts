import {
  type FetchFunction,
  IncomingWebhook,
  IncomingWebhookHTTPError,
  type IncomingWebhookSendArguments,
} from "@slack/webhook";

/** Waits for a 429 before giving up and letting Lambda retry the whole event later. */
export const DEFAULT_MAX_RATE_LIMIT_WAITS = 3;
/** One request to Slack; webhooks answer in well under a second when healthy. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/** Left unused at the end of the invocation so that the failure can still be logged and reported. */
const RESERVE_MS = 1_000;
/** When a 429 has no usable Retry-After (Slack always sends one). */
const DEFAULT_RETRY_AFTER_SECONDS = 1;
/** Slack's answers when the webhook itself is gone or revoked: the URL may have been rotated. */
const WEBHOOK_GONE_STATUSES = new Set([403, 404, 410]);

export interface PostOptions {
  /** Time left in the invocation (Lambda context `getRemainingTimeInMillis`). */
  remainingTimeMs: () => number;
  maxRateLimitWaits?: number;
  requestTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface PostResult {
  /** How many 429s were waited out before Slack accepted the message. */
  rateLimitedWaits: number;
  waitedMs: number;
}

/** A failed post. Never carries the webhook URL (it is the credential); `status` is Slack's HTTP status. */
export class SlackPostError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    /** Slack's error code from the response body, e.g. `invalid_blocks`, `no_service`. */
    readonly slackError: string | undefined,
  ) {
    super(message);
    this.name = "SlackPostError";
  }

  /** The webhook was revoked, deleted or its channel archived: worth re-reading the URL before a retry. */
  get webhookGone(): boolean {
    return this.status !== undefined && WEBHOOK_GONE_STATUSES.has(this.status);
  }
}

export class SlackRateLimitError extends SlackPostError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    readonly waits: number,
  ) {
    super(message, 429, "rate_limited");
    this.name = "SlackRateLimitError";
  }
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Retry-After is seconds or an HTTP date. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number {
  if (header === null || header.trim() === "") return DEFAULT_RETRY_AFTER_SECONDS;
  const seconds = Number(header.trim());
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(header);
  if (!Number.isNaN(date)) return Math.max(0, Math.ceil((date - now) / 1000));
  return DEFAULT_RETRY_AFTER_SECONDS;
}

function slackErrorCode(body: unknown): string | undefined {
  if (typeof body !== "string") return undefined;
  const code = body.trim().slice(0, 100);
  return /^[a-z_]+$/.test(code) ? code : undefined;
}

function redact(text: string, url: URL): string {
  return text.split(url.href).join("<webhook URL>").split(url.pathname).join("<webhook path>");
}

/**
 * Posts one message with the official client. A 429 is waited out (Retry-After) at most `maxRateLimitWaits`
 * times and only while the wait plus a request still fit in the invocation; then SlackRateLimitError.
 * Any other failure throws SlackPostError at once: the caller fails the invocation and Lambda retries it.
 */
export async function postToSlack(
  url: URL,
  message: IncomingWebhookSendArguments,
  options: PostOptions,
): Promise<PostResult> {
  const maxWaits = options.maxRateLimitWaits ?? DEFAULT_MAX_RATE_LIMIT_WAITS;
  const requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const sleep = options.sleep ?? realSleep;
  // The client does not expose response headers on errors; this wrapper keeps Retry-After for us.
  let lastRetryAfter: string | null = null;
  const fetchKeepingRetryAfter: FetchFunction = async (input, init) => {
    const response = await fetch(input, init);
    lastRetryAfter = response.headers.get("retry-after");
    return response;
  };
  let waits = 0;
  let waitedMs = 0;
  for (;;) {
    const timeout = Math.max(1, Math.min(requestTimeoutMs, options.remainingTimeMs() - RESERVE_MS));
    const webhook = new IncomingWebhook(url.href, { fetch: fetchKeepingRetryAfter, timeout });
    try {
      await webhook.send(message);
      return { rateLimitedWaits: waits, waitedMs };
    } catch (error) {
      if (!(error instanceof IncomingWebhookHTTPError)) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new SlackPostError(`request to Slack failed: ${redact(reason, url)}`, undefined, undefined);
      }
      const code = slackErrorCode(error.body);
      if (error.statusCode !== 429) {
        throw new SlackPostError(
          `Slack answered ${error.statusCode}${code ? ` ${code}` : ""}`,
          error.statusCode,
          code,
        );
      }
      const seconds = retryAfterSeconds(lastRetryAfter);
      const waitMs = seconds * 1000;
      const fits = waitMs + requestTimeoutMs + RESERVE_MS <= options.remainingTimeMs();
      if (waits >= maxWaits || !fits) {
        throw new SlackRateLimitError(
          `Slack rate limited the webhook (Retry-After ${seconds}s) after ${waits} wait(s); ` +
            (fits
              ? "giving up after the maximum number of waits"
              : "not enough invocation time left to wait"),
          seconds,
          waits,
        );
      }
      waits++;
      waitedMs += waitMs;
      await sleep(waitMs);
    }
  }
}
