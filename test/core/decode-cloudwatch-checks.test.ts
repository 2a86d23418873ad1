import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AwslogsEnvelopeSchema,
  asDataMessage,
  awslogsDataOf,
  DataMessageSchema,
} from "../../functions/core/decode-cloudwatch.ts";

/**
 * detect decides on each delivery's envelope and data message with plain checks instead of zod's copying
 * safeParse (decode-cloudwatch.ts). A check that passed what the schema refuses would let a malformed delivery
 * through unexamined; one that refused what it passes would drop a real delivery as invalid. They must agree on
 * every value a delivery can carry.
 */
/** An array with a hole before "a", which no JSON parser makes but a direct invocation could. */
const holey: unknown[] = new Array(2);
holey[1] = "a";
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(undefined, [undefined], holey, Number.NaN),
);
const maybe = <T>(arbitrary: fc.Arbitrary<T>) =>
  fc.oneof(arbitrary, anyValue, fc.constant(undefined), fc.constant("__absent__"));

function withoutAbsent(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== "__absent__"));
}

const dataMessageLike = fc
  .record({
    messageType: maybe(fc.constantFrom("DATA_MESSAGE", "CONTROL_MESSAGE", "data_message", "")),
    owner: maybe(fc.string({ maxLength: 12 })),
    logGroup: maybe(fc.string({ maxLength: 12 })),
    logStream: maybe(fc.string({ maxLength: 12 })),
    subscriptionFilters: maybe(fc.array(fc.oneof(fc.string({ maxLength: 6 }), anyValue), { maxLength: 3 })),
    logEvents: maybe(fc.array(anyValue, { maxLength: 3 })),
    extra: maybe(anyValue),
  })
  .map(withoutAbsent);

const envelopeLike = fc
  .record({
    awslogs: maybe(
      fc.record({ data: maybe(fc.string({ maxLength: 8 })), other: maybe(anyValue) }).map(withoutAbsent),
    ),
    extra: maybe(anyValue),
  })
  .map(withoutAbsent);

describe("delivery checks without zod's copy", () => {
  it("a data message passes the plain check exactly when it passes DataMessageSchema", () => {
    fc.assert(
      fc.property(fc.oneof(dataMessageLike, anyValue), (value) => {
        const checked = asDataMessage(value);
        expect(checked !== undefined).toBe(DataMessageSchema.safeParse(value).success);
        if (checked !== undefined) expect(checked).toEqual(DataMessageSchema.parse(value));
      }),
      { numRuns: 1_000 },
    );
  });

  it("an envelope gives awslogs.data exactly when it passes AwslogsEnvelopeSchema", () => {
    fc.assert(
      fc.property(fc.oneof(envelopeLike, anyValue), (value) => {
        const parsed = AwslogsEnvelopeSchema.safeParse(value);
        expect(awslogsDataOf(value)).toBe(parsed.success ? parsed.data.awslogs.data : undefined);
      }),
      { numRuns: 1_000 },
    );
  });

  it("refuses the shapes a forged delivery might try", () => {
    const refused = [
      { messageType: "DATA_MESSAGE", logEvents: "[]" },
      { messageType: "DATA_MESSAGE", logEvents: [], subscriptionFilters: [1] },
      { messageType: "DATA_MESSAGE", logEvents: [], owner: 111122223333 },
      { messageType: ["DATA_MESSAGE"], logEvents: [] },
      [{ messageType: "DATA_MESSAGE", logEvents: [] }],
    ];
    for (const value of refused) {
      expect(asDataMessage(value)).toBeUndefined();
      expect(DataMessageSchema.safeParse(value).success).toBe(false);
    }
    for (const value of [{ awslogs: { data: 5 } }, { awslogs: [{ data: "x" }] }, { awslogs: null }]) {
      expect(awslogsDataOf(value)).toBeUndefined();
      expect(AwslogsEnvelopeSchema.safeParse(value).success).toBe(false);
    }
  });
});
