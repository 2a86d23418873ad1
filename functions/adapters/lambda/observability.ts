import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";

/**
 * detect's logger and metrics. JSON logs; metrics as CloudWatch EMF lines in the same log stream (no API
 * call, no permission needed). The `service` dimension is what infra/alarms.yml selects on.
 */
export const SERVICE_NAME = "detect";
export const METRICS_NAMESPACE = "EphemeralGuard";

export const logger = new Logger({ serviceName: SERVICE_NAME });
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });

/** Metric names; dashboards and alarms depend on them, so they change only with infra/alarms.yml. */
export const METRIC = {
  eventsSeen: "EventsSeen",
  skipped: "Skipped",
  findings: "Findings",
  rejects: "Rejects",
  controlMessages: "ControlMessages",
  published: "Published",
  duplicates: "DuplicatesSuppressed",
  publishFailures: "PublishFailures",
  idempotencyFailures: "IdempotencyFailures",
} as const;
