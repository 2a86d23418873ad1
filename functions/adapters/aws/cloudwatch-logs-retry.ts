/**
 * Backoff with jitter for the CloudWatch Logs calls of a long read (hunt). The SDK's own retries are switched off
 * for these clients (maxAttempts 1) so that this is the only retry loop: its waits go through an injected
 * sleep (tests never wait), an interrupt cuts them short, and each retry is counted and can be shown.
 */

/** What the service answers when it is busy or a quota is reached for now; retrying later succeeds. */
const RETRYABLE_ERRORS = new Set([
  "ThrottlingException",
  "LimitExceededException",
  "ServiceUnavailableException",
  "TooManyRequestsException",
  "RequestTimeout",
  "TimeoutError",
  "InternalFailure",
]);
/** Network failures on the way to the service (connection reset, refused, timed out). */
const RETRYABLE_NETWORK_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN"]);

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface RetryEvent {
  operation: string;
  /** The error's name, e.g. ThrottlingException. */
  error: string;
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
}

export interface RetryPolicy {
  sleep: Sleep;
  /** In [0, 1): the jitter. */
  random: () => number;
  signal?: AbortSignal;
  /** Attempts in all, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  onRetry?: (event: RetryEvent) => void;
}

export const DEFAULT_RETRY = { maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 20_000 } as const;

/** The error has been retried `maxAttempts` times, or cannot be retried; `cause` is the service's error. */
export class LogsCallError extends Error {
  constructor(
    readonly operation: string,
    readonly code: string,
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    const detail = options.cause instanceof Error ? options.cause.message : String(options.cause);
    super(`${operation} failed after ${attempts} attempt(s): ${code}: ${detail}`, options);
    this.name = "LogsCallError";
  }
}

export function errorName(error: unknown): string {
  if (!(error instanceof Error)) return "Error";
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && RETRYABLE_NETWORK_CODES.has(code) ? code : error.name;
}

export function isRetryable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const name = errorName(error);
  if (RETRYABLE_ERRORS.has(name) || RETRYABLE_NETWORK_CODES.has(name)) return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status !== undefined && status >= 500;
}

/**
 * The delay before retry `attempt` (1-based): exponential, capped, with "equal jitter" (half fixed, half
 * random) so that clients throttled together do not retry together and no wait collapses to nothing.
 */
export function backoffDelay(
  attempt: number,
  policy: Pick<RetryPolicy, "random" | "baseDelayMs" | "maxDelayMs">,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + policy.random() * (ceiling / 2));
}

/**
 * Runs `call` until it succeeds, retrying retryable errors with backoff. An abort (the signal) is rethrown as
 * it is, at once, also from inside a wait; every other failure becomes a LogsCallError.
 */
export async function withBackoff<T>(
  operation: string,
  call: () => Promise<T>,
  policy: RetryPolicy,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (policy.signal?.aborted) throw error;
      if (!isRetryable(error) || attempt >= policy.maxAttempts) {
        throw new LogsCallError(operation, errorName(error), attempt, { cause: error });
      }
      const delayMs = backoffDelay(attempt, policy);
      policy.onRetry?.({ operation, error: errorName(error), attempt, delayMs });
      await policy.sleep(delayMs, policy.signal);
    }
  }
}
