import { createInterface } from "node:readline";
import { idempotencyTable, startDynalite, stormTable } from "../test/peers/dynalite.ts";
import { startSnsServer } from "../test/peers/sns-server.ts";

/**
 * One loopback peer in a process of its own (`peer-child.ts sns <topicArn>` or
 * `peer-child.ts dynamodb <idempotencyTable> [<stormTable>]`),
 * so that the publish bench can tell the function's CPU from the peers' (in production SNS and DynamoDB are
 * not on the function's CPU either). Prints `{"endpoint": …}` once ready; then, for each line on stdin:
 * `stats` prints `{"cpuMs": …, "requests": …, "published": …}` (CPU since start, requests answered, messages
 * accepted), `clear` forgets what the
 * SNS peer recorded, `stop` exits.
 */

interface Peer {
  endpoint: string;
  requests(): number;
  /** Messages accepted (SNS), or 0. */
  published(): number;
  clear(): void;
  stop(): Promise<void>;
}

async function start(kind: string, name: string, storm: string | undefined): Promise<Peer> {
  if (kind === "sns") {
    const sns = await startSnsServer({ topics: [name] });
    return {
      endpoint: sns.endpoint,
      requests: () => sns.requests.length,
      published: () => sns.published.length,
      clear: () => sns.clear(),
      stop: () => sns.stop(),
    };
  }
  if (kind === "dynamodb") {
    const dynamo = await startDynalite([idempotencyTable(name), ...(storm ? [stormTable(storm)] : [])]);
    let cleared = 0;
    return {
      endpoint: dynamo.endpoint,
      requests: () => dynamo.requests() - cleared,
      published: () => 0,
      clear: () => {
        cleared = dynamo.requests();
      },
      stop: () => dynamo.stop(),
    };
  }
  throw new RangeError(`unknown peer ${kind}`);
}

const [kind = "", name = "", storm] = process.argv.slice(2);
const peer = await start(kind, name, storm);
const cpuAtStart = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ endpoint: peer.endpoint })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "stats") {
    const cpu = process.cpuUsage(cpuAtStart);
    process.stdout.write(
      `${JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, requests: peer.requests(), published: peer.published() })}\n`,
    );
  } else if (line === "clear") {
    peer.clear();
    process.stdout.write("{}\n");
  } else if (line === "stop") {
    await peer.stop();
    process.exit(0);
  }
}
