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

const ESCAPE_START = "\\u00";
const DIGIT_6 = 0x36;
const DIGIT_7 = 0x37;

/**
 * Whether JSON text may decode to something that carries the marker: it contains the marker, or a `\u00XX`
 * escape of a lowercase letter (`\u0060`–`\u007f`), which a JSON parser (and CloudWatch's JSON filter) decodes
 * to the letter itself, so `"\u0065phemeralcontainers"` is the same string as the marker. Text without either
 * cannot, whatever else it holds. kube-apiserver never escapes letters, so its events take the substring test
 * alone; the escape search costs a scan only of text that lacks the marker, and allocates nothing.
 */
export function mayCarryMarker(text: string): boolean {
  if (text.includes(SUBRESOURCE_MARKER)) return true;
  for (let at = text.indexOf(ESCAPE_START); at !== -1; at = text.indexOf(ESCAPE_START, at + 1)) {
    const high = text.charCodeAt(at + ESCAPE_START.length);
    if (high === DIGIT_6 || high === DIGIT_7) return true;
  }
  return false;
}

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
export function skipReason(
  event: AuditEvent,
  config: DetectionConfig,
  /** The event was cut before its verb: it may be a write, and is treated as one. */
  verbCut = false,
): SkipReason | undefined {
  const ref = event.objectRef;
  if (ref?.resource !== "pods" || ref.subresource !== SUBRESOURCE_MARKER || (ref.apiGroup ?? "") !== "") {
    return "other-resource";
  }
  if (!verbCut && !WRITE_VERBS.has(event.verb))
    return READ_VERBS.has(event.verb) ? "read-verb" : "other-verb";
  if (!FINAL_STAGES.has(event.stage)) return "earlier-stage";
  const user = event.user;
  const impersonated = event.impersonatedUser;
  const excluded =
    isExcluded(user.username, user.groups ?? [], config) &&
    (impersonated === undefined || isExcluded(impersonated.username, impersonated.groups ?? [], config));
  return excluded ? "excluded-identity" : undefined;
}
