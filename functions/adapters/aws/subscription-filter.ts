import subscriptionFilter from "../../../infra/subscription-filter.json" with { type: "json" };

/**
 * The CloudWatch Logs filter that selects what detect is sent, kept in one JSON file so that the stack
 * (infra/log-subscriptions.cjs), the functions that manage subscriptions and the hunt over history all use the
 * same pattern. detect re-checks everything it receives: the pattern only saves invocations.
 */
export const SUBSCRIPTION_FILTER_PATTERN: string = subscriptionFilter.filterPattern;

/** Subscription filters are named `<stack name>-<suffix>`; the suffix marks the filters this project owns. */
export const SUBSCRIPTION_FILTER_NAME_SUFFIX: string = subscriptionFilter.filterNameSuffix;
