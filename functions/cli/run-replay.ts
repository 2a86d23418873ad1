import { readFile } from "node:fs/promises";
import type { Writable } from "node:stream";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KinesisClient } from "@aws-sdk/client-kinesis";
import { SNSClient } from "@aws-sdk/client-sns";
import { SQSClient } from "@aws-sdk/client-sqs";
import { z } from "zod";
import { createIdempotencyStore } from "../adapters/aws/publish-findings-once.ts";
import { replayFailedInvocations } from "../adapters/aws/replay-failed-invocations.ts";
import { ConfigurationError } from "../adapters/lambda/configuration.ts";
import { parseDetectEnvironment } from "../adapters/lambda/detect-environment.ts";
import { detectInvocation } from "../adapters/lambda/detect-invocation.ts";
import { snsFindingSink, stormControl } from "../adapters/lambda/finding-sinks.ts";
import { createObservability } from "../adapters/lambda/observability.ts";
import { originOfArn } from "../core/aws-origin.ts";
import { errorMessage } from "../core/decode-cloudwatch.ts";
import { synopsis, UsageError } from "./command-options.ts";
import { EXIT } from "./exit-codes.ts";
import { parseReplayArgs, REPLAY_USAGE, type ReplayOptions } from "./parse-replay-args.ts";
import { replayStreamBatch } from "./replay-stream-batch.ts";

/**
 * `ephemeral-guard replay` (also `npm run replay`): the detect failure queue, replayed through detect's own
 * logic and configuration. Formerly scripts/replay.ts; a command of the CLI now, so that `--env-file` reaches
 * it instead of being taken by Node (tsx hands that option to Node, which then fails with exit 9).
 */

export interface ReplayIo {
  stdout: Writable;
  stderr: Writable;
  /** The shell's environment; --env-file adds to it. The AWS clients read their own chain. */
  env: Record<string, string | undefined>;
}

const EnvFileSchema = z.record(z.string(), z.string());

class ReplayConfigError extends Error {
  override name = "ReplayConfigError";
}

async function readEnvFile(path: string): Promise<Record<string, string>> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new ReplayConfigError(`--env-file ${path}: ${errorMessage(error)}`);
  }
  const parsed = EnvFileSchema.safeParse(value);
  if (!parsed.success) {
    throw new ReplayConfigError(`--env-file ${path}: not a JSON object of variable names and string values`);
  }
  return parsed.data;
}

export async function runReplay(argv: readonly string[], io: ReplayIo): Promise<number> {
  let options: ReplayOptions;
  try {
    options = parseReplayArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(
      `ephemeral-guard replay: ${error.message}\n${synopsis(REPLAY_USAGE)}\n(ephemeral-guard help replay)\n`,
    );
    return EXIT.usage;
  }
  if (options.help) {
    io.stdout.write(`${REPLAY_USAGE}\n`);
    return EXIT.ok;
  }
  const fail = (message: string) => {
    io.stderr.write(`ephemeral-guard replay: ${message}\n`);
    return EXIT.usage;
  };
  const queueUrl = options.queueUrl ?? io.env.DETECT_FAILURE_QUEUE_URL;
  if (!queueUrl) return fail("--queue-url is required (or set DETECT_FAILURE_QUEUE_URL)");
  let environment: ReturnType<typeof parseDetectEnvironment>;
  let env: Record<string, string | undefined>;
  try {
    env = { ...io.env, ...(options.envFile ? await readEnvFile(options.envFile) : {}) };
    environment = parseDetectEnvironment(env);
  } catch (error) {
    if (error instanceof ReplayConfigError) return fail(error.message);
    if (error instanceof ConfigurationError) return fail(`configuration: ${error.issues.join("; ")}`);
    throw error;
  }
  if (environment.publish.mode !== "sns") {
    return fail("replay publishes for real: PUBLISH_MODE must be sns (or unset)");
  }

  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const clientConfig = region ? { region } : {};
  const sqs = new SQSClient(clientConfig);
  const sns = new SNSClient(clientConfig);
  const dynamo = new DynamoDBClient(clientConfig);
  // A stream is read in its own region (its ARN says which), whatever region the rest uses.
  const kinesisClients = new Map<string, KinesisClient>();
  const kinesisFor = (streamArn: string): KinesisClient => {
    const streamRegion = originOfArn(streamArn).region ?? region ?? "";
    let client = kinesisClients.get(streamRegion);
    if (!client) {
      client = new KinesisClient(streamRegion ? { region: streamRegion } : clientConfig);
      kinesisClients.set(streamRegion, client);
    }
    return client;
  };
  try {
    const store = createIdempotencyStore(dynamo, environment.publish.idempotency);
    // Metrics belong to the function's invocations; a replay run reports on the terminal instead (Powertools
    // would otherwise print EMF lines whenever its buffer fills). An explicit setting still wins.
    process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
    const { logger, metrics } = createObservability("detect");
    metrics.setThrowOnEmptyMetrics(false);
    // A replayed storm is still a storm: the same budget as the function.
    const storm = stormControl(dynamo, environment.publish, logger, metrics);
    const topicArn = environment.publish.topicArn;
    const detectDeps = {
      detection: environment.detection,
      logger,
      metrics,
      // A same-account subscription's payload names no region: the function's (from --env-file or the shell).
      ...(environment.region ? { region: environment.region } : {}),
    };
    let stats: Awaited<ReturnType<typeof replayFailedInvocations>>;
    try {
      stats = await replayFailedInvocations({
        sqs,
        queueUrl,
        maxMessages: options.maxMessages,
        visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
        functionNameSuffix: "-detect",
        replay: async (event, deadlineMs) => {
          const sink = snsFindingSink(sns, topicArn, store, () => deadlineMs - Date.now(), storm);
          const summary = await detectInvocation(event, { ...detectDeps, sink });
          // A Kinesis event in an async invocation's payload: what it names was not done.
          if (summary.batchItemFailures?.length)
            throw new Error(`${summary.batchItemFailures.length} stream record(s) not done`);
        },
        replayStream: async (batch, deadlineMs) => {
          const sink = snsFindingSink(sns, topicArn, store, () => deadlineMs - Date.now(), storm);
          const done = await replayStreamBatch(kinesisFor(batch.streamArn), batch, (event) =>
            detectInvocation(event, { ...detectDeps, sink }),
          );
          logger.info("stream batch read back and replayed", {
            streamArn: batch.streamArn,
            shardId: batch.shardId,
            startSequenceNumber: batch.startSequenceNumber,
            endSequenceNumber: batch.endSequenceNumber,
            ...done,
          });
        },
        log: (event) => {
          if (event.kind === "replayed") logger.info("replayed", { ...event });
          else logger.error(`not replayed (${event.kind}): left in the queue`, { ...event });
        },
      });
    } catch (error) {
      // The queue itself could not be read (credentials, network, a wrong URL): nothing was replayed.
      io.stderr.write(`ephemeral-guard replay: cannot read the queue: ${errorMessage(error)}\n`);
      return EXIT.incomplete;
    }
    io.stderr.write(
      `ephemeral-guard replay: ${stats.received} received, ${stats.replayed} replayed and deleted, ${stats.failed} failed, ` +
        `${stats.unreadable} unreadable (failed and unreadable messages stay in the queue)\n`,
    );
    return stats.failed + stats.unreadable === 0 ? EXIT.ok : EXIT.incomplete;
  } finally {
    sqs.destroy();
    sns.destroy();
    dynamo.destroy();
    for (const client of kinesisClients.values()) client.destroy();
  }
}
