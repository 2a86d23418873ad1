import { type CloudWatchLogsClient, DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { type RetryPolicy, withBackoff } from "./cloudwatch-logs-retry.ts";

/** EKS writes a cluster's control-plane logs, audit included, to this group once logging is enabled. */
export function clusterLogGroup(cluster: string): string {
  return `/aws/eks/${cluster}/cluster`;
}

/** Above this many names, one listing of every `/aws/eks/` group costs fewer calls than one call per name. */
const LIST_ALL_ABOVE = 20;
const EKS_PREFIX = "/aws/eks/";
/** A bound on pages, so a misbehaving endpoint cannot keep the listing going forever (50 groups a page). */
const MAX_PAGES = 2_000;

async function* namesWithPrefix(
  client: CloudWatchLogsClient,
  prefix: string,
  retry: RetryPolicy,
): AsyncGenerator<string> {
  let nextToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const input = { logGroupNamePrefix: prefix, ...(nextToken ? { nextToken } : {}) };
    const output = await withBackoff(
      "DescribeLogGroups",
      () => client.send(new DescribeLogGroupsCommand(input), { abortSignal: retry.signal }),
      retry,
    );
    for (const group of output.logGroups ?? []) if (group.logGroupName) yield group.logGroupName;
    nextToken = output.nextToken;
    if (!nextToken) return;
  }
}

/**
 * Which of `names` exist, in the order given. A cluster whose audit logging was never enabled (or whose group
 * was deleted) has none, and a search of it would fail; the caller reports those instead.
 */
export async function existingLogGroups(
  client: CloudWatchLogsClient,
  names: readonly string[],
  retry: RetryPolicy,
): Promise<{ present: string[]; missing: string[] }> {
  const found = new Set<string>();
  if (names.length > LIST_ALL_ABOVE) {
    for await (const name of namesWithPrefix(client, EKS_PREFIX, retry)) found.add(name);
  } else {
    for (const wanted of names) {
      for await (const name of namesWithPrefix(client, wanted, retry)) {
        if (name !== wanted) continue;
        found.add(name);
        break;
      }
    }
  }
  return {
    present: names.filter((name) => found.has(name)),
    missing: names.filter((name) => !found.has(name)),
  };
}
