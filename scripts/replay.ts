import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import * as z from "zod";
import { createIdempotencyStore } from "../functions/adapters/aws/publish-findings-once.ts";
import { replayFailedInvocations } from "../functions/adapters/aws/replay-failed-invocations.ts";
import { ConfigurationError } from "../functions/adapters/lambda/configuration.ts";
import { parseDetectEnvironment } from "../functions/adapters/lambda/detect-environment.ts";
import { detectInvocation } from "../functions/adapters/lambda/detect-invocation.ts";
import { snsFindingSink, stormControl } from "../functions/adapters/lambda/finding-sinks.ts";
import { createObservability } from "../functions/adapters/lambda/observability.ts";

const USAGE = `Usage: npm run replay -- --queue-url <url> [--env-file detect-env.json] [--region <region>]
                          [--max-messages 1000] [--visibility-timeout 300]

Replays detect invocations that Lambda gave up on (the detect failure queue, stack output
DetectFailureQueueUrl) through the detect logic, with the function's own configuration, and deletes each
message once it succeeded. Findings already published are not published again.

  --queue-url           the failure queue (or DETECT_FAILURE_QUEUE_URL)
  --env-file            JSON object of the function's environment variables, e.g. from
                        aws lambda get-function-configuration --function-name <service>-<stage>-detect \\
                          --query Environment.Variables > detect-env.json
                        (otherwise ALERTS_TOPIC_ARN, IDEMPOTENCY_TABLE, ... come from this shell)
  --max-messages        stop after this many messages (default 1000)
  --visibility-timeout  seconds a message stays hidden while replayed (default 300)

Exit status: 0 all replayed, 1 some failed or were unreadable (left in the queue), 2 usage error.`;

const EnvFileSchema = z.record(z.string(), z.string());

class UsageError extends Error {}

function readEnvFile(path: string): Record<string, string> {
  try {
    return EnvFileSchema.parse(JSON.parse(readFileSync(path, "utf8")));
  } catch (error) {
    throw new UsageError(`--env-file ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new UsageError(`${name} must be a positive integer`);
  return parsed;
}

export async function main(argv: string[], shellEnv: NodeJS.ProcessEnv): Promise<number> {
  try {
    const args = parseArgs({
      args: argv,
      options: {
        "queue-url": { type: "string" },
        "env-file": { type: "string" },
        region: { type: "string" },
        "max-messages": { type: "string" },
        "visibility-timeout": { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
    });
    if (args.values.help) {
      process.stderr.write(`${USAGE}\n`);
      return 0;
    }
    const queueUrl = args.values["queue-url"] ?? shellEnv.DETECT_FAILURE_QUEUE_URL;
    if (!queueUrl) throw new UsageError("--queue-url is required");
    const env = { ...shellEnv, ...(args.values["env-file"] ? readEnvFile(args.values["env-file"]) : {}) };
    const environment = parseDetectEnvironment(env);
    if (environment.publish.mode !== "sns")
      throw new UsageError("replay publishes for real: PUBLISH_MODE must be sns");
    const maxMessages = positiveInt(args.values["max-messages"], "--max-messages", 1000);
    const visibilityTimeoutSeconds = positiveInt(
      args.values["visibility-timeout"],
      "--visibility-timeout",
      300,
    );

    const region = args.values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    const clientConfig = region ? { region } : {};
    const sqs = new SQSClient(clientConfig);
    const sns = new SNSClient(clientConfig);
    const dynamo = new DynamoDBClient(clientConfig);
    const store = createIdempotencyStore(dynamo, environment.publish.idempotency);
    // Metrics belong to the function's invocations; a replay run reports on the terminal instead.
    const { logger, metrics } = createObservability("detect");
    metrics.setThrowOnEmptyMetrics(false);
    // A replayed storm is still a storm: the same budget as the function.
    const storm = stormControl(dynamo, environment.publish, logger, metrics);

    const topicArn = environment.publish.topicArn;
    const stats = await replayFailedInvocations({
      sqs,
      queueUrl,
      maxMessages,
      visibilityTimeoutSeconds,
      functionNameSuffix: "-detect",
      replay: async (event, deadlineMs) => {
        const sink = snsFindingSink(sns, topicArn, store, () => deadlineMs - Date.now(), storm);
        await detectInvocation(event, { detection: environment.detection, sink, logger, metrics });
      },
      log: (event) => {
        if (event.kind === "replayed") logger.info("replayed", { ...event });
        else logger.error(`not replayed (${event.kind}): left in the queue`, { ...event });
      },
    });
    process.stderr.write(
      `replay: ${stats.received} received, ${stats.replayed} replayed and deleted, ${stats.failed} failed, ` +
        `${stats.unreadable} unreadable (failed and unreadable messages stay in the queue)\n`,
    );
    return stats.failed + stats.unreadable === 0 ? 0 : 1;
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigurationError || isArgError(error)) {
      process.stderr.write(`replay: ${(error as Error).message}\n\n${USAGE}\n`);
      return 2;
    }
    throw error;
  }
}

function isArgError(error: unknown): boolean {
  return error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS");
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
  main(process.argv.slice(2), process.env).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `replay: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
