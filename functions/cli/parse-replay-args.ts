import { z } from "zod";
import { type OptionsConfig, parseCommandLine, TextOption, wholeNumber } from "./command-options.ts";
import { EXIT_STATUS_HELP } from "./exit-codes.ts";

export const REPLAY_USAGE = `usage: ephemeral-guard replay --queue-url URL [--env-file detect-env.json] [--region R]
                             [--max-messages 1000] [--visibility-timeout 300]

Replays detect invocations that Lambda gave up on (the detect failure queue, stack output
DetectFailureQueueUrl) through the detect logic, with the function's own configuration, and deletes each
message once it succeeded. Findings already published are not published again. It publishes to the alerts
topic, whose policy lets only the stack's roles and those in its alertPublishers parameter publish: run it as
one of those (docs/deploy.md).

  --queue-url URL         the failure queue (default: DETECT_FAILURE_QUEUE_URL)
  --env-file FILE         JSON object of the function's environment variables, e.g. from
                          aws lambda get-function-configuration --function-name <service>-<stage>-detect \\
                            --query Environment.Variables > detect-env.json
                          (otherwise ALERTS_TOPIC_ARN, IDEMPOTENCY_TABLE, ... come from this shell)
  --region R              the AWS region (default: the SDK's chain)
  --max-messages N        stop after this many messages (default 1000)
  --visibility-timeout S  seconds a message stays hidden while replayed (default 300)

Messages that fail or cannot be read stay in the queue, and the exit status is then 2.

Stream failures (organization deployments, detect reading a Kinesis stream): the message says where the failed
batch was, not what it held. Replay reads the batch back from the stream (kinesis:GetShardIterator and
kinesis:GetRecords on the stream, kms:Decrypt on its key) in the stream's region, from its first sequence
number to its last, and runs it through detect's logic; findings already published are not published again.
Limits: the records must still be in the stream (24 hours unless its retention was raised); a batch whose
first record is gone cannot be read back, stays in the queue and is reported: find its audit events with
ephemeral-guard hunt in the cluster's account. A batch is read with at most 50 GetRecords calls.

Examples:
  ephemeral-guard replay --queue-url "$QUEUE_URL" --env-file detect-env.json --region eu-west-1
  npm run replay -- --queue-url "$QUEUE_URL" --env-file detect-env.json

${EXIT_STATUS_HELP}`;

const OPTIONS: OptionsConfig = {
  "queue-url": { type: "string" },
  "env-file": { type: "string" },
  region: { type: "string" },
  "max-messages": { type: "string" },
  "visibility-timeout": { type: "string" },
  help: { type: "boolean", short: "h" },
};

const ReplayOptionsSchema = z
  .object({
    "queue-url": TextOption.optional(),
    "env-file": TextOption.optional(),
    region: TextOption.optional(),
    "max-messages": wholeNumber(1, 100_000).optional(),
    // SQS allows at most 12 hours.
    "visibility-timeout": wholeNumber(1, 43_200).optional(),
    help: z.boolean().default(false),
  })
  .transform((options) => ({
    queueUrl: options["queue-url"],
    envFile: options["env-file"],
    region: options.region,
    maxMessages: options["max-messages"] ?? 1_000,
    visibilityTimeoutSeconds: options["visibility-timeout"] ?? 300,
    help: options.help,
  }));
export type ReplayOptions = z.output<typeof ReplayOptionsSchema>;

export function parseReplayArgs(argv: readonly string[]): ReplayOptions {
  return parseCommandLine(argv, OPTIONS, ReplayOptionsSchema);
}
