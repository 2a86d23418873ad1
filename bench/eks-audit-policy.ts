import type { JsonObject } from "./make-events.ts";

/**
 * The audit policy Amazon EKS runs its API servers with (published in the EKS Best Practices Guide, "Auditing
 * and logging"), as a table of rules: the first rule that matches a request decides its level. The bench's
 * traffic is generated at full detail and then logged through this table, so that what the detector reads is
 * what EKS writes: reads and node or pod status writes without their response bodies, Secrets and ConfigMaps
 * as metadata, core Events not at all. Every rule omits the RequestReceived stage, as EKS's does.
 *
 * Levels: None (not logged), Metadata (no bodies), Request (requestObject, no responseObject),
 * RequestResponse (both bodies).
 */

export type AuditLevel = "None" | "Metadata" | "Request" | "RequestResponse";

interface PolicyRule {
  level: AuditLevel;
  /** What the rule says, for bench/README.md and for anyone checking it against the published policy. */
  why: string;
  users?: readonly string[];
  userGroups?: readonly string[];
  verbs?: readonly string[];
  namespaces?: readonly string[];
  /** API group (`""` is the core group) to resources (`pods`, `pods/status`); an empty list means all. */
  resources?: ReadonlyArray<{ group: string; resources?: readonly string[]; names?: readonly string[] }>;
  nonResourceURLs?: readonly string[];
}

/** The API groups EKS's policy logs with bodies; any other group (coordination, discovery, …) falls to Metadata. */
const KNOWN_GROUPS = [
  "",
  "admissionregistration.k8s.io",
  "apiextensions.k8s.io",
  "apiregistration.k8s.io",
  "apps",
  "authentication.k8s.io",
  "authorization.k8s.io",
  "autoscaling",
  "batch",
  "certificates.k8s.io",
  "extensions",
  "metrics.k8s.io",
  "networking.k8s.io",
  "policy",
  "rbac.authorization.k8s.io",
  "scheduling.k8s.io",
  "settings.k8s.io",
  "storage.k8s.io",
].map((group) => ({ group }));

const core = (...resources: string[]) => [{ group: "", resources }];

export const EKS_AUDIT_POLICY: readonly PolicyRule[] = [
  {
    level: "RequestResponse",
    why: "changes to the aws-auth ConfigMap, in full",
    namespaces: ["kube-system"],
    verbs: ["update", "patch", "delete"],
    resources: [{ group: "", resources: ["configmaps"], names: ["aws-auth"] }],
  },
  {
    level: "None",
    why: "kube-proxy's watches of endpoints and services",
    users: ["system:kube-proxy"],
    verbs: ["watch"],
    resources: core("endpoints", "services", "services/status"),
  },
  {
    level: "None",
    why: "kubelets reading their nodes",
    users: ["kubelet"],
    verbs: ["get"],
    resources: core("nodes", "nodes/status"),
  },
  {
    level: "None",
    why: "kubelets reading their nodes",
    userGroups: ["system:nodes"],
    verbs: ["get"],
    resources: core("nodes", "nodes/status"),
  },
  {
    level: "None",
    why: "controllers reading and updating kube-system endpoints",
    users: [
      "system:kube-controller-manager",
      "system:kube-scheduler",
      "system:serviceaccount:kube-system:endpoint-controller",
    ],
    verbs: ["get", "update"],
    namespaces: ["kube-system"],
    resources: core("endpoints"),
  },
  {
    level: "None",
    why: "the API server reading namespaces",
    users: ["system:apiserver"],
    verbs: ["get"],
    resources: core("namespaces", "namespaces/status", "namespaces/finalize"),
  },
  {
    level: "None",
    why: "the controller manager reading metrics",
    users: ["system:kube-controller-manager"],
    verbs: ["get", "list"],
    resources: [{ group: "metrics.k8s.io" }],
  },
  {
    level: "None",
    why: "health and version checks",
    nonResourceURLs: ["/healthz*", "/version", "/swagger*"],
  },
  { level: "None", why: "core Events", resources: core("events") },
  {
    level: "Request",
    why: "node and pod status updates by kubelets and the node problem detector",
    users: [
      "kubelet",
      "system:node-problem-detector",
      "system:serviceaccount:kube-system:node-problem-detector",
    ],
    verbs: ["update", "patch"],
    resources: core("nodes/status", "pods/status"),
  },
  {
    level: "Request",
    why: "node and pod status updates by kubelets",
    userGroups: ["system:nodes"],
    verbs: ["update", "patch"],
    resources: core("nodes/status", "pods/status"),
  },
  {
    level: "Request",
    why: "the namespace controller's deletecollection",
    users: ["system:serviceaccount:kube-system:namespace-controller"],
    verbs: ["deletecollection"],
  },
  {
    level: "Metadata",
    why: "Secrets, ConfigMaps and TokenReviews: never their contents",
    resources: [
      { group: "", resources: ["secrets", "configmaps"] },
      { group: "authentication.k8s.io", resources: ["tokenreviews"] },
    ],
  },
  { level: "Request", why: "service account token requests", resources: core("serviceaccounts/token") },
  {
    level: "Request",
    why: "reads of the known API groups: get responses can be large",
    verbs: ["get", "list", "watch"],
    resources: KNOWN_GROUPS,
  },
  { level: "RequestResponse", why: "every other request to the known API groups", resources: KNOWN_GROUPS },
  { level: "Metadata", why: "everything else (coordination.k8s.io leases, discovery.k8s.io, …)" },
];

/** What a rule needs to know of a request: the audit event's own fields. */
interface RequestFacts {
  username: string;
  groups: readonly string[];
  verb: string;
  namespace?: string;
  group?: string;
  /** `pods`, or `pods/status` for a subresource. */
  resource?: string;
  name?: string;
  path: string;
}

function facts(event: JsonObject): RequestFacts {
  const user = event.user as JsonObject;
  const ref = event.objectRef as JsonObject | undefined;
  const resource = ref?.resource as string | undefined;
  const subresource = ref?.subresource as string | undefined;
  const out: RequestFacts = {
    username: user.username as string,
    groups: (user.groups as string[] | undefined) ?? [],
    verb: event.verb as string,
    path: (event.requestURI as string).replace(/\?.*$/, ""),
  };
  if (ref) {
    out.group = (ref.apiGroup as string | undefined) ?? "";
    if (resource) out.resource = subresource ? `${resource}/${subresource}` : resource;
    if (ref.namespace !== undefined) out.namespace = ref.namespace as string;
    if (ref.name !== undefined) out.name = ref.name as string;
  }
  return out;
}

function glob(pattern: string, text: string): boolean {
  return pattern.endsWith("*") ? text.startsWith(pattern.slice(0, -1)) : text === pattern;
}

function matches(rule: PolicyRule, request: RequestFacts): boolean {
  if (rule.users && !rule.users.includes(request.username)) return false;
  if (rule.userGroups && !rule.userGroups.some((group) => request.groups.includes(group))) return false;
  if (rule.verbs && !rule.verbs.includes(request.verb)) return false;
  if (rule.nonResourceURLs) {
    return request.resource === undefined && rule.nonResourceURLs.some((url) => glob(url, request.path));
  }
  if (rule.namespaces && !(request.namespace && rule.namespaces.includes(request.namespace))) return false;
  if (rule.resources) {
    if (request.resource === undefined) return false;
    const resource = request.resource;
    return rule.resources.some(
      (entry) =>
        entry.group === request.group &&
        (entry.resources === undefined || entry.resources.includes(resource)) &&
        (entry.names === undefined || (request.name !== undefined && entry.names.includes(request.name))),
    );
  }
  return true;
}

export function policyLevel(event: JsonObject): AuditLevel {
  const request = facts(event);
  return EKS_AUDIT_POLICY.find((rule) => matches(rule, request))?.level ?? "None";
}

/**
 * The event as EKS logs it, or undefined when the policy drops it: bodies removed below RequestResponse, level
 * set to what the policy gives.
 */
export function logged(event: JsonObject): JsonObject | undefined {
  const level = policyLevel(event);
  if (level === "None") return undefined;
  const out: JsonObject = { ...event, level };
  if (level !== "RequestResponse") delete out.responseObject;
  if (level === "Metadata") delete out.requestObject;
  return out;
}
