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
  for (const entry of ACTOR_KINDS) if (entry.matches(identity)) return entry.kind;
  return "user";
}

/** Whether value[at, at + length) equals pattern[from, from + length), compared in place. */
function sameAt(value: string, at: number, pattern: string, from: number, length: number): boolean {
  for (let i = 0; i < length; i++) {
    if (value.charCodeAt(at + i) !== pattern.charCodeAt(from + i)) return false;
  }
  return true;
}

/**
 * Glob with `*` only (any run of characters), anchored at both ends. Compares in place rather than splitting
 * the pattern: this runs for every exclusion and trusted-debugger pattern on every write, and the split's
 * arrays and strings were ~2% of a filtered pass's allocations (npm run bench).
 */
export function matchesPattern(value: string, pattern: string): boolean {
  const firstStar = pattern.indexOf("*");
  if (firstStar === -1) return value === pattern;
  const lastStar = pattern.lastIndexOf("*");
  const suffixLength = pattern.length - lastStar - 1;
  const limit = value.length - suffixLength;
  if (
    limit < firstStar ||
    !sameAt(value, 0, pattern, 0, firstStar) ||
    !sameAt(value, limit, pattern, lastStar + 1, suffixLength)
  ) {
    return false;
  }
  // Each middle segment, leftmost first, must fit between the prefix and the suffix.
  let cursor = firstStar;
  for (let star = firstStar; star < lastStar; ) {
    const next = pattern.indexOf("*", star + 1);
    if (next > star + 1) {
      const found = value.indexOf(pattern.slice(star + 1, next), cursor);
      if (found === -1 || found + (next - star - 1) > limit) return false;
      cursor = found + (next - star - 1);
    }
    star = next;
  }
  return true;
}

/** Loops rather than callbacks here and below: a closure per call on every write showed in allocation profiles. */
export function matchesAny(value: string, patterns: readonly string[]): boolean {
  for (const pattern of patterns) if (matchesPattern(value, pattern)) return true;
  return false;
}

/** Whether any of `values` matches any of `patterns`. */
export function anyMatchesAny(values: readonly string[], patterns: readonly string[]): boolean {
  if (patterns.length === 0) return false;
  for (const value of values) if (matchesAny(value, patterns)) return true;
  return false;
}

/** kubectl's client-go user agent: `kubectl/v1.30.2 (linux/amd64) kubernetes/abc1234` (or kubectl.exe). */
export function isKubectlUserAgent(userAgent: string | undefined): boolean {
  return (
    userAgent !== undefined && (userAgent.startsWith("kubectl/") || userAgent.startsWith("kubectl.exe/"))
  );
}
