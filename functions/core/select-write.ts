import type { AuditEvent } from "./audit-event-schema.ts";
import { anyMatchesAny, matchesAny } from "./classify-identity.ts";
import { DEFAULT_EXCLUDED_USERS, type DetectionConfig } from "./detection-config.ts";

/** Why an audit event did not become a finding. Every record ends up in exactly one of these or in a finding. */
export const SKIP_REASONS = [
  "other-resource",
  "read-verb",
  "other-verb",
  "earlier-stage",
  "excluded-identity",
  "duplicate",
  "unparseable",
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

const WRITE_VERBS = new Set(["patch", "update"]);
const READ_VERBS = new Set(["get", "list", "watch"]);
const FINAL_STAGES = new Set(["ResponseComplete", "Panic"]);

/** The marker every ephemeral-container write carries in its objectRef, as the API server serialises it. */
export const SUBRESOURCE_MARKER = "ephemeralcontainers";

function isExcluded(username: string, groups: readonly string[], config: DetectionConfig): boolean {
  return (
    matchesAny(username, DEFAULT_EXCLUDED_USERS) ||
    matchesAny(username, config.excludedUsers) ||
    anyMatchesAny(groups, config.excludedGroups)
  );
}

/**
 * Returns why the event is not an ephemeral-container write to report, or undefined when it is one.
 * Only final stages count so that a cluster logging RequestReceived too still gives one finding per request.
 * An impersonated request is excluded only when both identities are: a node or kube-system controller
 * identity must not become a way to hide a human's write.
 */
export function skipReason(event: AuditEvent, config: DetectionConfig): SkipReason | undefined {
  const ref = event.objectRef;
  if (ref?.resource !== "pods" || ref.subresource !== SUBRESOURCE_MARKER || (ref.apiGroup ?? "") !== "") {
    return "other-resource";
  }
  if (!WRITE_VERBS.has(event.verb)) return READ_VERBS.has(event.verb) ? "read-verb" : "other-verb";
  if (!FINAL_STAGES.has(event.stage)) return "earlier-stage";
  const user = event.user;
  const impersonated = event.impersonatedUser;
  const excluded =
    isExcluded(user.username, user.groups ?? [], config) &&
    (impersonated === undefined || isExcluded(impersonated.username, impersonated.groups ?? [], config));
  return excluded ? "excluded-identity" : undefined;
}
