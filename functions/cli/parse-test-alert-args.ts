import { z } from "zod";
import { LevelOption, type OptionsConfig, parseCommandLine, TextOption } from "./command-options.ts";
import { EXIT_STATUS_HELP } from "./exit-codes.ts";

export const TEST_ALERT_USAGE = `usage: ephemeral-guard test-alert [--webhook-url URL | --topic-arn ARN] [--severity LEVEL] [--cluster NAME]
                                 [--region R]

Sends a test alert, marked as a test in every line of it (the finding carries "test": true), through the real
path, so that you see an alert before the first incident does:

  --webhook-url URL  straight to a Slack incoming webhook (https), rendered exactly as notify-slack renders a
                     finding; no AWS account needed. Default: SLACK_WEBHOOK_URL from the environment, which keeps
                     the URL (a credential) out of your shell history and the process list.
  --topic-arn ARN    published to the stack's alerts topic (stack output AlertsTopicArn) with the message
                     attributes detect sets, so notify-slack posts it, the pager's filter sees it (it pages when
                     LEVEL is at or above pagingMinSeverity) and remediation receives it and ignores it. The
                     topic's policy lets only the stack's roles and the roles in its alertPublishers parameter
                     publish: run this as one of those (docs/deploy.md). AWS credentials and endpoint come from
                     the SDK's standard chain; the region from the ARN unless --region says otherwise.
  --severity LEVEL   info|low|medium|high|critical, any case (default high)
  --cluster NAME     the cluster the test alert names (default: test)
  --region R         the topic's region, when it is not the ARN's (an endpoint override, a partition's alias)

Examples:
  SLACK_WEBHOOK_URL="$(cat webhook-url.txt)" ephemeral-guard test-alert
  ephemeral-guard test-alert --webhook-url https://hooks.slack.com/services/T000/B000/XXXX --severity critical
  ephemeral-guard test-alert --topic-arn arn:aws:sns:eu-west-1:111122223333:ephemeral-guard-prod-alerts --severity medium

When Slack or SNS does not take the alert, the exit status is 2 and the reason is printed.

${EXIT_STATUS_HELP}`;

const OPTIONS: OptionsConfig = {
  "webhook-url": { type: "string" },
  "topic-arn": { type: "string" },
  severity: { type: "string" },
  cluster: { type: "string" },
  region: { type: "string" },
  help: { type: "boolean", short: "h" },
};

/** An SNS topic ARN in any partition; the region is taken from it. */
const TOPIC_ARN = /^arn:(aws[a-z-]*):sns:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):([A-Za-z0-9_-]{1,256})$/;

const TestAlertOptionsSchema = z
  .object({
    // Never quoted back in a message: the URL is the credential.
    "webhook-url": z.string().trim().min(1, "must not be empty").optional(),
    "topic-arn": TextOption.regex(
      TOPIC_ARN,
      "not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC)",
    ).optional(),
    severity: LevelOption.default("high"),
    cluster: TextOption.max(100, "at most 100 characters").optional(),
    region: TextOption.optional(),
    help: z.boolean().default(false),
  })
  .superRefine((options, context) => {
    if (options["webhook-url"] !== undefined && options["topic-arn"] !== undefined) {
      context.addIssue({ code: "custom", message: "--webhook-url and --topic-arn exclude each other" });
    }
  })
  .transform((options) => ({
    webhookUrl: options["webhook-url"],
    topicArn: options["topic-arn"],
    topicRegion: options["topic-arn"] ? TOPIC_ARN.exec(options["topic-arn"])?.[2] : undefined,
    severity: options.severity,
    cluster: options.cluster,
    region: options.region,
    help: options.help,
  }));
export type TestAlertOptions = z.output<typeof TestAlertOptionsSchema>;

export function parseTestAlertArgs(argv: readonly string[]): TestAlertOptions {
  return parseCommandLine(argv, OPTIONS, TestAlertOptionsSchema);
}
