import { PublishCommand, type SNSClient } from "@aws-sdk/client-sns";
import type { StormNotice } from "../../core/storm.ts";
import { actOnce, describeError, type IdempotencyStore } from "./act-once.ts";
import { stormMessage } from "./sns-message.ts";

/**
 * Publishes each storm notice once per (cluster, window), whichever of the concurrent detect invocations with
 * storm members gets there first. It runs before the members are published, and a member is marked only when
 * its storm's notice is out: a finding either pages itself or is covered by a notice that paged.
 *
 * The records use their own key prefix (a separate store), so no audit ID, which a client can choose with the
 * Audit-ID header, can ever name a notice's record.
 */

export interface AnnounceDeps {
  sns: SNSClient;
  topicArn: string;
  store: IdempotencyStore;
  remainingTimeInMillis: () => number;
}

export interface AnnounceResult {
  published: StormNotice[];
  /** Published earlier for this window. */
  duplicates: StormNotice[];
  /**
   * Another invocation holds the claim and is publishing it now: counted as covered. If that invocation dies
   * before publishing, its claim expires at its deadline and the storm's next batch publishes the notice.
   */
  elsewhere: StormNotice[];
  /** Not published (SNS or the records failed): their members must not be marked. */
  failed: { notice: StormNotice; reason: string }[];
}

export function stormNoticeKey(notice: StormNotice): string {
  return `${notice.cluster}:${notice.windowStart}:storm`;
}

/** Never throws: what could not be published is in `failed`. */
export async function announceStorms(
  notices: readonly StormNotice[],
  deps: AnnounceDeps,
): Promise<AnnounceResult> {
  const result: AnnounceResult = { published: [], duplicates: [], elsewhere: [], failed: [] };
  await Promise.all(
    notices.map(async (notice) => {
      const message = stormMessage(notice);
      const once = await actOnce(deps.store, stormNoticeKey(notice), deps.remainingTimeInMillis(), () =>
        deps.sns.send(
          new PublishCommand({
            TopicArn: deps.topicArn,
            Message: message.body,
            MessageAttributes: message.attributes,
          }),
        ),
      );
      if (once.kind === "acted") result.published.push(notice);
      else if (once.kind === "duplicate") result.duplicates.push(notice);
      else if (once.kind === "in-progress") result.elsewhere.push(notice);
      else if (once.kind === "claim-failed") result.failed.push({ notice, reason: once.reason });
      else result.failed.push({ notice, reason: describeError(once.error) });
    }),
  );
  return result;
}
