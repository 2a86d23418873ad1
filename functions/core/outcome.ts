import * as z from "zod";

/**
 * What the API server did with the write:
 * - created: 2xx, the container exists now;
 * - forbidden: authorization said no (decision "forbid");
 * - denied: authorized, then rejected by admission (Pod Security: 403 with decision "allow"; an admission
 *   webhook such as Kyverno or Gatekeeper: any code from 400 up, 400 when the webhook gave none);
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
/**
 * What kube-apiserver writes when a validating or mutating webhook says no: `admission webhook "NAME" denied
 * the request: …` (or `… denied the request without explanation`), with the webhook's code, 400 if it gave
 * none. A webhook that could not be called (`failed calling webhook`) is not a denial: that is a failure.
 */
const WEBHOOK_DENIAL = /admission webhook "[^"]*" denied the request/i;

/** Classifies the response. A missing status (truncated or odd audit backends) is not a success. */
export function classifyOutcome({ code, decision, message }: OutcomeInput): Outcome {
  if (code !== undefined && code >= 200 && code < 300) return "created";
  if (decision === "forbid") return "forbidden";
  // Before the 403 rule: webhooks deny with 400, 403, 422 or whatever code they chose.
  if ((code === undefined || code >= 400) && message !== undefined && WEBHOOK_DENIAL.test(message)) {
    return "denied";
  }
  if (code !== 403) return "failed";
  if (decision === "allow") return "denied";
  return message !== undefined && ADMISSION_MESSAGE.test(message) ? "denied" : "forbidden";
}
