import * as z from "zod";
import { OwnerSchema } from "./finding.ts";

export const REMEDIATION_SCHEMA_VERSION = 1 as const;

/**
 * What the remediate function did about one finding. Published to the alerts topic (message attribute
 * `messageType = remediation`) so the Slack notifier can show it next to the original alert.
 */
export const RemediationResultSchema = z.enum(["deleted", "would-delete", "skipped", "failed"]);
export type RemediationResult = z.infer<typeof RemediationResultSchema>;

export const RemediationOutcomeSchema = z.object({
  schemaVersion: z.literal(REMEDIATION_SCHEMA_VERSION),
  kind: z.literal("remediation"),
  auditID: z.string(),
  /** The finding's occurrence (core/event-key.ts): Slack's exactly-once record is keyed on it with the auditID. */
  occurrence: z.string().optional(),
  cluster: z.string().optional(),
  /** The cluster's account and region, when it is not in the remediate function's own (organizations). */
  account: z.string().optional(),
  region: z.string().optional(),
  pod: z.object({
    namespace: z.string(),
    name: z.string(),
    uid: z.string().optional(),
    owner: OwnerSchema.optional(),
  }),
  mode: z.enum(["dry-run", "enforce"]),
  result: RemediationResultSchema,
  /** Short machine-readable reason for skipped/failed, e.g. `protected-namespace`, `pod-replaced`. */
  reason: z.string().optional(),
  /** One human sentence: what happened and, when a human must act, what to do. */
  detail: z.string(),
  time: z.string(),
});
export type RemediationOutcome = z.infer<typeof RemediationOutcomeSchema>;
