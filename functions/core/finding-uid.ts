import { createHash } from "node:crypto";
import { type Finding, findingKey } from "./finding.ts";

/** The cluster a finding names, or this placeholder when the input did not say (a scanned file, say). */
export const UNKNOWN_CLUSTER = "unknown-cluster";

/**
 * The longest uid kept readable. Security Hub refuses an ASFF `Id` over 512 characters; the prefix the
 * Security Hub adapter adds stays well inside the rest.
 */
export const MAX_READABLE_UID = 400;

/**
 * One identity per audited request: the cluster and the finding's key (its auditID, and the time the API
 * server received the request: a client can choose the auditID, core/event-key.ts). Every export (OCSF
 * `finding_info.uid`, the ASFF `Id`) derives from it, so importing the same finding twice updates it instead
 * of duplicating it, and another write with the same auditID is another finding. A scanned file can say
 * anything: an overlong pair becomes a SHA-256 of both parts (still the same for the same request) instead of
 * a refused import.
 */
export function findingUid(finding: Pick<Finding, "cluster" | "auditID" | "occurrence">): string {
  const cluster = finding.cluster ?? UNKNOWN_CLUSTER;
  const key = findingKey(finding);
  if (cluster.length + 1 + key.length <= MAX_READABLE_UID) return `${cluster}/${key}`;
  const digest = createHash("sha256").update(cluster).update("\u0000").update(key).digest("hex");
  return `sha256:${digest}`;
}
