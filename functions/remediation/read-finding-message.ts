import * as z from "zod";
import type { SnsDeliveryRecord } from "../adapters/aws/sns-delivery.ts";
import { type Finding, FindingSchema } from "../core/finding.ts";

/**
 * Which alerts-topic messages remediate acts on: findings, and nothing else. The subscription filter already
 * passes only `messageType = finding`; this checks again on the message itself, because the topic also
 * carries remediation outcomes, storm digests, coverage alerts and test alerts, and none of them may ever
 * lead to a deletion.
 */

/** Why a delivery was not acted on. Stable identifiers: they are summary keys and log fields. */
export const IGNORE_REASONS = ["not-a-finding", "test-finding", "invalid-finding"] as const;
export type IgnoreReason = (typeof IGNORE_REASONS)[number];

export type ReadMessage =
  | { kind: "finding"; finding: Finding }
  | { kind: "ignored"; reason: IgnoreReason; problem: string };

interface IgnoreRule {
  reason: IgnoreReason;
  /** The problem with the parsed message body, or undefined when the rule does not apply. */
  problem(body: unknown): string | undefined;
}

function field(body: unknown, name: string): unknown {
  return typeof body === "object" && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)[name]
    : undefined;
}

/** Checks on the parsed body, in order; the first that applies decides. */
const IGNORE_RULES: readonly IgnoreRule[] = [
  {
    reason: "invalid-finding",
    problem: (body) =>
      typeof body === "object" && body !== null && !Array.isArray(body) ? undefined : "not a JSON object",
  },
  {
    // Findings carry no `kind`; every other message the project publishes (remediation outcomes, digests,
    // coverage alerts) does, whatever its messageType attribute says.
    reason: "not-a-finding",
    problem: (body) => {
      const kind = field(body, "kind");
      return kind !== undefined && kind !== "finding" ? `body kind is ${JSON.stringify(kind)}` : undefined;
    },
  },
  {
    // Test alerts exercise Slack and the pager; they must never delete a pod, whatever else they say.
    reason: "test-finding",
    problem: (body) => (field(body, "test") === true ? "marked test: true" : undefined),
  },
];

/** Problems quote the message (zod's messages, the kind), which whoever published it wrote: bounded for the logs. */
const MAX_PROBLEM_CHARS = 2_000;

function bounded(problem: string): string {
  return problem.slice(0, MAX_PROBLEM_CHARS);
}

export function readFindingMessage(record: SnsDeliveryRecord): ReadMessage {
  // The attribute first: outcomes and digests are skipped without parsing their bodies.
  const messageType = record.Sns.MessageAttributes?.messageType?.Value;
  if (messageType !== undefined && messageType !== "finding") {
    return { kind: "ignored", reason: "not-a-finding", problem: bounded(`messageType is ${messageType}`) };
  }
  let body: unknown;
  try {
    body = JSON.parse(record.Sns.Message);
  } catch (error) {
    return {
      kind: "ignored",
      reason: "invalid-finding",
      problem: `not JSON: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  for (const rule of IGNORE_RULES) {
    const problem = rule.problem(body);
    if (problem !== undefined) return { kind: "ignored", reason: rule.reason, problem: bounded(problem) };
  }
  const parsed = FindingSchema.safeParse(body);
  return parsed.success
    ? { kind: "finding", finding: parsed.data }
    : {
        kind: "ignored",
        reason: "invalid-finding",
        problem: bounded(z.prettifyError(parsed.error)),
      };
}
