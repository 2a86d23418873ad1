import { SNSClient } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createIdempotencyStore } from "../../../functions/adapters/aws/act-once.ts";
import type { PublishTarget } from "../../../functions/adapters/lambda/detect-environment.ts";
import { snsFindingSink, stormControl } from "../../../functions/adapters/lambda/finding-sinks.ts";
import { createObservability } from "../../../functions/adapters/lambda/observability.ts";
import type { Finding } from "../../../functions/core/finding.ts";
import { detectFile, onlyFinding } from "../../helpers/events.ts";
import { type DynamoPeer, idempotencyTable, startDynalite, stormTable } from "../../peers/dynalite.ts";
import { type SnsServer, startSnsServer } from "../../peers/sns-server.ts";

/** detect's deployed sink with storm control, over the SNS peer and dynalite. */

const TOPIC = "arn:aws:sns:us-east-1:123456789012:ephemeral-guard-test-alerts";
let sns: SnsServer;
let dynamo: DynamoPeer;
let client: SNSClient;
let tables = 0;
let target: Extract<PublishTarget, { mode: "sns" }>;

const base = onlyFinding(detectFile("host-path-mount"));
const findings = (count: number, from = 0): Finding[] =>
  Array.from({ length: count }, (_, index) => ({
    ...base,
    cluster: "prod-eu",
    auditID: `f-${from + index}`,
  }));

function sink() {
  const { logger, metrics } = createObservability("detect");
  metrics.setThrowOnEmptyMetrics(false);
  return snsFindingSink(
    client,
    TOPIC,
    createIdempotencyStore(dynamo.client, target.idempotency),
    () => 60_000,
    stormControl(dynamo.client, target, logger, metrics),
  );
}

const notices = () =>
  sns.published.filter((message) => message.messageAttributes.messageType?.value === "storm");
const findingMessages = () =>
  sns.published.filter((message) => message.messageAttributes.messageType?.value === "finding");

beforeAll(async () => {
  sns = await startSnsServer({ topics: [TOPIC] });
  dynamo = await startDynalite();
  client = new SNSClient({
    endpoint: sns.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "t", secretAccessKey: "t" },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  client.destroy();
  await sns.stop();
  await dynamo.stop();
});
beforeEach(async () => {
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  await sns.recover();
  sns.clear();
  tables++;
  await dynamo.createTable(idempotencyTable(`idempotency-${tables}`));
  await dynamo.createTable(stormTable(`storm-${tables}`));
  target = {
    mode: "sns",
    topicArn: TOPIC,
    idempotency: {
      tableName: `idempotency-${tables}`,
      expiresAfterSeconds: 3600,
      keyPrefix: "ephemeral-guard.detect",
    },
    storm: { tableName: `storm-${tables}`, budget: 20, windowMinutes: 60 },
  };
  return () => vi.restoreAllMocks();
});

describe("alert fatigue: one storm notice per window", () => {
  it("publishes one notice however many concurrent invocations go past the budget", async () => {
    await Promise.all(Array.from({ length: 4 }, (_, batch) => sink()(findings(7, batch * 7))));
    expect(findingMessages()).toHaveLength(28);
    expect(
      findingMessages().filter((message) => message.messageAttributes.storm?.value === "member"),
    ).toHaveLength(8);
    expect(notices()).toHaveLength(1);
    expect(notices()[0]?.messageAttributes).toEqual({
      messageType: { dataType: "String", value: "storm" },
      cluster: { dataType: "String", value: "prod-eu" },
    });
  });

  it("publishes members unmarked (they page) when their storm's notice cannot be published; the next batch publishes it", async () => {
    await sns.fail(
      { kind: "http", status: 400, code: "InvalidParameter" },
      Number.POSITIVE_INFINITY,
      "Publish",
    );
    const first = await sink()(findings(22));
    expect(first.published).toHaveLength(22);
    expect(notices()).toHaveLength(0);
    // No notice went out, so nothing is marked: every one of them passes the pager's filter.
    expect(findingMessages().some((message) => message.messageAttributes.storm !== undefined)).toBe(false);

    await sns.recover();
    await sink()(findings(5, 100));
    expect(notices()).toHaveLength(1);
    expect(
      findingMessages().filter((message) => message.messageAttributes.storm?.value === "member"),
    ).toHaveLength(5);
  });

  it("fails open when the storm table cannot be used: every finding is published unmarked (all page)", async () => {
    target = { ...target, storm: { tableName: "no-such-table", budget: 1, windowMinutes: 5 } };
    const result = await sink()(findings(5));
    expect(result.published).toHaveLength(5);
    expect(findingMessages().every((message) => message.messageAttributes.storm === undefined)).toBe(true);
    expect(notices()).toHaveLength(0);
  });
});
