import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  postToSlack,
  retryAfterSeconds,
  SlackPostError,
  SlackRateLimitError,
} from "../../../functions/adapters/slack/post-to-slack.ts";
import {
  OK,
  rateLimited,
  type SlackWebhookServer,
  serverError,
  startSlackWebhookServer,
  WEBHOOK_PATH,
} from "../../peers/slack-webhook-server.ts";

let slack: SlackWebhookServer;
let url: URL;
beforeAll(async () => {
  slack = await startSlackWebhookServer();
  url = new URL(slack.url);
});
afterAll(async () => {
  await slack.stop();
});
beforeEach(() => {
  slack.requests.length = 0;
});

const message = { text: "hello" };
const plenty = () => 30_000;

/** Records the waits instead of sleeping, for the cases that only check how long it would wait. */
function recordingSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

describe("postToSlack", () => {
  it("delivers once with the official client's JSON body", async () => {
    const result = await postToSlack(url, message, { remainingTimeMs: plenty });
    expect(result.rateLimitedWaits).toBe(0);
    expect(slack.requests).toHaveLength(1);
    expect(slack.requests[0]).toMatchObject({ method: "POST", path: WEBHOOK_PATH, json: { text: "hello" } });
    expect(slack.requests[0]?.headers["content-type"]).toBe("application/json");
  });

  it("waits out a 429 for Retry-After, then delivers exactly once", async () => {
    slack.script(rateLimited(1), OK);
    const { waits, sleep } = recordingSleep();
    const result = await postToSlack(url, message, { remainingTimeMs: plenty, sleep });
    expect(result).toEqual({ rateLimitedWaits: 1, waitedMs: 1000 });
    expect(waits).toEqual([1000]);
    expect(slack.requests.map((request) => request.answer.status)).toEqual([429, 200]);
  });

  it("gives up after the maximum number of waits", async () => {
    slack.script(rateLimited(2), rateLimited(2), rateLimited(2));
    const { waits, sleep } = recordingSleep();
    const error = await postToSlack(url, message, {
      remainingTimeMs: plenty,
      maxRateLimitWaits: 2,
      sleep,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SlackRateLimitError);
    expect(error).toMatchObject({ status: 429, retryAfterSeconds: 2, waits: 2 });
    expect(waits).toEqual([2000, 2000]);
    expect(slack.requests).toHaveLength(3);
  });

  it("does not wait when Retry-After does not fit in the invocation's remaining time", async () => {
    slack.script(rateLimited(60));
    const { waits, sleep } = recordingSleep();
    const error = await postToSlack(url, message, { remainingTimeMs: () => 20_000, sleep }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(SlackRateLimitError);
    expect((error as Error).message).toMatch(/not enough invocation time/);
    expect(waits).toEqual([]);
    expect(slack.requests).toHaveLength(1);
  });

  it("fails at once on a 500, without retrying itself", async () => {
    slack.script(serverError);
    const error = await postToSlack(url, message, { remainingTimeMs: plenty }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(SlackPostError);
    expect(error).toMatchObject({ status: 500, slackError: "internal_error", webhookGone: false });
    expect(slack.requests).toHaveLength(1);
  });

  it("marks a revoked webhook as gone, so the URL is read again", async () => {
    slack.script({ status: 404, body: "no_service" });
    const error = await postToSlack(url, message, { remainingTimeMs: plenty }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toMatchObject({ status: 404, slackError: "no_service", webhookGone: true });
  });

  it("reports connection failures without the webhook path", async () => {
    const closed = await startSlackWebhookServer();
    await closed.stop();
    const error = await postToSlack(new URL(closed.url), message, { remainingTimeMs: plenty }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(SlackPostError);
    expect((error as Error).message).toMatch(/request to Slack failed/);
    expect((error as Error).message).not.toContain(WEBHOOK_PATH);
  });
});

describe("retryAfterSeconds", () => {
  it("reads seconds and HTTP dates, defaulting to one second", () => {
    expect(retryAfterSeconds("30")).toBe(30);
    expect(retryAfterSeconds(null)).toBe(1);
    expect(retryAfterSeconds("soon")).toBe(1);
    const now = Date.parse("2026-11-20T10:00:00Z");
    expect(retryAfterSeconds("Fri, 20 Nov 2026 10:00:05 GMT", now)).toBe(5);
  });
});
