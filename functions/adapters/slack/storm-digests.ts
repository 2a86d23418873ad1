import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { summarizeStorm, windowStartText } from "../../core/storm.ts";
import type { IdempotencyStore } from "../aws/act-once.ts";
import type { PendingDigest, StormDigestStore } from "../aws/storm-digest-store.ts";
import type { PostOptions } from "./post-to-slack.ts";
import { SlackPostError } from "./post-to-slack.ts";
import { stormDigestSlackMessage } from "./slack-blocks-storm.ts";
import {
  actOncePatiently,
  deliver,
  lazyWebhookUrl,
  notifyKey,
  SlackDeliveryError,
  type WebhookUrlProvider,
} from "./slack-notifier.ts";

/**
 * The scheduled half of storm control: every minute, one digest per (cluster, window) that held storm members
 * and ended long enough ago, posted exactly once (the same idempotency records as every other post), oldest
 * first. A flush that runs twice, or two that overlap, post each digest once.
 */

export interface DigestSettings {
  budget: number;
  windowMinutes: number;
  /**
   * How long after a window ends its digest is read. Longer than notify-slack can run, so every member
   * recorded in the window (by an invocation that started before it ended) is in the table by then.
   */
  delaySeconds: number;
}

export interface DigestDeps {
  logger: Logger;
  metrics?: Metrics;
  webhookUrl: WebhookUrlProvider;
  region: string | undefined;
  post?: Omit<PostOptions, "remainingTimeMs">;
  idempotency: IdempotencyStore;
  digests: Pick<StormDigestStore, "due" | "members" | "settle">;
  settings: DigestSettings;
  inProgress?: { waits: number; waitMs: number; sleep?: (ms: number) => Promise<void> };
}

export interface FlushSummary {
  /** Digests due when the flush started (at most MAX_DIGESTS_PER_FLUSH). */
  due: number;
  posted: number;
  /** Windows whose members were all gone or unreadable: nothing to post. */
  empty: number;
  /** Posted by an earlier flush (its pending item was left behind): not posted again. */
  duplicates: number;
  /** Another flush is posting it right now. */
  elsewhere: number;
  /** Left for the next flush because the invocation ran short of time. */
  deferred: number;
}

/** Digests per flush: Slack takes about one post a second per webhook; the rest wait a minute. */
export const MAX_DIGESTS_PER_FLUSH = 20;
/** Members one digest reads (about 300 bytes each); a bigger storm says its counts are lower bounds. */
export const MAX_MEMBERS_PER_DIGEST = 50_000;
/** Not started with less time than this left: a digest reads its members and posts, with Slack's retries. */
const RESERVE_MS = 12_000;

export const DIGEST_METRIC = { posted: "StormDigestsPosted" } as const;

/** Digest records are keyed like every other post: (cluster, window start, "digest"). */
export function digestKey(pending: PendingDigest): string {
  return notifyKey(pending.cluster, windowStartText(pending.window), "digest");
}

type DigestAct = { kind: "posted" } | { kind: "empty"; unreadable: number };

export async function flushStormDigests(
  remainingTimeMs: () => number,
  deps: DigestDeps,
): Promise<FlushSummary> {
  const due = await deps.digests.due(deps.settings.delaySeconds * 1000, MAX_DIGESTS_PER_FLUSH);
  const summary: FlushSummary = {
    due: due.length,
    posted: 0,
    empty: 0,
    duplicates: 0,
    elsewhere: 0,
    deferred: 0,
  };
  const url = lazyWebhookUrl(deps);
  for (const [index, pending] of due.entries()) {
    if (remainingTimeMs() < RESERVE_MS) {
      summary.deferred = due.length - index;
      break;
    }
    const act = async (): Promise<DigestAct> => {
      const read = await deps.digests.members(pending.cluster, pending.window, MAX_MEMBERS_PER_DIGEST);
      if (read.members.length === 0) return { kind: "empty", unreadable: read.unreadable };
      const digest = summarizeStorm(pending.cluster, pending.window, read.members, read.complete);
      const message = stormDigestSlackMessage(digest, deps.settings.budget, deps.settings.windowMinutes, {
        region: deps.region,
      });
      await deliver(
        await url(),
        { auditID: windowStartText(pending.window), message, plain: false },
        remainingTimeMs,
        deps,
      );
      deps.logger.warn("storm digest posted", {
        cluster: pending.cluster,
        windowStart: windowStartText(pending.window),
        held: digest.held,
        postedAlone: digest.postedAlone,
        complete: digest.complete,
        unreadable: read.unreadable,
      });
      return { kind: "posted" };
    };
    const once = await actOncePatiently(deps, digestKey(pending), remainingTimeMs, act);
    if (once.kind === "in-progress") {
      summary.elsewhere++;
      continue;
    }
    if (once.kind === "claim-failed" || once.kind === "act-failed") {
      const error = once.kind === "act-failed" ? once.error : new Error(once.reason);
      if (error instanceof SlackPostError && error.webhookGone) deps.webhookUrl.invalidate();
      deps.logger.error("storm digest not posted; failing the flush (the next one retries it)", {
        cluster: pending.cluster,
        windowStart: windowStartText(pending.window),
        error: error instanceof Error ? error.message : String(error),
        ...summary,
      });
      deps.metrics?.addMetric(DIGEST_METRIC.posted, MetricUnit.Count, summary.posted);
      throw new SlackDeliveryError(
        `storm digest for ${pending.cluster} ${windowStartText(pending.window)} not posted`,
        [digestKey(pending)],
        { cause: error },
      );
    }
    if (once.kind === "duplicate") summary.duplicates++;
    else if (once.value.kind === "posted") summary.posted++;
    else summary.empty++;
    if (once.kind === "acted" && !once.recorded) {
      // Clearing the pending item below is then what keeps the next flush from posting it again.
      deps.logger.error("storm digest posted but not recorded", {
        cluster: pending.cluster,
        windowStart: windowStartText(pending.window),
      });
    }
    await deps.digests.settle(pending).catch((error: unknown) => {
      // With the record written, the next flush finds a duplicate and clears it then.
      deps.logger.warn("could not clear a pending storm digest", {
        cluster: pending.cluster,
        windowStart: windowStartText(pending.window),
        error: error instanceof Error ? error.message : String(error),
      });
    });
  }
  deps.metrics?.addMetric(DIGEST_METRIC.posted, MetricUnit.Count, summary.posted);
  deps.logger.info("storm digest flush done", { ...summary });
  return summary;
}
