import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_DEPTH, readJsonPrefix } from "../../functions/core/read-json-prefix.ts";
import { sampleAuditEvents } from "../helpers/mutate-json.ts";

/**
 * The reader of cut audit events: bounded, never throws, and never invents a value. Whatever it reads from a
 * cut text is part of what the whole text says (a "prefix" of the full value): complete members as they are,
 * the containers open at the cut with the members they had, nothing half-read.
 */
function isPrefixOf(partial: unknown, full: unknown): boolean {
  // Nothing read (the text stopped before a value started) is a prefix of anything.
  if (partial === undefined) return true;
  if (Array.isArray(partial)) {
    return (
      Array.isArray(full) &&
      partial.length <= full.length &&
      partial.every((item, index) => isPrefixOf(item, full[index]))
    );
  }
  if (typeof partial === "object" && partial !== null) {
    if (typeof full !== "object" || full === null || Array.isArray(full)) return false;
    const whole = full as Record<string, unknown>;
    return Object.entries(partial).every(
      ([key, value]) => Object.hasOwn(whole, key) && isPrefixOf(value, whole[key]),
    );
  }
  return Object.is(partial, full);
}

function depthOf(value: unknown): number {
  let depth = 0;
  for (let inner = value; Array.isArray(inner); inner = inner[0]) depth++;
  return depth;
}

const samples = sampleAuditEvents().map((event) => JSON.stringify(event));

describe("readJsonPrefix", () => {
  it("reads a complete JSON text completely, as JSON.parse does", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), fc.boolean(), (value, pretty) => {
        const text = JSON.stringify(value, null, pretty ? 2 : undefined);
        const read = readJsonPrefix(text);
        expect(read.complete).toBe(true);
        expect(read.value).toStrictEqual(JSON.parse(text));
        expect(read.readable).toBe(text.length);
      }),
      { numRuns: 300 },
    );
  });

  it("a JSON text cut anywhere reads as a prefix of the whole: nothing invented, nothing half-read", () => {
    fc.assert(
      fc.property(
        // An object or array at the root, as an audit event is: a cut root number ("9" of "9.5") is whole JSON.
        fc
          .oneof(
            fc.array(fc.jsonValue({ maxDepth: 4 })),
            fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 })),
          )
          .chain((value) => {
            const text = JSON.stringify(value);
            return fc.tuple(fc.constant(text), fc.nat({ max: Math.max(0, text.length - 1) }));
          }),
        ([text, cut]) => {
          const read = readJsonPrefix(text.slice(0, cut));
          expect(read.complete).toBe(false);
          expect(read.endOfText).toBe(true);
          expect(read.readable).toBeLessThanOrEqual(cut);
          expect(isPrefixOf(read.value, JSON.parse(text))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("every cut of a real audit event reads as a prefix of it", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: samples.length - 1 }).chain((index) => {
          const text = samples[index] as string;
          return fc.tuple(fc.constant(text), fc.nat({ max: text.length - 1 }));
        }),
        ([text, cut]) => {
          const read = readJsonPrefix(text.slice(0, cut));
          expect(read.complete).toBe(false);
          expect(isPrefixOf(read.value, JSON.parse(text))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never throws on any text, and never reads past it", () => {
    fc.assert(
      // Any UTF-16 code unit, lone surrogates included (fast-check's "binary" unit takes ~50 ms a run to make).
      fc.property(
        fc.string({
          unit: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)),
          maxLength: 300,
        }),
        (text) => {
          const read = readJsonPrefix(text);
          expect(read.readable).toBeLessThanOrEqual(text.length);
        },
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'{}[]":,\\u0aetrfls1-. '), maxLength: 200 }),
        (text) => {
          readJsonPrefix(text);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("leaves out a string, number or literal the text stops inside: a cut SYS_ADMIN is not SYS_AD", () => {
    const cases: Array<[string, unknown]> = [
      ['{"a":1,"cap":"SYS_AD', { a: 1 }],
      ['{"a":1,"uid":10', { a: 1 }],
      ['{"a":1,"n":1.5', { a: 1 }],
      ['{"a":1,"n":1.5e', { a: 1 }],
      ['{"a":1,"n":-', { a: 1 }],
      ['{"a":1,"p":tr', { a: 1 }],
      ['{"a":1,"p":nul', { a: 1 }],
      ['{"a":1,"ke', { a: 1 }],
      ['{"a":1,"k":', { a: 1 }],
      ['{"a":[1,2,{"b":[true', { a: [1, 2, { b: [true] }] }],
    ];
    for (const [text, value] of cases) {
      const read = readJsonPrefix(text);
      expect(read.value, text).toStrictEqual(value);
      expect(read.endOfText, text).toBe(true);
    }
    expect(readJsonPrefix('{"cap":"SYS_AD').cutString).toBe("SYS_AD");
    expect(readJsonPrefix('{"cap":"a\\u00').cutString).toBe("a");
  });

  it("says where the text stopped, from the root", () => {
    const text = JSON.stringify({
      kind: "Event",
      requestObject: { spec: { ephemeralContainers: [{ env: [{ name: "PAD", value: "A".repeat(100) }] }] } },
    });
    const read = readJsonPrefix(text.slice(0, text.indexOf("AAAA") + 9));
    expect(read.stoppedIn).toEqual(["requestObject", "spec", "ephemeralContainers", 0, "env", 0, "value"]);
    expect(read.cutString).toBe("A".repeat(9));
    expect(read.value).toEqual({
      kind: "Event",
      requestObject: { spec: { ephemeralContainers: [{ env: [{ name: "PAD" }] }] } },
    });
  });

  it("stops at what JSON cannot have, keeping what came before", () => {
    const read = readJsonPrefix('{"a":1,"b":[2,3],"c":x,"d":4}');
    expect(read).toMatchObject({
      value: { a: 1, b: [2, 3] },
      complete: false,
      endOfText: false,
      readable: 21,
    });
    expect(readJsonPrefix('{"a":1} trailing').complete).toBe(false);
    expect(readJsonPrefix('{"a":"\\x"}').endOfText).toBe(false);
    expect(readJsonPrefix('{"a":"line\nbreak"}').endOfText).toBe(false);
  });

  it("deep nesting cannot blow the stack: what lies deeper than MAX_DEPTH is skipped, what follows is read", () => {
    const depth = 100_000;
    const deep = `{"a":${"[".repeat(depth)}${"]".repeat(depth)},"b":{"c":"x]}"},"d":1}`;
    const read = readJsonPrefix(deep).value as Record<string, unknown>;
    expect(read).toMatchObject({ b: { c: "x]}" }, d: 1 });
    expect(depthOf(read.a)).toBe(MAX_DEPTH - 1);
    const cut = readJsonPrefix(`{"b":2,"a":${"[".repeat(depth)}`);
    expect(cut).toMatchObject({ value: { b: 2 }, endOfText: true });
    expect(cut.stoppedIn.length).toBeLessThanOrEqual(MAX_DEPTH + 1);
    expect(readJsonPrefix("{".repeat(depth)).complete).toBe(false);
  });

  it("a __proto__ key is an own member, as JSON.parse has it, never the prototype", () => {
    const read = readJsonPrefix('{"__proto__":{"polluted":true},"a":1');
    const value = read.value as Record<string, unknown>;
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
    expect(Object.hasOwn(value, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
