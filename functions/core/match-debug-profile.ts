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

/** JSON with sorted keys and empty objects removed, so `{}` and an absent field compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(prune(value)) ?? "null";
}

function prune(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(prune);
  if (typeof value !== "object" || value === null) return value;
  const entries = Object.entries(value)
    .map(([key, inner]) => [key, prune(inner)] as const)
    .filter(
      ([, inner]) =>
        !(
          typeof inner === "object" &&
          inner !== null &&
          !Array.isArray(inner) &&
          Object.keys(inner).length === 0
        ),
    )
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries);
}

const CANONICAL_PROFILES = PROFILES.map(({ profile, securityContexts }) => ({
  profile,
  forms: new Set(securityContexts.map(canonical)),
}));

/**
 * kubectl always sends `terminationMessagePolicy: "File"` and `resources: {}`; a container without them was
 * not made by kubectl debug, whatever its securityContext.
 */
function hasKubectlMarkers(container: ContainerSpec): boolean {
  const resources = container.resources;
  const emptyResources =
    typeof resources === "object" &&
    resources !== null &&
    !Array.isArray(resources) &&
    Object.keys(resources).length === 0;
  return container.terminationMessagePolicy === "File" && emptyResources;
}

export function matchDebugProfile(container: ContainerSpec): DebugProfile {
  if (!hasKubectlMarkers(container)) return "none";
  const form = canonical(container.securityContext ?? {});
  return CANONICAL_PROFILES.find((entry) => entry.forms.has(form))?.profile ?? "none";
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
