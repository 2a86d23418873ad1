import type { DebugProfile } from "./finding.ts";
import type { ContainerSpec } from "./kubernetes-shapes.ts";

/**
 * The securityContext each `kubectl debug --profile` sets on an ephemeral container (see
 * shared/reference/security-facts.md). legacy and baseline set none, so they cannot be told apart.
 */
const PROFILES: ReadonlyArray<{ profile: DebugProfile; securityContexts: readonly unknown[] }> = [
  { profile: "legacy-or-baseline", securityContexts: [{}] },
  { profile: "general", securityContexts: [{ capabilities: { add: ["SYS_PTRACE"] } }] },
  {
    profile: "restricted",
    securityContexts: [
      {
        runAsNonRoot: true,
        capabilities: { drop: ["ALL"] },
        allowPrivilegeEscalation: false,
        seccompProfile: { type: "RuntimeDefault" },
      },
    ],
  },
  {
    profile: "netadmin",
    // NET_RAW was added in kubectl 1.29.
    securityContexts: [
      { capabilities: { add: ["NET_ADMIN", "NET_RAW"] } },
      { capabilities: { add: ["NET_ADMIN"] } },
    ],
  },
  { profile: "sysadmin", securityContexts: [{ privileged: true }] },
];

type JsonRecord = Record<string, unknown>;

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Nesting of empty objects looked through before a value counts as not empty. kubectl sends at most `{}`
 * inside a field; the API server accepts 10,000 levels, and recursing through them overflowed the stack and
 * failed the whole delivery.
 */
const MAX_EMPTY_SHAPE_DEPTH = 8;

/** An object that is empty once its empty objects are removed: it stands for an absent field. */
function isEmptyShape(value: unknown, depth = 0): boolean {
  if (!isRecord(value) || depth === MAX_EMPTY_SHAPE_DEPTH) return false;
  for (const key in value)
    if (Object.hasOwn(value, key) && !isEmptyShape(value[key], depth + 1)) return false;
  return true;
}

/**
 * Whether `value` equals `form` once empty objects are removed from `value`, so `{}` and an absent field
 * compare equal; key order does not matter. `form` is one of the profiles above, which are written without
 * empty objects (except the whole `{}`). A direct walk with plain loops rather than comparing canonical JSON
 * strings or using Object.keys and callbacks: this runs for every container kubectl sends, and each of those
 * allocated on every call (npm run bench).
 */
function sameShape(value: unknown, form: unknown): boolean {
  if (Array.isArray(form)) {
    if (!Array.isArray(value) || value.length !== form.length) return false;
    for (let index = 0; index < form.length; index++) if (!sameShape(value[index], form[index])) return false;
    return true;
  }
  if (!isRecord(form)) return value === form;
  if (!isRecord(value)) return false;
  for (const key in form) {
    if (!sameShape(Object.hasOwn(value, key) ? value[key] : undefined, form[key])) return false;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const inner = value[key];
    // JSON has no undefined; a JS caller's undefined field is absent, as JSON.stringify would have it.
    if (!Object.hasOwn(form, key) && inner !== undefined && !isEmptyShape(inner)) return false;
  }
  return true;
}

/**
 * kubectl always sends `terminationMessagePolicy: "File"` and `resources: {}`; a container without them was
 * not made by kubectl debug, whatever its securityContext.
 */
function hasKubectlMarkers(container: ContainerSpec): boolean {
  const resources = container.resources;
  return container.terminationMessagePolicy === "File" && isRecord(resources) && !hasOwnKeys(resources);
}

function hasOwnKeys(value: JsonRecord): boolean {
  for (const key in value) if (Object.hasOwn(value, key)) return true;
  return false;
}

export function matchDebugProfile(container: ContainerSpec): DebugProfile {
  if (!hasKubectlMarkers(container)) return "none";
  const securityContext = container.securityContext ?? {};
  for (const entry of PROFILES) {
    for (const form of entry.securityContexts) if (sameShape(securityContext, form)) return entry.profile;
  }
  return "none";
}

export function describeProfile(profile: DebugProfile): string {
  switch (profile) {
    case "legacy-or-baseline":
      return "kubectl debug profile legacy or baseline (no securityContext)";
    case "none":
      return "matches no kubectl debug profile (hand-crafted API call or --custom securityContext)";
    default:
      return `kubectl debug --profile=${profile}`;
  }
}
