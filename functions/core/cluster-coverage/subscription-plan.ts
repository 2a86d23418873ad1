/**
 * What to do about detect's subscription filter on one log group, decided from what the log group holds.
 * Ownership is by name: the filter named `<stack name>-<suffix>` is this stack's and may be created or
 * overwritten; every other filter belongs to someone else and is never removed or replaced, even when it takes
 * the last slot.
 */

export interface ExistingFilter {
  filterName: string;
  destinationArn: string;
  filterPattern: string;
}

export interface DesiredFilter {
  filterName: string;
  destinationArn: string;
  filterPattern: string;
}

/**
 * Why a put is needed:
 * - `create`: no filter of ours (new cluster, or someone deleted it);
 * - `redirect`: ours, but delivering somewhere else than detect (someone pointed it away);
 * - `update-pattern`: ours and to detect, with another pattern (a new release changed it).
 */
export type PutReason = "create" | "redirect" | "update-pattern";

export type SubscriptionPlan =
  | { action: "keep" }
  | { action: "put"; reason: PutReason; previousDestination?: string }
  | { action: "blocked"; others: string[] };

/**
 * CloudWatch Logs allows 2 subscription filters per log group (the assumed quota: check yours; the stack
 * passes it as SUBSCRIPTION_FILTERS_PER_LOG_GROUP). Filters of ours never count against it, since a put with
 * their name replaces them.
 */
export const DEFAULT_FILTERS_PER_LOG_GROUP = 2;

export function planSubscription(
  existing: readonly ExistingFilter[],
  desired: DesiredFilter,
  filtersPerLogGroup = DEFAULT_FILTERS_PER_LOG_GROUP,
): SubscriptionPlan {
  const ours = existing.find((filter) => filter.filterName === desired.filterName);
  if (ours) {
    if (ours.destinationArn !== desired.destinationArn) {
      return { action: "put", reason: "redirect", previousDestination: ours.destinationArn };
    }
    if (ours.filterPattern !== desired.filterPattern) return { action: "put", reason: "update-pattern" };
    return { action: "keep" };
  }
  const others = existing.map((filter) => filter.filterName);
  if (others.length >= filtersPerLogGroup) return { action: "blocked", others };
  return { action: "put", reason: "create" };
}
