import { createHash } from "node:crypto";
import type { Finding } from "./finding.ts";

/** The cluster a finding names, or this placeholder when the input did not say (a scanned file, say). */
export const UNKNOWN_CLUSTER = "unknown-cluster";

/**
 * The longest uid kept readable. Security Hub refuses an ASFF `Id` over 512 characters; the prefix the
 * Security Hub adapter adds stays well inside the rest.
 */
export const MAX_READABLE_UID = 400;

/**
 * One identity per audited request: the cluster and the API server's auditID. Every export (OCSF
 * `finding_info.uid`, the ASFF `Id`) derives from it, so importing the same finding twice updates it instead
 * of duplicating it. The auditID comes from the API server, but a scanned file can say anything: an overlong
 * pair becomes a SHA-256 of both parts (still the same for the same request) instead of a refused import.
 */
export function findingUid(finding: Pick<Finding, "cluster" | "auditID">): string {
  const cluster = finding.cluster ?? UNKNOWN_CLUSTER;
  if (cluster.length + 1 + finding.auditID.length <= MAX_READABLE_UID) return `${cluster}/${finding.auditID}`;
  const digest = createHash("sha256").update(cluster).update("\u0000").update(finding.auditID).digest("hex");
  return `sha256:${digest}`;
}
