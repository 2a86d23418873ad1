import subscriptionFilter from "../../../infra/subscription-filter.json" with { type: "json" };

/**
 * The CloudWatch Logs filter that selects what detect is sent, kept in one JSON file so that the stack
 * (infra/log-subscriptions.cjs), the functions that manage subscriptions and the hunt over history all use the
 * same pattern. detect re-checks everything it receives: the pattern only saves invocations.
 *
 * It is the term `ephemeralcontainers`, not a JSON pattern: a JSON pattern never matches an event that is not
 * valid JSON, so a write padded until CloudWatch Logs cuts its event would never reach detect. The term stands
 * in objectRef.subresource and requestURI, early in every event on the subresource, so cut events pass too
 * (the `why` in the JSON file says more; test/infra/subscription-filter.test.ts checks it on the samples).
 */
export const SUBSCRIPTION_FILTER_PATTERN: string = subscriptionFilter.filterPattern;

/** Subscription filters are named `<stack name>-<suffix>`; the suffix marks the filters this project owns. */
export const SUBSCRIPTION_FILTER_NAME_SUFFIX: string = subscriptionFilter.filterNameSuffix;
