import { type ChildProcessByStdio, spawn } from "node:child_process";
import { createInterface, type Interface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Context } from "aws-lambda";
import { DEFAULT_STORM_BUDGET, DEFAULT_STORM_WINDOW_MINUTES } from "../functions/core/storm.ts";

/**
 * The real detect handler (functions/detect.ts: decode, detect, claim, storm marks, PublishBatch, settle) with its
 * real SDK clients, configured as serverless.yml deploys it (storm control on, budget 20 per 5 minutes), against
 * the loopback SNS peer and dynalite (test/peers/), each peer in a process of its own: their CPU is not spent
 * inside this process's event loop, as in production. They still share this machine's two cores with it.
 * A section that drives detect with some event (a CloudWatch Logs delivery, a Kinesis batch) opens a harness,
 * invokes, and reads the peers' counters.
 */

const CHILD = fileURLToPath(new URL("./peer-child.ts", import.meta.url));
export const TOPIC = "arn:aws:sns:us-east-1:123456789012:bench-alerts";
const IDEMPOTENCY_TABLE = "bench-idempotency";
const STORM_TABLE = "bench-storm";
/** detect's timeout (serverless.yml). */
export const TIMEOUT_MS = 60_000;

export interface PeerStats {
  cpuMs: number;
  requests: number;
  published: number;
}

export class PeerProcess {
  private readonly lines: Interface;
  private readonly pending: Array<(line: string) => void> = [];

  private constructor(private readonly child: ChildProcessByStdio<Writable, Readable, null>) {
    this.lines = createInterface({ input: child.stdout });
    this.lines.on("line", (line) => this.pending.shift()?.(line));
  }

  static async start(args: readonly string[]): Promise<{ peer: PeerProcess; endpoint: string }> {
    const child = spawn(
      process.execPath,
      [...process.execArgv.filter((flag) => flag !== "--expose-gc"), CHILD, ...args],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    const peer = new PeerProcess(child);
    const ready = JSON.parse(await peer.next()) as { endpoint: string };
    return { peer, endpoint: ready.endpoint };
  }

  private next(): Promise<string> {
    return new Promise((resolve) => this.pending.push(resolve));
  }

  /** `clear` answers `{}`; `stats` a PeerStats. */
  async ask(command: "stats" | "clear"): Promise<PeerStats> {
    const answer = this.next();
    this.child.stdin.write(`${command}\n`);
    return JSON.parse(await answer) as PeerStats;
  }

  stop(): void {
    this.child.stdin.write("stop\n");
  }
}

export function lambdaContext(deadline: number): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "bench-detect",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:bench-detect",
    memoryLimitInMB: "512",
    awsRequestId: `bench-${deadline}`,
    logGroupName: "/aws/lambda/bench-detect",
    logStreamName: "bench",
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** Runs `work` with stdout discarded: the handler logs a line per finding and EMF metrics. */
async function quietly<T>(work: () => Promise<T>): Promise<T> {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return await work();
  } finally {
    process.stdout.write = write;
  }
}

export interface Invocation {
  wallMs: number;
  /** This process's CPU over the invocation (decode, detect, the SDK clients: serialising, signing, HTTP). */
  cpuMs: number;
  /** The invocation's error, when it failed (a flood that outlasts the invocation fails it). */
  failure?: string;
  /** What the handler returned (from a Kinesis event, the partial batch response). */
  response?: unknown;
}

export interface DetectHarness {
  endpoints: { sns: string; dynamodb: string };
  sns: PeerProcess;
  dynamodb: PeerProcess;
  invoke(event: unknown): Promise<Invocation>;
}

export const DEPLOYED_STORM = { budget: DEFAULT_STORM_BUDGET, windowMinutes: DEFAULT_STORM_WINDOW_MINUTES };

/** The peers and the environment detect is deployed with, pointed at them. */
export interface Peers {
  endpoints: { sns: string; dynamodb: string };
  sns: PeerProcess;
  dynamodb: PeerProcess;
  /** detect's environment variables for these peers (storm control as deployed). */
  environment: Record<string, string>;
  stop(): void;
}

export async function startPeers(): Promise<Peers> {
  const sns = await PeerProcess.start(["sns", TOPIC]);
  const dynamodb = await PeerProcess.start(["dynamodb", IDEMPOTENCY_TABLE, STORM_TABLE]);
  return {
    endpoints: { sns: sns.endpoint, dynamodb: dynamodb.endpoint },
    sns: sns.peer,
    dynamodb: dynamodb.peer,
    environment: {
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "bench",
      AWS_SECRET_ACCESS_KEY: "bench",
      AWS_ENDPOINT_URL_SNS: sns.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
      PUBLISH_MODE: "sns",
      ALERTS_TOPIC_ARN: TOPIC,
      IDEMPOTENCY_TABLE,
      STORM_TABLE,
      STORM_BUDGET: String(DEPLOYED_STORM.budget),
      STORM_WINDOW_MINUTES: String(DEPLOYED_STORM.windowMinutes),
      POWERTOOLS_LOG_LEVEL: "WARN",
      AWS_LAMBDA_FUNCTION_NAME: "bench-detect",
    },
    stop() {
      sns.peer.stop();
      dynamodb.peer.stop();
    },
  };
}

/**
 * One set of peers for every section that runs the handler: detect.ts builds its clients once, like a warm
 * Lambda container, so a second set of peers would meet clients still pointed at the first (which stopped).
 * stopDetectPeers() ends them when the bench is done.
 */
let sharedPeers: Promise<Peers> | undefined;

export async function stopDetectPeers(): Promise<void> {
  const peers = sharedPeers;
  sharedPeers = undefined;
  if (peers) (await peers).stop();
}

export async function withDetectHandler<T>(work: (harness: DetectHarness) => Promise<T>): Promise<T> {
  sharedPeers ??= startPeers();
  const peers = await sharedPeers;
  const saved = { ...process.env };
  Object.assign(process.env, peers.environment);
  try {
    const { handler } = (await import("../functions/detect.ts")) as {
      handler: (event: unknown, context: Context) => Promise<unknown>;
    };
    return await work({
      endpoints: peers.endpoints,
      sns: peers.sns,
      dynamodb: peers.dynamodb,
      async invoke(event: unknown): Promise<Invocation> {
        const cpuStart = process.cpuUsage();
        const started = performance.now();
        const outcome = await quietly(() => handler(event, lambdaContext(Date.now() + TIMEOUT_MS))).then(
          (response: unknown) => ({ response }),
          (error: unknown) => ({ failure: error instanceof Error ? error.message : String(error) }),
        );
        const wallMs = performance.now() - started;
        const cpu = process.cpuUsage(cpuStart);
        return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, ...outcome };
      },
    });
  } finally {
    process.env = saved;
  }
}
