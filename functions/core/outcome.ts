import * as z from "zod";

/**
 * What the API server did with the write:
 * - created: 2xx, the container exists now;
 * - forbidden: authorization said no (decision "forbid");
 * - denied: authorized, then rejected by admission (e.g. Pod Security: 403 with decision "allow");
 * - failed: any other non-2xx (validation 422, conflict, panic, …).
 */
export const OutcomeSchema = z.enum(["created", "forbidden", "denied", "failed"]);
export type Outcome = z.infer<typeof OutcomeSchema>;

export interface OutcomeInput {
  code: number | undefined;
  /** `authorization.k8s.io/decision`: "allow" | "forbid" (only on the final stage). */
  decision: string | undefined;
  message?: string | undefined;
}

/** Admission rejections, recognisable by their message when the decision annotation was not logged. */
const ADMISSION_MESSAGE = /violates PodSecurity|admission webhook/i;

/** Classifies the response. A missing status (truncated or odd audit backends) is not a success. */
export function classifyOutcome({ code, decision, message }: OutcomeInput): Outcome {
  if (code !== undefined && code >= 200 && code < 300) return "created";
  if (decision === "forbid") return "forbidden";
  if (code !== 403) return "failed";
  if (decision === "allow") return "denied";
  return message !== undefined && ADMISSION_MESSAGE.test(message) ? "denied" : "forbidden";
}
