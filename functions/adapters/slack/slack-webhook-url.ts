import { SecretsProvider } from "@aws-lambda-powertools/parameters/secrets";
import { SSMProvider } from "@aws-lambda-powertools/parameters/ssm";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SSMClient } from "@aws-sdk/client-ssm";
import type { WebhookUrlLocation } from "../lambda/notify-slack-environment.ts";

/**
 * Which webhook URLs are accepted. Production accepts only https. Tests need http to a server on loopback;
 * that policy is a separate exported constant that no environment variable can select, and it still refuses
 * any host other than loopback, so it cannot send an alert anywhere real in clear text.
 */
export interface WebhookUrlPolicy {
  readonly allowHttpToLoopback: boolean;
}
export const HTTPS_ONLY: WebhookUrlPolicy = Object.freeze({ allowHttpToLoopback: false });
export const LOOPBACK_HTTP_FOR_TESTS_ONLY: WebhookUrlPolicy = Object.freeze({ allowHttpToLoopback: true });

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

/** Never carries the URL itself: the URL is the credential. */
export class WebhookUrlError extends Error {
  constructor(
    message: string,
    readonly location: string,
    options?: { cause?: unknown },
  ) {
    super(`${message} (${location})`, options);
    this.name = "WebhookUrlError";
  }
}

export function describeLocation(location: WebhookUrlLocation): string {
  return location.store === "ssm"
    ? `SSM parameter ${location.name}`
    : `Secrets Manager secret ${location.secretId}`;
}

/**
 * A secret may hold the URL itself or a JSON object with `url` or `webhookUrl`, which is how Secrets Manager
 * key/value secrets created in the console look.
 */
function urlText(raw: string): string | undefined {
  const text = raw.trim();
  if (!text.startsWith("{")) return text;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null) return undefined;
    const record = value as Record<string, unknown>;
    const url = record.webhookUrl ?? record.url;
    return typeof url === "string" ? url.trim() : undefined;
  } catch {
    return undefined;
  }
}

export function validateWebhookUrl(raw: unknown, location: string, policy: WebhookUrlPolicy): URL {
  const text = typeof raw === "string" ? urlText(raw) : undefined;
  if (!text) throw new WebhookUrlError("webhook URL is empty or not a string", location);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookUrlError("webhook URL is not a valid URL", location);
  }
  if (url.username || url.password)
    throw new WebhookUrlError("webhook URL must not carry credentials", location);
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && policy.allowHttpToLoopback && LOOPBACK_HOSTS.has(url.hostname)) return url;
  throw new WebhookUrlError("webhook URL must use https", location);
}

/** Powertools wraps the SDK's error; the inner name (AccessDeniedException, ParameterNotFound…) is the useful part. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const inner = error.cause instanceof Error ? ` (${error.cause.name})` : "";
  return `${error.name}: ${error.message}${inner}`;
}

export interface WebhookUrlSourceOptions {
  location: WebhookUrlLocation;
  cacheSeconds: number;
  policy?: WebhookUrlPolicy;
  /** Clients to use instead of the providers' defaults (tests point them at a local peer). */
  ssmClient?: SSMClient;
  secretsClient?: SecretsManagerClient;
}

/**
 * The Slack webhook URL, read through Powertools Parameters (decrypted, cached for `cacheSeconds`). After
 * Slack says the webhook is gone (`invalidate`), the next read bypasses the cache to pick up a rotated URL.
 */
export class WebhookUrlSource {
  private readonly location: WebhookUrlLocation;
  private readonly cacheSeconds: number;
  private readonly policy: WebhookUrlPolicy;
  private readonly ssm: SSMProvider | undefined;
  private readonly secrets: SecretsProvider | undefined;
  private forceFetch = false;

  constructor(options: WebhookUrlSourceOptions) {
    this.location = options.location;
    this.cacheSeconds = options.cacheSeconds;
    this.policy = options.policy ?? HTTPS_ONLY;
    if (options.location.store === "ssm") {
      this.ssm = options.ssmClient
        ? new SSMProvider({ awsSdkV3Client: options.ssmClient })
        : new SSMProvider();
    } else {
      this.secrets = options.secretsClient
        ? new SecretsProvider({ awsSdkV3Client: options.secretsClient })
        : new SecretsProvider();
    }
  }

  get description(): string {
    return describeLocation(this.location);
  }

  invalidate(): void {
    this.forceFetch = true;
  }

  async get(): Promise<URL> {
    const options = { maxAge: this.cacheSeconds, forceFetch: this.forceFetch };
    let raw: unknown;
    try {
      raw =
        this.location.store === "ssm"
          ? await this.ssm?.get(this.location.name, { ...options, decrypt: true })
          : await this.secrets?.get(this.location.secretId, options);
    } catch (error) {
      throw new WebhookUrlError(`could not read the webhook URL: ${describeError(error)}`, this.description, {
        cause: error,
      });
    }
    this.forceFetch = false;
    return validateWebhookUrl(raw, this.description, this.policy);
  }
}

/**
 * The URL given in SLACK_WEBHOOK_URL, for `serverless invoke local -f notify-slack` only (the environment
 * parser refuses it inside Lambda): checked like one read from SSM, and never printed.
 */
export class LocalWebhookUrl {
  readonly description = "SLACK_WEBHOOK_URL (local run)";

  constructor(
    private readonly raw: string,
    private readonly policy: WebhookUrlPolicy = HTTPS_ONLY,
  ) {}

  async get(): Promise<URL> {
    return validateWebhookUrl(this.raw, this.description, this.policy);
  }

  /** Nothing to read again: the URL is the one given. */
  invalidate(): void {}
}
