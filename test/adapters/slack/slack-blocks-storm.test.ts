import { describe, expect, it } from "vitest";
import {
  stormDigestSlackMessage,
  stormNoticeSlackMessage,
} from "../../../functions/adapters/slack/slack-blocks-storm.ts";
import type { StormDigest } from "../../../functions/core/storm.ts";
import { allTexts, expectInert, expectWithinSlackLimits } from "../../helpers/slack-message-checks.ts";

const START = Date.parse("2026-11-20T10:00:00.000Z");
const END = START + 5 * 60_000;

function digestFor(cluster: string, logGroup?: string): StormDigest {
  return {
    cluster,
    window: { start: START, end: END },
    held: 30,
    heldBySeverity: { critical: 0, high: 10, medium: 20, low: 0, info: 0 },
    postedAlone: 2,
    byOutcome: { created: 30, denied: 0, forbidden: 0, failed: 0 },
    topActors: [{ name: "mallory", count: 30 }],
    topPods: [{ name: "shop/api-1", count: 30 }],
    complete: true,
    ...(logGroup ? { logGroup } : {}),
  };
}

describe("storm messages in an organization deployment (storms counted per cluster ARN)", () => {
  const arn = "arn:aws:eks:eu-west-1:444455556666:cluster/prod";

  it("names the cluster, its account and region, and sends the responder to that account's logs", () => {
    const message = stormDigestSlackMessage(digestFor(arn), 20, 5, { region: "us-east-1" });
    const text = allTexts(message).join("\n");
    expect(message.text).toContain("Storm digest for `prod` (account `444455556666`, `eu-west-1`)");
    // The link opens the member's region and the cluster's own log group, not the central stack's region.
    expect(text).toContain("https://eu-west-1.console.aws.amazon.com/cloudwatch/");
    expect(text).toContain("*2faws*2feks*2fprod*2fcluster");
    expect(text).toContain("with credentials for account 444455556666");
    expect(text).toContain(
      "```ephemeral-guard hunt --cluster prod --region eu-west-1 --start 2026-11-20T10:00:00.000Z --end 2026-11-20T10:05:00.000Z```",
    );
    expectWithinSlackLimits(message);
    expectInert(message);
  });

  it("shows the notice's cluster by name, account and region", () => {
    const message = stormNoticeSlackMessage({
      schemaVersion: 1,
      kind: "storm",
      cluster: arn,
      windowStart: new Date(START).toISOString(),
      windowEnd: new Date(END).toISOString(),
      budget: 20,
      windowMinutes: 5,
      count: 21,
    });
    expect(allTexts(message).join("\n")).toContain("`prod` (account `444455556666`, `eu-west-1`)");
  });

  it("a single-account storm keeps its name-only text and the function's region", () => {
    const message = stormDigestSlackMessage(digestFor("prod-eu"), 20, 5, { region: "us-east-1" });
    const text = allTexts(message).join("\n");
    expect(message.text).toContain("Storm digest for `prod-eu`:");
    expect(text).toContain("https://us-east-1.console.aws.amazon.com/cloudwatch/");
    expect(text).toContain("```ephemeral-guard hunt --cluster prod-eu --start");
    expect(text).not.toContain("--region");
  });

  it("a cluster text that only looks like an ARN is not taken apart into a command", () => {
    const forged = "arn:aws:eks:eu-west-1:444455556666:cluster/prod;rm -rf ~";
    const text = allTexts(stormDigestSlackMessage(digestFor(forged), 20, 5, { region: "us-east-1" })).join(
      "\n",
    );
    expect(text).toContain("is not an EKS name: no command to paste");
    expect(text).not.toContain("ephemeral-guard hunt");
  });
});
