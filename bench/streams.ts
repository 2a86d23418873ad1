import type { StreamSpec } from "./make-payloads.ts";

/** The two streams the targets are about. Seeds are fixed so every run reads the same bytes. */
export interface StreamCase {
  name: "filtered" | "unfiltered";
  description: string;
  spec: StreamSpec;
}

/**
 * Behind the subscription filter a delivery holds what matched in one batch of the audit log: one kubectl debug
 * write, or a few close together (a session debugging several pods, a refused write and its retry).
 */
export const FILTERED_DELIVERY_SIZES = [
  { events: 1, weight: 40 },
  { events: 2, weight: 25 },
  { events: 3, weight: 15 },
  { events: 4, weight: 12 },
  { events: 5, weight: 8 },
] as const;

export const STREAMS: readonly StreamCase[] = [
  {
    name: "filtered",
    description:
      "what the term pattern `ephemeralcontainers` passes, 1 to 5 events a delivery: writes, refused writes, " +
      "reads of the subresource, ClusterRoles naming it, and one write in 1,000 padded past the event size and cut",
    spec: {
      seed: 11,
      kind: "filtered",
      payloads: 1_000,
      eventsPerPayload: FILTERED_DELIVERY_SIZES,
      ephemeralOneIn: 1,
    },
  },
  {
    name: "unfiltered",
    description:
      "a whole audit log group as EKS's policy logs it, 400 events a delivery (within one 1 MiB batch), 1 in 1,000 a write",
    spec: { seed: 12, kind: "unfiltered", payloads: 25, eventsPerPayload: 400, ephemeralOneIn: 1_000 },
  },
];

export function streamNamed(name: string): StreamCase {
  const stream = STREAMS.find((candidate) => candidate.name === name);
  if (!stream)
    throw new RangeError(`no stream named ${name}; known: ${STREAMS.map((s) => s.name).join(", ")}`);
  return stream;
}
