import type { SNSClient } from "@aws-sdk/client-sns";
import type { Finding } from "../../core/finding.ts";
import {
  claim,
  describeError,
  type IdempotencyStore,
  IN_PROGRESS_ELSEWHERE,
  release,
  settleSuccess,
} from "./act-once.ts";
import { findingMessage, type MessageAttributes, withAttributes } from "./sns-message.ts";
import { PublishError, publishMessages } from "./sns-publisher.ts";

export { createIdempotencyStore, type IdempotencyStore, IN_PROGRESS_ELSEWHERE } from "./act-once.ts";

/**
 * Publishes each finding to the alerts topic exactly once across redeliveries (Lambda async retries,
 * duplicate CloudWatch Logs deliveries, replays from the failure queue), while still batching: every finding is
 * claimed, the claimed ones are published with PublishBatch, and each is settled (act-once.ts describes the
 * phases and the one window left for a repeat).
 */

export function idempotencyKey(finding: Finding): string {
  return `${finding.cluster ?? "unknown"}:${finding.auditID}`;
}

export interface PublishOnceResult {
  /** Published by this call. */
  published: Finding[];
  /** Already published earlier (COMPLETED record): not published again. */
  duplicates: Finding[];
  /** Published, but the COMPLETED record could not be written: a redelivery after the deadline repeats it. */
  unrecorded: Finding[];
}

export interface PublishOnceFailure {
  finding: Finding;
  stage: "claim" | "publish";
  reason: string;
}

/** Some findings were not published; the invocation must fail so that Lambda (or replay) retries it. */
export class PublishOnceError extends Error {
  constructor(
    readonly failures: PublishOnceFailure[],
    readonly result: PublishOnceResult,
    options?: { cause?: unknown },
  ) {
    const stages = (stage: PublishOnceFailure["stage"]) => failures.filter((f) => f.stage === stage).length;
    super(
      `${failures.length} finding(s) not published (claim: ${stages("claim")}, publish: ${stages("publish")}); ` +
        `${result.published.length} published, ${result.duplicates.length} already published`,
      options,
    );
    this.name = "PublishOnceError";
  }
}

export interface PublishOnceDeps {
  sns: SNSClient;
  topicArn: string;
  store: IdempotencyStore;
  /** Bounds an INPROGRESS record's life, so a crashed attempt never blocks its retry for long. */
  remainingTimeInMillis: () => number;
  /**
   * Extra message attributes (storm membership, storm-budget.ts), decided once per call for the findings
   * claimed for publishing, so that duplicates are not counted; none when absent.
   */
  attributesFor?: (
    claimed: readonly Finding[],
  ) => Promise<(finding: Finding) => MessageAttributes | undefined>;
}

/** DynamoDB calls in flight at once; findings per delivery are few, deliveries can be large. */
const CONCURRENCY = 10;

async function inChunks<T, R>(items: readonly T[], run: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let start = 0; start < items.length; start += CONCURRENCY) {
    out.push(...(await Promise.all(items.slice(start, start + CONCURRENCY).map(run))));
  }
  return out;
}

export async function publishFindingsOnce(
  findings: readonly Finding[],
  deps: PublishOnceDeps,
): Promise<PublishOnceResult> {
  const result: PublishOnceResult = { published: [], duplicates: [], unrecorded: [] };
  const failures: PublishOnceFailure[] = [];
  const claimed: Finding[] = [];

  const claims = await inChunks(findings, (finding) =>
    claim(deps.store, idempotencyKey(finding), deps.remainingTimeInMillis()),
  );
  findings.forEach((finding, index) => {
    const outcome = claims[index];
    if (outcome?.kind === "claimed") claimed.push(finding);
    else if (outcome?.kind === "done") result.duplicates.push(finding);
    else if (outcome?.kind === "in-progress") {
      failures.push({ finding, stage: "claim", reason: IN_PROGRESS_ELSEWHERE });
    } else failures.push({ finding, stage: "claim", reason: outcome?.reason ?? "no claim outcome" });
  });

  let failedIds = new Set<string>();
  let publishError: unknown;
  if (claimed.length > 0) {
    try {
      const extra = deps.attributesFor ? await deps.attributesFor(claimed) : undefined;
      const message = (finding: Finding) => withAttributes(findingMessage(finding), extra?.(finding));
      await publishMessages(deps.sns, deps.topicArn, claimed.map(message));
    } catch (error) {
      publishError = error;
      failedIds =
        error instanceof PublishError
          ? new Set(error.failedIds)
          : new Set(claimed.map((finding) => finding.auditID));
    }
  }

  // Message ids are auditIDs, unique within one invocation (the Detector drops repeats).
  const publishedNow = claimed.filter((finding) => !failedIds.has(finding.auditID));
  const notPublished = claimed.filter((finding) => failedIds.has(finding.auditID));

  const saved = await inChunks(publishedNow, (finding) => settleSuccess(deps.store, idempotencyKey(finding)));
  publishedNow.forEach((finding, index) => {
    result.published.push(finding);
    if (!saved[index]) result.unrecorded.push(finding);
  });

  await inChunks(notPublished, (finding) => release(deps.store, idempotencyKey(finding)));
  const reason = publishError === undefined ? "publish failed" : describeError(publishError);
  for (const finding of notPublished) failures.push({ finding, stage: "publish", reason });

  if (failures.length > 0) throw new PublishOnceError(failures, result, { cause: publishError });
  return result;
}
