import { createHash } from "node:crypto";
import type { AuditEvent } from "./audit-event-schema.ts";
import { cutIdentifier } from "./finding-limits.ts";

/**
 * What tells one audit event from another. Not the auditID alone: kube-apiserver takes it from the client's
 * `Audit-ID` request header when one is sent, so a client can give a dangerous write the auditID of its own
 * earlier, harmless one, and everything keyed on the auditID (the detector's duplicate check, the exactly-once
 * records of publishing, Slack and remediation, the exports' ids) would take the second for a redelivery of the
 * first and drop it. The key adds what the API server sets and the client cannot: the time it received the
 * request (to the microsecond). A redelivery of the same event (CloudWatch Logs, Lambda retries, a replay)
 * carries the same time, so it is still recognised as one.
 *
 * An event cut before its timestamps (they come after the bodies) is told apart by a digest of its text
 * instead: a redelivery carries the same text, another write does not.
 */

const MAX_AUDIT_ID = 256;
const MAX_TIME = 64;

/**
 * The part of an event's identity the client cannot choose: when the API server received the request, else a
 * digest of a cut event's text; undefined when neither is known (an event without timestamps, not cut).
 */
export function eventOccurrence(
  event: Pick<AuditEvent, "requestReceivedTimestamp" | "stageTimestamp">,
  cutText?: string,
): string | undefined {
  const received = event.requestReceivedTimestamp ?? event.stageTimestamp;
  if (received !== undefined && received !== "") return cutIdentifier(received, MAX_TIME);
  if (cutText !== undefined)
    return `sha256:${createHash("sha256").update(cutText).digest("hex").slice(0, 32)}`;
  return undefined;
}

/** `<auditID>@<occurrence>`, bounded whatever the client sent as Audit-ID. */
export function eventKey(auditID: string, occurrence: string | undefined): string {
  const id = cutIdentifier(auditID, MAX_AUDIT_ID);
  return occurrence === undefined ? id : `${id}@${occurrence}`;
}
