import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import type { Observability } from "./observability.ts";

export interface HandlerOptions<D, R> {
  observability: Observability;
  /**
   * Builds what the function needs (environment, clients, caches). Called on the first invocation and kept for
   * the life of the container; when it throws (a ConfigurationError, say) the invocation fails with that error
   * in the logs, and the next invocation tries again.
   */
  deps: () => D;
  run: (event: unknown, context: Context, deps: D) => Promise<R>;
}

/** The one way every function is wired: middy, Powertools logger context and metrics, dependencies built once. */
export function lambdaHandler<D, R>({ observability, deps, run }: HandlerOptions<D, R>) {
  const { logger, metrics } = observability;
  let built: D | undefined;
  return (
    middy<unknown, R, Error, Context>((event: unknown, context: Context) => {
      built ??= deps();
      return run(event, context, built);
    })
      // Never the event itself: deliveries carry audit events and findings (request bodies, env values).
      .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
      .use(logMetrics(metrics, { captureColdStartMetric: true }))
  );
}
