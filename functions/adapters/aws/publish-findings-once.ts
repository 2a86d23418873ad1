import type { SNSClient } from "@aws-sdk/client-sns";
import { clusterKeyOf } from "../../core/aws-origin.ts";
import { type Finding, findingKey } from "../../core/finding.ts";
import { runBounded } from "../../core/run-bounded.ts";
import { severityRank } from "../../core/severity.ts";
import {
  type Claim,
  claim,
  describeError,
  type IdempotencyStore,
  IN_PROGRESS_ELSEWHERE,
  release,
  settleSuccess,
} from "./act-once.ts";
import {
  emptyPublishOnceResult,
  PublishOnceError,
  type PublishOnceFailure,
  type PublishOnceResult,
} from "./publish-once-result.ts";
import { canSettleMany } from "./settle-in-batches.ts";
import {
  type FindingMessage,
  findingMessage,
  type MessageAttributes,
  messageBytes,
  withAttributes,
} from "./sns-message.ts";
import { batchesOf, type EntryOutcome, publishBatch } from "./sns-publisher.ts";

export { type IdempotencyStore, IN_PROGRESS_ELSEWHERE } from "./act-once.ts";
export {
  emptyPublishOnceResult,
  PublishOnceError,
  type PublishOnceFailure,
  type PublishOnceResult,
} from "./publish-once-result.ts";
/** detect's store: act-once.ts's, settling published findings in batches (settle-in-batches.ts). */
export { createBatchSettlingStore as createIdempotencyStore } from "./settle-in-batches.ts";

/**
 * Publishes each finding to the alerts topic exactly once across redeliveries (Lambda async retries,
 * duplicate CloudWatch Logs deliveries, replays from the failure queue), while still batching, through the
 * act-once phases (act-once.ts describes them and the one window left for a repeat): every finding is claimed
 * (in parallel), the claimed ones are published in PublishBatch-sized groups (up to CONCURRENT_GROUPS at a
 * time), and each is settled. The most severe go first. Every finding has its own outcome: a message that
 * cannot be built, claimed or published fails alone, and every other finding is still published.
 */

/**
 * `<cluster>:<eventKey>`: not the auditID alone, which a client can choose (core/event-key.ts). The cluster is
 * its ARN when the finding names its account (core/aws-origin.ts clusterKeyOf), else its name as before.
 */
export function idempotencyKey(finding: Finding): string {
  return `${clusterKeyOf(finding)}:${findingKey(finding)}`;
}

export interface PublishOnceDeps {
  sns: SNSClient;
  topicArn: string;
  store: IdempotencyStore;
  /** Bounds an INPROGRESS record's life, so a crashed attempt never blocks its retry for long. */
  remainingTimeInMillis: () => number;
  /**
   * Extra message attributes (storm membership, storm-budget.ts), decided once for the findings claimed for
   * publishing, so that duplicates are not counted; none when absent.
   */
  attributesFor?: (
    claimed: readonly Finding[],
  ) => Promise<(finding: Finding) => MessageAttributes | undefined>;
}

/**
 * Groups (one PublishBatch each, with its claims and settles) in flight at once: up to 10 x this DynamoDB
 * calls. Measured over the loopback peers (npm run bench -- publish): 10,000 findings take about a fifth of
 * the sequential time at 8, and little less beyond, where the CPU is the limit.
 */
export const CONCURRENT_GROUPS = 8;

/** Claims in flight at once: as many as CONCURRENT_GROUPS full groups would make. */
export const CONCURRENT_CLAIMS = CONCURRENT_GROUPS * 10;

/**
 * A group is not started with less time than this left: its claims would outlive the invocation and hold
 * the findings INPROGRESS until their expiry, while a clean failure now lets the retry publish them at once.
 */
export const DEADLINE_MARGIN_MS = 5_000;

interface Entry {
  finding: Finding;
  message: FindingMessage;
}

/** The message for each finding, or why there is none: building one never takes another down. */
function messages(findings: readonly Finding[], failures: PublishOnceFailure[]): Entry[] {
  const entries: Entry[] = [];
  for (const finding of findings) {
    try {
      entries.push({ finding, message: findingMessage(finding) });
    } catch (error) {
      failures.push({ auditID: finding.auditID, stage: "message", reason: describeError(error) });
    }
  }
  return entries;
}

interface GroupOutcome {
  published: Entry[];
  duplicates: Entry[];
  unrecorded: Entry[];
  failures: PublishOnceFailure[];
}

function claimFailure(entry: Entry, outcome: Claim): PublishOnceFailure | undefined {
  if (outcome.kind === "in-progress")
    return { auditID: entry.finding.auditID, stage: "claim", reason: IN_PROGRESS_ELSEWHERE, elsewhere: true };
  if (outcome.kind === "error")
    return { auditID: entry.finding.auditID, stage: "claim", reason: outcome.reason };
  return undefined;
}

/**
 * Marks published keys done: one BatchWriteItem when the store can, one UpdateItem each otherwise and for any
 * key the batch did not write (a role not yet granted dynamodb:BatchWriteItem, say).
 */
async function settle(store: IdempotencyStore, keys: readonly string[]): Promise<boolean[]> {
  if (keys.length === 0) return [];
  const batched = canSettleMany(store) ? await store.settleMany(keys) : keys.map(() => false);
  return Promise.all(keys.map((key, index) => batched[index] || settleSuccess(store, key)));
}

/**
 * The extra attributes of a group's claimed findings (storm membership), decided after the claims so that
 * duplicates use no storm budget. A hook that fails adds nothing: the findings are published as they are.
 */
async function extraAttributes(
  claimed: readonly Entry[],
  deps: PublishOnceDeps,
): Promise<((finding: Finding) => MessageAttributes | undefined) | undefined> {
  if (!deps.attributesFor) return undefined;
  try {
    return await deps.attributesFor(claimed.map((entry) => entry.finding));
  } catch {
    return undefined;
  }
}

/** Publish and settle one group of claimed findings (one PublishBatch). Never throws. */
async function publishGroup(group: readonly Entry[], deps: PublishOnceDeps): Promise<GroupOutcome> {
  const outcome: GroupOutcome = { published: [], duplicates: [], unrecorded: [], failures: [] };
  const remaining = deps.remainingTimeInMillis();
  if (remaining < DEADLINE_MARGIN_MS) {
    // Given back now, so that the retry can publish them at once rather than after the claims expire.
    await Promise.all(group.map((entry) => release(deps.store, idempotencyKey(entry.finding))));
    for (const entry of group) {
      outcome.failures.push({
        auditID: entry.finding.auditID,
        stage: "deadline",
        reason: `not attempted: ${remaining} ms left of the invocation`,
      });
    }
    return outcome;
  }
  const published: EntryOutcome[] = await publishBatch(
    deps.sns,
    deps.topicArn,
    group.map((entry) => entry.message),
  );
  const notPublished: Entry[] = [];
  group.forEach((entry, index) => {
    const result = published[index] ?? { ok: false, reason: "no outcome" };
    if (result.ok) outcome.published.push(entry);
    else {
      notPublished.push(entry);
      outcome.failures.push({ auditID: entry.finding.auditID, stage: "publish", reason: result.reason });
    }
  });
  const recorded = await settle(
    deps.store,
    outcome.published.map((entry) => idempotencyKey(entry.finding)),
  );
  outcome.published.forEach((entry, index) => {
    if (!recorded[index]) outcome.unrecorded.push(entry);
  });
  await Promise.all(notPublished.map((entry) => release(deps.store, idempotencyKey(entry.finding))));
  return outcome;
}

/** The most severe first (stable): in a flood they are published first, and a storm budget goes to them. */
function bySeverity(a: Entry, b: Entry): number {
  return severityRank(b.finding.severity) - severityRank(a.finding.severity);
}

/**
 * Claims every finding (CONCURRENT_CLAIMS at a time), decides the claimed findings' extra attributes once,
 * then publishes and settles them in PublishBatch groups, CONCURRENT_GROUPS at a time.
 */
export async function publishFindingsOnce(
  findings: readonly Finding[],
  deps: PublishOnceDeps,
): Promise<PublishOnceResult> {
  const result = emptyPublishOnceResult();
  const failures: PublishOnceFailure[] = [];
  const entries = messages(findings, failures).sort(bySeverity);
  const remaining = deps.remainingTimeInMillis();
  const claims =
    remaining < DEADLINE_MARGIN_MS
      ? []
      : await runBounded(entries, CONCURRENT_CLAIMS, (entry) =>
          claim(deps.store, idempotencyKey(entry.finding), remaining),
        );
  const claimed: Entry[] = [];
  entries.forEach((entry, index) => {
    const settled = claims[index];
    if (settled === undefined) {
      failures.push({
        auditID: entry.finding.auditID,
        stage: "deadline",
        reason: `not attempted: ${remaining} ms left of the invocation`,
      });
      return;
    }
    const outcome: Claim = settled.ok
      ? settled.value
      : { kind: "error", reason: describeError(settled.error) };
    if (outcome.kind === "claimed") claimed.push(entry);
    else if (outcome.kind === "done") result.duplicates.push(entry.finding.auditID);
    else failures.push(claimFailure(entry, outcome) as PublishOnceFailure);
  });

  if (claimed.length > 0) {
    const extra = await extraAttributes(claimed, deps);
    const ready = extra
      ? claimed.map((entry) => ({ ...entry, message: withAttributes(entry.message, extra(entry.finding)) }))
      : claimed;
    const groups = batchesOf(ready, (entry) => messageBytes(entry.message));
    const outcomes = await runBounded(groups, CONCURRENT_GROUPS, (group) => publishGroup(group, deps));
    outcomes.forEach((settled, index) => {
      if (!settled.ok) {
        // publishGroup does not throw; if it ever did, its findings count as not published.
        const reason = describeError(settled.error);
        for (const entry of groups[index] ?? [])
          failures.push({ auditID: entry.finding.auditID, stage: "publish", reason });
        return;
      }
      const group = settled.value;
      for (const entry of group.published) {
        result.published.push(entry.finding.auditID);
        if (entry.message.finding !== entry.finding) result.shortened.push(entry.finding.auditID);
      }
      for (const entry of group.unrecorded) result.unrecorded.push(entry.finding.auditID);
      failures.push(...group.failures);
    });
  }
  if (failures.length > 0) throw new PublishOnceError(failures, result);
  return result;
}
