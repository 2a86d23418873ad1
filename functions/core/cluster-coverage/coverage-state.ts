import * as z from "zod";
import type { Severity } from "../severity.ts";

/**
 * What coverage knows about one cluster, kept per cluster between runs (DynamoDB) so that an alert goes out
 * once per change of state, not once per run.
 *
 * - `covered`: audit logging on, detect's subscription filter in place, audit events arriving;
 * - `audit-disabled`: the cluster does not send its audit log to CloudWatch Logs at all;
 * - `unsubscribed`: detect's filter is missing and coverage could not put it (both filter slots taken by
 *   others, no log group, or CloudWatch Logs refused);
 * - `silent`: audit logging is on and the filter is in place, but no audit event arrived for longer than the
 *   threshold: the control plane, EKS's delivery or CloudWatch Logs is not doing its part;
 * - `deleted`: the cluster is gone (or being deleted). Decided: a state of its own, so the last word about a
 *   cluster is "deleted" (one info alert) rather than a record that just stops being refreshed; the record
 *   then ages out by TTL, and a cluster re-created under the same name starts afresh.
 */
export const COVERAGE_STATES = ["covered", "audit-disabled", "unsubscribed", "silent", "deleted"] as const;
export const CoverageStateSchema = z.enum(COVERAGE_STATES);
export type CoverageState = z.infer<typeof CoverageStateSchema>;

/** The states in which ephemeral-container writes on the cluster may go unseen, most severe first. */
export const BLIND_STATES = [
  "audit-disabled",
  "unsubscribed",
  "silent",
] as const satisfies readonly CoverageState[];
export type BlindState = (typeof BLIND_STATES)[number];

export function isBlind(state: CoverageState | undefined): state is BlindState {
  return (BLIND_STATES as readonly string[]).includes(state ?? "");
}

/**
 * What a coverage alert announces. One per change of state; `restored` is the exception that proves it: the
 * state stayed `covered` only because coverage put back a filter someone removed or redirected.
 */
export const COVERAGE_ALERT_KINDS = [
  "audit-disabled",
  "unsubscribed",
  "silent",
  "restored",
  "recovered",
  "deleted",
] as const;
export const CoverageAlertKindSchema = z.enum(COVERAGE_ALERT_KINDS);
export type CoverageAlertKind = z.infer<typeof CoverageAlertKindSchema>;

export interface AlertKindText {
  severity: Severity;
  /** Short, for the Slack header and the notification. */
  headline: string;
  /** What it means for detection. */
  meaning: string;
}

/**
 * Severity and wording of each alert kind. A blind cluster is high when nothing will fix it by itself (audit
 * logging off, no subscription possible), medium when the pipeline is in place but quiet; a put-back filter is
 * medium because writes made while it was gone were not analysed.
 */
export const ALERT_KIND_TEXT: Record<CoverageAlertKind, AlertKindText> = {
  "audit-disabled": {
    severity: "high",
    headline: "audit logging is off",
    meaning:
      "EKS does not send this cluster's audit log to CloudWatch Logs: ephemeral-container writes there are not seen.",
  },
  unsubscribed: {
    severity: "high",
    headline: "detect is not subscribed to the audit log",
    meaning:
      "detect's subscription filter is not on the cluster's log group and could not be put there: ephemeral-container writes are stored but not analysed.",
  },
  silent: {
    severity: "medium",
    headline: "no audit events are arriving",
    meaning:
      "Audit logging is on and detect is subscribed, but no audit event reached the log group for longer than the threshold: writes made now may never be seen.",
  },
  restored: {
    severity: "medium",
    headline: "detect's subscription filter was put back",
    meaning:
      "detect's subscription filter had been removed or pointed elsewhere; coverage put it back. Writes made while it was missing were not analysed.",
  },
  recovered: {
    severity: "info",
    headline: "watched again",
    meaning: "Audit logging is on, detect is subscribed and audit events are arriving.",
  },
  deleted: {
    severity: "info",
    headline: "cluster deleted: no longer watched",
    meaning: "The cluster no longer exists (or is being deleted); coverage stops checking it.",
  },
};

/** The alert kind announcing that a cluster entered `state`. */
export const ALERT_ON_ENTERING: Record<CoverageState, CoverageAlertKind> = {
  covered: "recovered",
  "audit-disabled": "audit-disabled",
  unsubscribed: "unsubscribed",
  silent: "silent",
  deleted: "deleted",
};
