import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { SNSClient } from "@aws-sdk/client-sns";
import type { Finding } from "../../core/finding.ts";
import {
  createIdempotencyStore,
  emptyPublishOnceResult,
  type IdempotencyStore,
  publishFindingsOnce,
} from "../aws/publish-findings-once.ts";
import { findingMessage, STORM_MEMBER_ATTRIBUTES } from "../aws/sns-message.ts";
import { type AnnounceDeps, announceStorms } from "../aws/storm-announcement.ts";
import { markStormMembers, StormBudget, type StormMarks, stormCluster } from "../aws/storm-budget.ts";
import type { PublishTarget } from "./detect-environment.ts";
import type { FindingSink } from "./detect-invocation.ts";

/** Storm control for the deployed sink (storm-budget.ts): the counter, the notices' records, reporting. */
export interface StormControl {
  budget: StormBudget;
  /** Idempotency records of storm notices: a store with its own key prefix. */
  noticeStore: IdempotencyStore;
  logger: Logger;
  metrics: Metrics;
}

/** Storm control for a publish target (detect and `npm run replay` alike); undefined when it has none. */
export function stormControl(
  dynamo: DynamoDBClient,
  target: Extract<PublishTarget, { mode: "sns" }>,
  logger: Logger,
  metrics: Metrics,
): StormControl | undefined {
  if (!target.storm) return undefined;
  return {
    budget: new StormBudget(dynamo, target.storm),
    noticeStore: createIdempotencyStore(dynamo, {
      ...target.idempotency,
      keyPrefix: `${target.idempotency.keyPrefix}.storm`,
    }),
    logger,
    metrics,
  };
}

/** detect's storm metrics; infra/storm.yml alarms on the failures. */
export const STORM_METRIC = {
  members: "StormMembers",
  notices: "StormNotices",
  budgetFailures: "StormBudgetFailures",
  noticeFailures: "StormNoticeFailures",
} as const;

/**
 * The deployed sink: the alerts topic, exactly once per `<cluster>:<auditID>`. With storm control, the
 * findings claimed for publishing are counted against their cluster's budget; before they are published,
 * each storm gets its notice (once per window), and the findings past the budget of a storm whose notice is
 * out carry `storm = member`. Without it (no storm table configured), every finding is published as it is.
 */
export function snsFindingSink(
  sns: SNSClient,
  topicArn: string,
  store: IdempotencyStore,
  remainingTimeInMillis: () => number,
  storm?: StormControl,
): FindingSink {
  const attributesFor = storm
    ? async (claimed: readonly Finding[]) => {
        // Counted after the claims: only findings published now use the budget, never a redelivery's duplicates.
        const marks = await markStormMembers(storm.budget, claimed);
        const covered = await announce(storm, marks, {
          sns,
          topicArn,
          store: storm.noticeStore,
          remainingTimeInMillis,
        });
        reportMarks(storm, marks);
        return (finding: Finding) =>
          marks.isMember(finding) && covered.has(stormCluster(finding)) ? STORM_MEMBER_ATTRIBUTES : undefined;
      }
    : undefined;
  return (findings) =>
    publishFindingsOnce(findings, {
      sns,
      topicArn,
      store,
      remainingTimeInMillis,
      ...(attributesFor ? { attributesFor } : {}),
    });
}

/**
 * Publishes the storm notices of a batch; returns the clusters whose notice is out (or being published by
 * another invocation). A cluster whose notice failed is not in it: its members go out unmarked and page one
 * by one, so no page is ever lost to storm control.
 */
async function announce(storm: StormControl, marks: StormMarks, deps: AnnounceDeps): Promise<Set<string>> {
  if (marks.notices.length === 0) return new Set();
  const announced = await announceStorms(marks.notices, deps);
  storm.metrics.addMetric(STORM_METRIC.notices, MetricUnit.Count, announced.published.length);
  storm.metrics.addMetric(STORM_METRIC.noticeFailures, MetricUnit.Count, announced.failed.length);
  for (const notice of announced.published) storm.logger.warn("storm notice published", { ...notice });
  for (const { notice, reason } of announced.failed) {
    storm.logger.error("storm notice not published: this batch's storm members page one by one", {
      cluster: notice.cluster,
      windowStart: notice.windowStart,
      reason,
    });
  }
  return new Set(
    [...announced.published, ...announced.duplicates, ...announced.elsewhere].map((notice) => notice.cluster),
  );
}

function reportMarks(storm: StormControl, marks: StormMarks): void {
  for (const unmarked of marks.unmarked) {
    // Fail open: nothing is marked, so everything in this cluster's batch pages and posts on its own.
    storm.logger.error("storm budget unavailable: findings published unmarked (all page)", { ...unmarked });
  }
  const unmarkedFindings = marks.unmarked.reduce((total, entry) => total + entry.findings, 0);
  storm.metrics.addMetric(STORM_METRIC.budgetFailures, MetricUnit.Count, unmarkedFindings);
  storm.metrics.addMetric(STORM_METRIC.members, MetricUnit.Count, marks.members);
}

/**
 * Local mode (PUBLISH_MODE=stdout, docs/deploy.md): prints each message exactly as it would be published
 * (attributes and body) and reports nothing as published, because nothing was.
 */
export function stdoutFindingSink(write: (line: string) => void): FindingSink {
  return async (findings: readonly Finding[]) => {
    for (const finding of findings) {
      const message = findingMessage(finding);
      // The body as it would be published, verbatim: already JSON, and bounded like the message.
      write(
        `{"localMode":"not published","attributes":${JSON.stringify(message.attributes)},"body":${message.body}}`,
      );
    }
    return emptyPublishOnceResult();
  };
}
