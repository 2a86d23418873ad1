import type { ActorKind, DebugProfile, Owner } from "./finding.ts";
import type { ContainerSpec, PodSecurityContext, SecurityContext } from "./kubernetes-shapes.ts";
import type { Outcome } from "./outcome.ts";

/**
 * Everything the rules may look at, extracted once from an audit event by `extract-write-facts.ts`.
 * Rules never read JSON: if a rule needs something new, it is added here first.
 */
export type MountKind = "service-account-token" | "secret" | "host-path" | "other" | "unknown";

export interface MountFact {
  volume: string;
  mountPath?: string;
  kind: MountKind;
  /**
   * For a service-account token minted for someone other than the Kubernetes API: its audience, e.g.
   * `sts.amazonaws.com` (IRSA) or `pods.eks.amazonaws.com` (EKS Pod Identity), which trade it for AWS credentials.
   */
  audience?: string;
}

export interface ContainerFacts {
  spec: ContainerSpec;
  /** The container's own securityContext, parsed; undefined when it sets none. */
  securityContext: SecurityContext | undefined;
  /**
   * The pod's spec.securityContext (from the stored pod or an update's body), whose runAsUser, runAsGroup,
   * runAsNonRoot, seccompProfile, appArmorProfile, seLinuxOptions and windowsOptions.hostProcess the container
   * runs with wherever it sets none of its own; undefined when the pod spec was not logged or sets none. Rules
   * score the effective value (container over pod) and say which one it was.
   */
  podSecurityContext?: PodSecurityContext;
  /** Added capabilities, upper-cased with any `CAP_` prefix removed (the runtime accepts both). */
  addedCapabilities: string[];
  mounts: MountFact[];
  /** Names of Secrets read through env valueFrom.secretKeyRef or envFrom.secretRef. */
  secretEnv: string[];
  profile: DebugProfile;
}

export interface IdentityFacts {
  username: string;
  groups: string[];
  uid?: string;
  kind: ActorKind;
}

export type BodyShape =
  | "strategic-merge-patch"
  | "json-patch"
  | "merge-patch"
  | "pod"
  | "ephemeral-containers-object"
  | "not-logged"
  | "unrecognised";

/**
 * Where a write's containers were read from when its body did not say which ones it added:
 * - stored-pod: the stored pod's ephemeral containers that have no status yet (the ones this write made);
 * - all-listed: new and old could not be told apart, so every container the event shows is reported;
 * - unknown: the body does not say and no pod was logged, so none could be reported.
 */
export type ContainerSource = "stored-pod" | "all-listed" | "unknown";

/** What could be read of an audit event that arrived cut mid-JSON (over CloudWatch Logs' event size limit). */
export interface CutFacts {
  /** Characters read before the event broke off. */
  readable: number;
  /** The event's length as delivered, in characters. */
  length: number;
  /** Where it broke off: `requestObject.spec.ephemeralContainers[0].env[0].value` ("" between top-level fields). */
  inside: string;
  /** Whether the text ended there (cut) rather than going on with something that is not JSON. */
  endOfText: boolean;
  /** The top-level field the event broke off inside, when it did (`requestObject`): read only in part. */
  openField: string | undefined;
  /** Event fields written after the break and not read (`userAgent`, `annotations`, …): unknown, not absent. */
  unseen: ReadonlySet<string>;
  /** Whether the response status (and so the outcome) was cut off before its code. */
  statusCut: boolean;
}

export interface WriteFacts {
  auditID: string;
  /** What tells this event from another with the same auditID, which a client can choose (event-key.ts). */
  occurrence?: string;
  verb: string;
  time: string;
  requestURI?: string;
  logGroup?: string;
  cluster?: string;
  /** The AWS account that owns the cluster's log group, when the delivery said (aws-origin.ts). */
  account?: string;
  region?: string;
  /** `arn:<partition>:eks:<region>:<account>:cluster/<name>`: the cluster across accounts, when all are known. */
  clusterArn?: string;
  actor: IdentityFacts & {
    sourceIPs: string[];
    userAgent?: string;
    arn?: string;
    sessionName?: string;
  };
  impersonatedUser?: IdentityFacts;
  namespace: string;
  podName: string;
  outcome: Outcome;
  responseCode?: number;
  responseMessage?: string;
  authorizationDecision?: string;
  authorizationReason?: string;
  podSecurityEnforcePolicy?: string;
  podSecurityAuditViolations?: string;
  /** False at Metadata level or when the audit backend truncated the bodies. */
  bodyLogged: boolean;
  bodyTruncated: boolean;
  bodyShape: BodyShape;
  containers: ContainerFacts[];
  /**
   * Absent when the body said which containers the write added. Otherwise where `containers` came from and,
   * for a body that hides them, why (`a JSON Patch "replace" to "/spec"`).
   */
  containersFrom?: { source: ContainerSource; because: string | undefined };
  /** Present when the event arrived cut mid-JSON: everything here is what its readable part shows. */
  cut?: CutFacts;
  pod: {
    uid?: string;
    owner?: Owner;
    serviceAccountName?: string;
    hostNetwork: boolean;
    hostPID: boolean;
    hostIPC: boolean;
    static: boolean;
    /** True when the pod's volume list was logged, so mount kinds are known rather than guessed. */
    volumesKnown: boolean;
  };
}
