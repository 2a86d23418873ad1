import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AuditEventSchema, parseAuditEvent } from "../../functions/core/audit-event-schema.ts";
import { mutatedSample, sampleAuditEvents } from "../helpers/mutate-json.ts";

/**
 * parseAuditEvent skips zod's copy for events that are valid as they stand. Whatever the input, it must
 * accept exactly what AuditEventSchema accepts, with an equal result, and report the schema's own errors.
 */
const seeds = sampleAuditEvents();

function expectSameAsSchema(value: unknown): void {
  const fast = parseAuditEvent(value);
  const schema = AuditEventSchema.safeParse(value);
  expect(fast.success).toBe(schema.success);
  if (fast.success && schema.success) expect(fast.data).toEqual(schema.data);
  else expect(fast.error?.issues).toEqual(schema.error?.issues);
}

describe("parseAuditEvent", () => {
  it("accepts every sample event as the schema does", () => {
    expect(seeds.length).toBeGreaterThan(5);
    for (const seed of seeds) {
      expect(parseAuditEvent(seed).success).toBe(true);
      expectSameAsSchema(seed);
    }
  });

  it("agrees with the schema on awkward values", () => {
    const base = seeds[0] as Record<string, unknown>;
    const variants: unknown[] = [
      null,
      [],
      "event",
      { ...base, user: { groups: ["a"] } },
      { ...base, auditID: "" },
      { ...base, kind: "EventList" },
      { ...base, stage: "Done" },
      { ...base, responseStatus: { code: 200.5 } },
      { ...base, responseStatus: { code: 2 ** 60 } },
      { ...base, responseStatus: { code: "200" } },
      { ...base, annotations: { a: 1 } },
      { ...base, annotations: [] },
      { ...base, user: { username: "u", extra: { arn: "x" } } },
      { ...base, impersonatedUser: { username: 5 } },
      { ...base, objectRef: { resource: ["pods"] } },
      { ...base, sourceIPs: "1.2.3.4" },
      { ...base, requestObject: undefined, responseObject: null, extraField: { any: true } },
    ];
    for (const value of variants) expectSameAsSchema(value);
  });

  it("agrees with the schema when any field of a real event is replaced or removed", () => {
    fc.assert(
      fc.property(mutatedSample(seeds, 2), (mutated) => {
        expectSameAsSchema(mutated);
      }),
      { numRuns: 1_000 },
    );
  });
});
