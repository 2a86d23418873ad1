import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { listenOnLoopback } from "./listen-on-loopback.ts";
import { readRequestBody } from "./read-request-body.ts";

/**
 * A Slack incoming-webhook peer for tests, on 127.0.0.1 (HTTP, or HTTPS with a test CA's certificate): accepts POST /services/T…/B…/secret, records
 * every request (headers, raw and parsed body), and answers from a script: Slack's real answers are `ok`
 * (200), `rate_limited` (429 with Retry-After), `invalid_blocks` (400), `no_service` (404), and 5xx.
 * Requests beyond the script get 200 `ok`.
 */

export interface WebhookAnswer {
  status: number;
  body?: string;
  /** Retry-After header, in seconds (or an HTTP date), sent as given. */
  retryAfter?: string;
}

export interface WebhookRequest {
  path: string;
  method: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The JSON body, or undefined when it was not JSON. */
  json: unknown;
  /** What the peer answered. */
  answer: WebhookAnswer;
}

export interface SlackWebhookServer {
  /** The full webhook URL (http://127.0.0.1:PORT/services/…). */
  readonly url: string;
  readonly requests: WebhookRequest[];
  /** Answers for the next requests, in order. */
  script(...answers: WebhookAnswer[]): void;
  stop(): Promise<void>;
}

export const OK: WebhookAnswer = { status: 200, body: "ok" };
export const rateLimited = (retryAfterSeconds: number): WebhookAnswer => ({
  status: 429,
  body: "rate_limited",
  retryAfter: String(retryAfterSeconds),
});
export const serverError: WebhookAnswer = { status: 500, body: "internal_error" };

/** Slack refuses bodies this large anyway; a bound keeps a runaway test from eating memory. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export const WEBHOOK_PATH = "/services/T0TEST0000/B0TEST0000/Xq7testsecretvalue0000000";

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export interface SlackWebhookServerOptions {
  /** Serve HTTPS with this certificate (for a process that trusts its CA through NODE_EXTRA_CA_CERTS). */
  tls?: { cert: string; key: string };
}

export async function startSlackWebhookServer(
  options: SlackWebhookServerOptions = {},
): Promise<SlackWebhookServer> {
  const requests: WebhookRequest[] = [];
  const queue: WebhookAnswer[] = [];

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    readRequestBody(request, MAX_BODY_BYTES).then(
      (body) => {
        const answer: WebhookAnswer =
          request.method !== "POST" || request.url !== WEBHOOK_PATH
            ? { status: 404, body: "no_service" }
            : (queue.shift() ?? OK);
        requests.push({
          path: request.url ?? "",
          method: request.method ?? "",
          headers: { ...request.headers },
          body,
          json: parseJson(body),
          answer,
        });
        const headers: Record<string, string> = { "content-type": "text/html" };
        if (answer.retryAfter !== undefined) headers["retry-after"] = answer.retryAfter;
        response.writeHead(answer.status, headers);
        response.end(answer.body ?? "");
      },
      () => {
        response.writeHead(413);
        response.end("request_too_large");
      },
    );
  };
  const server = options.tls ? createHttpsServer(options.tls, handle) : createServer(handle);
  const listener = await listenOnLoopback(server);
  const { port } = listener;

  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}${WEBHOOK_PATH}`,
    requests,
    script(...answers) {
      queue.push(...answers);
    },
    stop() {
      return listener.close();
    },
  };
}
