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
  /** The role CloudWatch Logs assumes for the filter, when it has one. */
  roleArn?: string | undefined;
}

export interface DesiredFilter {
  filterName: string;
  destinationArn: string;
  filterPattern: string;
  /**
   * The role passed with the filter: in a member stack, the one CloudWatch Logs assumes to check that this
   * account may deliver to the central destination, which grants the whole organization (AWS refuses such a
   * filter without it). None for detect in a single-account stack (a Lambda destination takes no role).
   */
  roleArn?: string | undefined;
}

/**
 * Why a put is needed:
 * - `create`: no filter of ours (new cluster, or someone deleted it);
 * - `redirect`: ours, but delivering somewhere else than detect (someone pointed it away);
 * - `update-pattern`: ours and to detect, with another pattern (a new release changed it);
 * - `update-role`: ours, to detect and with its pattern, but with another role or none (made by a release that
 *   passed none, or before the destination granted the organization): the organization destination refuses
 *   deliveries without it.
 */
export type PutReason = "create" | "redirect" | "update-pattern" | "update-role";

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
    // Absent and empty are the same: CloudWatch Logs reports no role for a filter made without one.
    if ((ours.roleArn ?? "") !== (desired.roleArn ?? "")) return { action: "put", reason: "update-role" };
    return { action: "keep" };
  }
  const others = existing.map((filter) => filter.filterName);
  if (others.length >= filtersPerLogGroup) return { action: "blocked", others };
  return { action: "put", reason: "create" };
}
