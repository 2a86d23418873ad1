import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatCount, quotedList } from "../../functions/core/rule-hits.ts";

/** What quotedList did before it stopped making an array of every value: the reference it must agree with. */
function quotedListByMapAndJoin(values: readonly string[], max: number): string {
  const shown = values.length > max ? values.slice(0, max) : values;
  const text = shown.map((value) => `"${value}"`).join(", ");
  return values.length > max ? `${text} and ${formatCount(values.length - max)} more` : text;
}

describe("quotedList", () => {
  it("says what map-and-join said, for any list and bound", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 8 }), { maxLength: 30 }), fc.nat(15), (values, max) => {
        expect(quotedList(values, max, (value) => `"${value}"`)).toBe(quotedListByMapAndJoin(values, max));
      }),
      { numRuns: 500 },
    );
  });

  it("a write of 200,000 containers: names the first ten and counts the rest, reading only those ten", () => {
    let read = 0;
    const names = Array.from({ length: 200_000 }, (_, index) => `c${index}`);
    const text = quotedList(names, 10, (name) => {
      read++;
      return `"${name}"`;
    });
    expect(text).toBe(`${quotedListByMapAndJoin(names.slice(0, 10), 10)} and 199,990 more`);
    expect(read).toBe(10);
  });

  it("odd names (empty, quotes, separators) are quoted as they are", () => {
    const names = ["", '"', ", ", "and 3 more"];
    expect(quotedList(names, 10, (name) => `"${name}"`)).toBe(quotedListByMapAndJoin(names, 10));
    expect(quotedList(names, 0, (name) => `"${name}"`)).toBe(" and 4 more");
  });
});

describe("formatCount", () => {
  it("writes counts as en-US does (the cut event's reason used toLocaleString), without loading locale data", () => {
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), (value) => {
        expect(formatCount(value)).toBe(value.toLocaleString("en-US"));
      }),
      { numRuns: 300 },
    );
    expect(formatCount(262_144)).toBe("262,144");
    expect(formatCount(999)).toBe("999");
  });
});
