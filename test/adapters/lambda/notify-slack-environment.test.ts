import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../../../functions/adapters/lambda/configuration.ts";
import { parseSlackEnvironment } from "../../../functions/adapters/lambda/notify-slack-environment.ts";

const DEPLOYED = {
  SLACK_WEBHOOK_PARAMETER: "/ephemeral-guard/slack-webhook",
  IDEMPOTENCY_TABLE: "ephemeral-guard-prod-IdempotencyTable-ABC",
};

describe("notify-slack environment", () => {
  it("refuses to start without its idempotency table: every post is checked for duplicates", () => {
    expect(() => parseSlackEnvironment({ SLACK_WEBHOOK_PARAMETER: "/eg/slack" })).toThrow(ConfigurationError);
    expect(() => parseSlackEnvironment({ SLACK_WEBHOOK_PARAMETER: "/eg/slack" })).toThrow(
      /IDEMPOTENCY_TABLE/,
    );
  });

  it("keeps its records apart from detect's: same table, its own key prefix", () => {
    expect(parseSlackEnvironment(DEPLOYED).idempotency).toEqual({
      tableName: DEPLOYED.IDEMPOTENCY_TABLE,
      expiresAfterSeconds: 14 * 24 * 3600,
      keyPrefix: "ephemeral-guard.notify-slack",
    });
  });

  it("turns storm digests on with the storm table, with serverless.yml's budget and window", () => {
    expect(parseSlackEnvironment(DEPLOYED)).not.toHaveProperty("storm");
    expect(
      parseSlackEnvironment({
        ...DEPLOYED,
        STORM_TABLE: "storm",
        STORM_BUDGET: "20",
        STORM_WINDOW_MINUTES: "5",
      }).storm,
    ).toEqual({
      tableName: "storm",
      budget: 20,
      windowMinutes: 5,
      delaySeconds: 90,
      expiresAfterSeconds: 14 * 24 * 3600,
    });
  });

  it("refuses a digest delay shorter than an invocation, which could read a window before its last member", () => {
    expect(() =>
      parseSlackEnvironment({ ...DEPLOYED, STORM_TABLE: "storm", STORM_DIGEST_DELAY_SECONDS: "30" }),
    ).toThrow(/STORM_DIGEST_DELAY_SECONDS/);
  });
});
