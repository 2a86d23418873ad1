import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";

/**
 * Logging and metrics, made the same way for every function: JSON logs, and metrics as CloudWatch EMF lines in
 * the same log stream (no API call, no permission needed). The `service` dimension is what infra/alarms.yml
 * selects on, so a function's service name changes only with its alarms.
 */
export const METRICS_NAMESPACE = "EphemeralGuard";

export interface Observability {
  service: string;
  logger: Logger;
  metrics: Metrics;
}

export function createObservability(service: string): Observability {
  return {
    service,
    logger: new Logger({ serviceName: service }),
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service }),
  };
}
