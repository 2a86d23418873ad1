import { createHash } from "node:crypto";
import type { Omitted } from "./finding.ts";
import { isRecord } from "./is-record.ts";
import { formatCount } from "./rule-hits.ts";

/**
 * Bounds on what a finding copies from the audit event. Whoever writes ephemeral containers controls most of
 * that event: how many containers, how long each string, how deep each object. A finding copies at most these,
 * so that whatever they send it stays a few KB to a few tens of KB, and says what it left out (`omitted`).
 * finding-json.ts shrinks further, step by step, when even that would not fit one message.
 */
export const FINDING_LIMITS = {
  /** Added containers a finding lists; the riskiest are chosen (the level is decided over all of them). */
  containers: 20,
  /** Reasons, strongest first; the rest are counted. */
  reasons: 40,
  /** Names, uids, usernames, groups: Kubernetes names are at most 253 characters. */
  name: 256,
  /** Image references: registry, repository, tag and digest. */
  image: 512,
  /** Free text: reason texts, response messages, request URIs, annotations, ARNs, user agents. */
  text: 1_024,
  /** Items of one list: groups, source IPs, command arguments, mounts, risky fields. */
  items: 20,
  /** A securityContext copy: levels of objects and lists, securityContext itself the first (real fields need 3). */
  securityContextDepth: 4,
  /** A securityContext copy: values in all, objects and arrays included. */
  securityContextValues: 64,
  /** Distinct `omitted.paths` listed. */
  paths: 20,
} as const;

/** The sentences `omitted.why` is made of: one per limit that applied. */
export const WHY = {
  containers: `more added containers than a finding lists (${FINDING_LIMITS.containers}): the riskiest are listed, all were scored`,
  reasons: "more reasons than a finding lists: the strongest are listed, all were scored",
  values: "values longer, or lists longer, than a finding copies from the audit event",
  nesting: `securityContext deeper than ${FINDING_LIMITS.securityContextDepth} levels or larger than ${FINDING_LIMITS.securityContextValues} values: copied only that far`,
  message: (maxBytes: number) =>
    `the finding had to fit one message of ${formatCount(Math.floor(maxBytes / 1024))} KB: it was shortened further`,
} as const;

/** Sentences in `omitted.why`: one per kind of limit, and there are five. */
const MAX_WHY = 8;
/** An `omitted.paths` entry: a field path such as `actor.impersonatedUser.groups`. */
const MAX_PATH = 64;

/** `value` cut to at most `max` UTF-16 units, ending in "…", never between the halves of a surrogate pair. */
export function cutText(value: string, max: number): string {
  if (value.length <= max) return value;
  let end = Math.max(0, max - 1);
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  // In V8 a slice of a string keeps the whole string alive; flattening " " + slice and dropping the space
  // copies just the part kept, so a finding never holds on to a megabyte-long username it cut.
  return ` ${value.slice(0, end)}…`.slice(1);
}

/**
 * An identifier cut to at most `max` characters, keeping it distinct: a cut one ends in a digest of the whole,
 * so two long identifiers that share a prefix still differ (the idempotency key is made from the auditID, and
 * kube-apiserver takes the auditID from the client's Audit-ID header when one is sent).
 */
export function cutIdentifier(value: string, max: number): string {
  if (value.length <= max) return value;
  const digest = createHash("sha256").update(value).digest("hex").slice(0, 32);
  return `${cutText(value, max - digest.length - 1)}#${digest}`;
}

/**
 * Whether every value is at most `maxLength` long. A loop rather than every() with a callback: a finding
 * checks six or so lists this way, and the closure was made anew for each (~12,000 a filtered bench pass).
 */
function allWithin(values: readonly string[], maxLength: number): boolean {
  for (let i = 0; i < values.length; i++) if ((values[i] as string).length > maxLength) return false;
  return true;
}

/** What a finding leaves out, collected while it is built or shrunk; `result()` is its `omitted` field. */
export class Omissions {
  containers = 0;
  reasons = 0;
  fields = 0;
  // Made on the first omission: most findings leave nothing out, and this runs for every one.
  private paths: Set<string> | undefined;
  private why: Set<string> | undefined;

  constructor(previous?: Omitted) {
    if (!previous) return;
    this.containers = previous.containers;
    this.reasons = previous.reasons;
    this.fields = previous.fields;
    for (const path of previous.paths.slice(0, FINDING_LIMITS.paths)) this.addPath(cutText(path, MAX_PATH));
    for (const why of previous.why.slice(0, MAX_WHY)) this.addWhy(cutText(why, FINDING_LIMITS.name));
  }

  private addPath(path: string): void {
    this.paths ??= new Set();
    if (this.paths.size < FINDING_LIMITS.paths) this.paths.add(path);
  }

  private addWhy(why: string): void {
    this.why ??= new Set();
    this.why.add(why);
  }

  leftOutContainers(count: number, why: string = WHY.containers): void {
    if (count <= 0) return;
    this.containers += count;
    this.addWhy(why);
  }

  leftOutReasons(count: number, why: string = WHY.reasons): void {
    if (count <= 0) return;
    this.reasons += count;
    this.addWhy(why);
  }

  /** One value at `path` was shortened or dropped. */
  shortened(path: string, why: string = WHY.values): void {
    this.fields++;
    this.addPath(path);
    this.addWhy(why);
  }

  text(value: string, max: number, path: string, why?: string): string {
    if (value.length <= max) return value;
    this.shortened(path, why);
    return cutText(value, max);
  }

  optionalText(value: string | undefined, max: number, path: string, why?: string): string | undefined {
    return value === undefined ? undefined : this.text(value, max, path, why);
  }

  /** The first `maxItems` of `values`, each cut to `maxLength`; `values` itself when nothing needs cutting. */
  texts(
    values: readonly string[],
    maxItems: number,
    maxLength: number,
    path: string,
    why?: string,
  ): string[] {
    if (values.length <= maxItems && allWithin(values, maxLength)) return values as string[];
    const out: string[] = [];
    const count = Math.min(values.length, maxItems);
    for (let i = 0; i < count; i++) out.push(this.text(values[i] as string, maxLength, `${path}[]`, why));
    if (values.length > maxItems) this.shortened(path, why);
    return out;
  }

  result(): Omitted | undefined {
    if (this.containers === 0 && this.reasons === 0 && this.fields === 0) return undefined;
    return {
      containers: this.containers,
      reasons: this.reasons,
      fields: this.fields,
      paths: [...(this.paths ?? [])],
      why: [...(this.why ?? [])],
    };
  }
}

const CUT: unique symbol = Symbol("cut");

interface CopyBudget {
  values: number;
  cut: boolean;
}

/**
 * A copy of a JSON value at most `depth` levels deep: the recursion is bounded by `depth`, never by the input,
 * so a value nested 10,000 levels (the API server accepts that) can neither overflow the stack here nor later
 * in JSON.stringify. Lists and objects keep their first FINDING_LIMITS.items entries, strings are cut to
 * FINDING_LIMITS.name, keys too.
 */
function copyJson(value: unknown, depth: number, budget: CopyBudget): unknown {
  if (budget.values <= 0) {
    budget.cut = true;
    return CUT;
  }
  budget.values--;
  if (typeof value === "string") {
    if (value.length > FINDING_LIMITS.name) budget.cut = true;
    return cutText(value, FINDING_LIMITS.name);
  }
  if (typeof value === "number" || typeof value === "boolean" || value === null) return value;
  if (typeof value !== "object" || depth === 0) {
    budget.cut = true;
    return CUT;
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) {
      if (i === FINDING_LIMITS.items) {
        budget.cut = true;
        break;
      }
      const item = copyJson(value[i], depth - 1, budget);
      if (item !== CUT) out.push(item);
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  let entries = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (entries === FINDING_LIMITS.items) {
      budget.cut = true;
      break;
    }
    entries++;
    const item = copyJson((value as Record<string, unknown>)[key], depth - 1, budget);
    if (item === CUT) continue;
    if (key.length > FINDING_LIMITS.name) budget.cut = true;
    const name = cutText(key, FINDING_LIMITS.name);
    // A JSON key "__proto__" is data; assigned, it would set the copy's prototype instead.
    if (name === "__proto__") {
      Object.defineProperty(out, name, { value: item, enumerable: true, writable: true, configurable: true });
    } else out[name] = item;
  }
  return out;
}

/**
 * A bounded copy of a container's securityContext as the request sent it (unknown fields included, so a
 * reader sees what was tried), or undefined when it is not an object.
 */
export function boundedSecurityContext(
  value: unknown,
  omissions: Omissions,
  path: string,
): Record<string, unknown> | undefined {
  if (!isRecord(value)) return undefined;
  const budget: CopyBudget = { values: FINDING_LIMITS.securityContextValues, cut: false };
  const copy = copyJson(value, FINDING_LIMITS.securityContextDepth, budget);
  if (budget.cut) omissions.shortened(path, WHY.nesting);
  return isRecord(copy) ? copy : {};
}
