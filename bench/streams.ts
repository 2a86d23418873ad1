import type { StreamSpec } from "./make-payloads.ts";

/** The two streams the targets are about. Seeds are fixed so every run reads the same bytes. */
export interface StreamCase {
  name: "filtered" | "unfiltered";
  description: string;
  spec: StreamSpec;
}

const EVENTS_PER_PAYLOAD = 400;

export const STREAMS: readonly StreamCase[] = [
  {
    name: "filtered",
    description: "behind the subscription filter pattern: every event an ephemeral-container write",
    spec: { seed: 11, payloads: 10, eventsPerPayload: EVENTS_PER_PAYLOAD, ephemeralOneIn: 1 },
  },
  {
    name: "unfiltered",
    description: "whole audit stream: 1 event in 1,000 an ephemeral-container write",
    spec: { seed: 12, payloads: 25, eventsPerPayload: EVENTS_PER_PAYLOAD, ephemeralOneIn: 1_000 },
  },
];

export function streamNamed(name: string): StreamCase {
  const stream = STREAMS.find((candidate) => candidate.name === name);
  if (!stream)
    throw new RangeError(`no stream named ${name}; known: ${STREAMS.map((s) => s.name).join(", ")}`);
  return stream;
}
