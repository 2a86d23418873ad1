import type { ActorKind } from "./finding.ts";

export interface Identity {
  username: string;
  groups: readonly string[];
}

const ANONYMOUS_USER = "system:anonymous";
const UNAUTHENTICATED_GROUP = "system:unauthenticated";

/** Most specific first: the first match names the kind. */
const ACTOR_KINDS: ReadonlyArray<{ kind: ActorKind; matches: (identity: Identity) => boolean }> = [
  {
    kind: "anonymous",
    matches: (i) => i.username === ANONYMOUS_USER || i.groups.includes(UNAUTHENTICATED_GROUP),
  },
  { kind: "serviceaccount", matches: (i) => i.username.startsWith("system:serviceaccount:") },
  { kind: "node", matches: (i) => i.username.startsWith("system:node:") },
  { kind: "system", matches: (i) => i.username.startsWith("system:") || i.username.startsWith("eks:") },
];

export function actorKind(identity: Identity): ActorKind {
  return ACTOR_KINDS.find((entry) => entry.matches(identity))?.kind ?? "user";
}

/** Glob with `*` only (any run of characters), anchored at both ends. */
export function matchesPattern(value: string, pattern: string): boolean {
  if (!pattern.includes("*")) return value === pattern;
  const parts = pattern.split("*");
  const first = parts[0] ?? "";
  const last = parts[parts.length - 1] ?? "";
  if (!value.startsWith(first) || value.length < first.length + last.length || !value.endsWith(last))
    return false;
  let cursor = first.length;
  for (const middle of parts.slice(1, -1)) {
    const found = value.indexOf(middle, cursor);
    if (found === -1 || found + middle.length > value.length - last.length) return false;
    cursor = found + middle.length;
  }
  return true;
}

export function matchesAny(value: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => matchesPattern(value, pattern));
}

/** kubectl's client-go user agent: `kubectl/v1.30.2 (linux/amd64) kubernetes/abc1234` (or kubectl.exe). */
export function isKubectlUserAgent(userAgent: string | undefined): boolean {
  return userAgent !== undefined && /^kubectl(\.exe)?\//.test(userAgent);
}
