import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { EVENTS_DIR } from "./events.ts";

/** Every sample audit event in events/audit, parsed: the seeds of the mutation-based property tests. */
export function sampleAuditEvents(): unknown[] {
  const dir = join(EVENTS_DIR, "audit");
  return readdirSync(dir)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => JSON.parse(readFileSync(join(dir, name), "utf8")) as unknown);
}

export type JsonPath = Array<string | number>;

/** Every path into a JSON value, so that a mutation can hit any field of a real event. */
export function jsonPaths(value: unknown, prefix: JsonPath = []): JsonPath[] {
  if (Array.isArray(value)) return [prefix, ...value.flatMap((item, i) => jsonPaths(item, [...prefix, i]))];
  if (typeof value === "object" && value !== null) {
    return [prefix, ...Object.entries(value).flatMap(([key, item]) => jsonPaths(item, [...prefix, key]))];
  }
  return [prefix];
}

/**
 * A copy of `value` with the field at `path` replaced by `replacement`, or removed (object members only). Only
 * the objects along the path are copied; the rest is shared with `value`, which is never changed.
 */
export function withFieldAt(value: unknown, path: JsonPath, replacement: unknown, remove: boolean): unknown {
  if (path.length === 0) return replacement;
  const [key, ...rest] = path as [string | number, ...JsonPath];
  const parent = value as Record<string | number, unknown>;
  const copy = (Array.isArray(parent) ? [...parent] : { ...parent }) as Record<string | number, unknown>;
  if (rest.length > 0) copy[key] = withFieldAt(parent[key], rest, replacement, remove);
  else if (remove && !Array.isArray(copy)) delete copy[key];
  else copy[key] = replacement;
  return copy;
}

/** A real sample event with one field, anywhere in it, replaced by an arbitrary JSON value or removed. */
export function mutatedSample(seeds: readonly unknown[], replacementDepth: number): fc.Arbitrary<unknown> {
  const cases = seeds.map((seed) => ({ seed, paths: jsonPaths(seed) }));
  return fc
    .nat({ max: cases.length - 1 })
    .chain((index) => {
      const entry = cases[index] as (typeof cases)[number];
      return fc.tuple(
        fc.constant(entry.seed),
        // An index rather than constantFrom(...paths): that builds an arbitrary of thousands of paths per run.
        fc.nat({ max: entry.paths.length - 1 }).map((at) => entry.paths[at] as JsonPath),
        fc.jsonValue({ maxDepth: replacementDepth }),
        fc.boolean(),
      );
    })
    .map(([seed, path, replacement, remove]) => withFieldAt(seed, path, replacement, remove));
}
