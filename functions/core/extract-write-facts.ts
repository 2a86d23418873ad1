import type { AuditEvent, UserInfo } from "./audit-event-schema.ts";
import { type AwsOrigin, clusterArn } from "./aws-origin.ts";
import { actorKind, isKubectlUserAgent } from "./classify-identity.ts";
import type { Owner } from "./finding.ts";
import { isRecord } from "./is-record.ts";
import {
  type ContainerSpec,
  JsonPatchOperationSchema,
  type Pod,
  type PodSecurityContext,
  type Volume,
} from "./kubernetes-shapes.ts";
import { clusterFromLogGroup } from "./log-record.ts";
import { matchDebugProfile } from "./match-debug-profile.ts";
import { classifyOutcome, type Outcome } from "./outcome.ts";
import { readContainerSpec, readPod, readSecurityContext } from "./read-kubernetes-shapes.ts";
import type {
  BodyShape,
  ContainerFacts,
  ContainerSource,
  CutFacts,
  IdentityFacts,
  MountFact,
  MountKind,
  WriteFacts,
} from "./write-facts.ts";

/** The one module that knows where things live in an audit event and its bodies. */

const DECISION = "authorization.k8s.io/decision";
const AUTHZ_REASON = "authorization.k8s.io/reason";
const PSA_ENFORCE = "pod-security.kubernetes.io/enforce-policy";
const PSA_AUDIT = "pod-security.kubernetes.io/audit-violations";
const TRUNCATED = "audit.k8s.io/truncated";
const MIRROR_POD = "kubernetes.io/config.mirror";
const TOKEN_VOLUME_PREFIX = "kube-api-access-";
/** The token volumes EKS injects for AWS credentials, recognised by name when the pod spec was not logged. */
const AWS_TOKEN_VOLUMES: ReadonlyMap<string, string> = new Map([
  ["aws-iam-token", "sts.amazonaws.com"],
  ["eks-pod-identity-token", "pods.eks.amazonaws.com"],
]);
/** Secrets Store CSI driver (AWS Secrets Manager / Parameter Store on EKS): its volumes hold secrets. */
const SECRETS_STORE_CSI_DRIVER = "secrets-store.csi.k8s.io";
const EPHEMERAL_PATHS = /^\/(spec\/)?ephemeralContainers(\/(-|\d+))?$/;
/**
 * Any other path into the list (`…/ephemeralContainers/0/securityContext`, …) or above it (the whole document,
 * `/spec`): what such an operation does to the list depends on the pod it is applied to. Paths elsewhere in the
 * pod cannot add a container: the subresource keeps only changes to spec.ephemeralContainers.
 */
const PATHS_INTO_OR_ABOVE_THE_LIST = /^(\/spec)?(\/ephemeralContainers(\/.*)?)?$/;
const JSON_PATCH_WRITES = new Set(["add", "replace", "copy", "move"]);
/** Attacker-chosen paths are quoted in reasons: bounded. */
const MAX_QUOTED_PATH = 120;

function identity(user: UserInfo): IdentityFacts {
  const facts: IdentityFacts = {
    username: user.username,
    groups: user.groups ?? [],
    kind: actorKind({ username: user.username, groups: user.groups ?? [] }),
  };
  if (user.uid) facts.uid = user.uid;
  return facts;
}

function parsePod(value: unknown): Pod | undefined {
  // A failed write's responseObject is a Status: it must not hide the pod the request body carried (update).
  if (!isRecord(value) || value.kind === "Status") return undefined;
  const parsed = readPod(value);
  return parsed.success ? parsed.data : undefined;
}

/** A raw container entry from a body; entries without a name are not containers the server would accept. */
function parseContainer(value: unknown): ContainerSpec | undefined {
  const parsed = readContainerSpec(value);
  return parsed.success ? parsed.data : undefined;
}

function containersFromList(value: unknown): ContainerSpec[] {
  const containers: ContainerSpec[] = [];
  if (!Array.isArray(value)) return containers;
  for (const entry of value) {
    const container = parseContainer(entry);
    if (container) containers.push(container);
  }
  return containers;
}

interface BodyReading {
  shape: BodyShape;
  containers: ContainerSpec[];
  /** Whether the containers listed are the whole list (update, merge patch) rather than only the new ones. */
  wholeList: boolean;
  /**
   * Why the body alone does not say which containers the write added, when it does not: a JSON Patch that
   * replaces /spec, copies or moves into the list, edits a container's fields or reaches the list by a path
   * not modelled here; or a body of no known shape. The stored pod decides (addedContainers).
   */
  opaque?: string;
}

function quotedPath(path: string): string {
  return JSON.stringify(path.length > MAX_QUOTED_PATH ? `${path.slice(0, MAX_QUOTED_PATH)}…` : path);
}

/** The containers a whole pod (path "") or pod spec (path "/spec") written by a JSON Patch lists. */
function containersInValue(path: string, value: unknown): ContainerSpec[] {
  const spec = path === "" ? (isRecord(value) ? value.spec : undefined) : value;
  return isRecord(spec) ? containersFromList(spec.ephemeralContainers) : [];
}

/**
 * JSON Patch: `add`/`replace` of one container (`…/-`, `…/N`) or of the whole list (`/spec/ephemeralContainers`)
 * says what it adds. Any other write into or above the list makes the body opaque; the containers it names
 * (a replaced /spec's list, say) are kept as candidates.
 */
function readJsonPatch(operations: unknown[]): BodyReading {
  const containers: ContainerSpec[] = [];
  let wholeList = false;
  let opaque: string | undefined;
  for (const entry of operations) {
    const op = JsonPatchOperationSchema.safeParse(entry);
    if (!op.success || !JSON_PATCH_WRITES.has(op.data.op)) continue;
    const { path, value } = op.data;
    if (!PATHS_INTO_OR_ABOVE_THE_LIST.test(path)) continue;
    const copies = op.data.op === "copy" || op.data.op === "move";
    if (copies || !EPHEMERAL_PATHS.test(path)) {
      opaque ??= `a JSON Patch "${op.data.op}" to ${quotedPath(path)}`;
      if (!copies && (path === "" || path === "/spec")) {
        wholeList = true;
        containers.push(...containersInValue(path, value));
      }
      continue;
    }
    if (Array.isArray(value)) {
      wholeList = true;
      containers.push(...containersFromList(value));
    } else {
      const container = parseContainer(value);
      if (container) containers.push(container);
    }
  }
  const reading: BodyReading = { shape: "json-patch", containers, wholeList };
  if (opaque !== undefined) reading.opaque = opaque;
  return reading;
}

/** A body that is neither a JSON Patch nor an object with a spec: it does not say what it adds. */
const UNRECOGNISED: BodyReading = Object.freeze({
  shape: "unrecognised",
  containers: [],
  wholeList: false,
  opaque: "a body of no known shape",
});

/** Whether a patch object carries a strategic-merge directive (`$setElementOrder/…`, `$patch`, …). */
function hasDirective(spec: Record<string, unknown>): boolean {
  for (const key in spec) if (Object.hasOwn(spec, key) && key.startsWith("$")) return true;
  return false;
}

/**
 * `existing` names the ephemeral containers the pod already had (they have a status). The audit log does not
 * keep the Content-Type, so a JSON merge patch and a strategic merge patch without directives are the same
 * JSON; only a merge patch repeats containers the pod already had, because it replaces the whole list.
 */
function readBody(verb: string, body: unknown, existing: ReadonlySet<string>): BodyReading {
  if (Array.isArray(body)) return readJsonPatch(body);
  if (!isRecord(body)) return UNRECOGNISED;
  // Kubernetes 1.16–1.21 took an EphemeralContainers object on this subresource.
  if (Array.isArray(body.ephemeralContainers)) {
    return {
      shape: "ephemeral-containers-object",
      containers: containersFromList(body.ephemeralContainers),
      wholeList: true,
    };
  }
  const spec = body.spec;
  if (!isRecord(spec)) return UNRECOGNISED;
  const containers = containersFromList(spec.ephemeralContainers);
  if (verb === "update" || body.kind === "Pod" || isRecord(body.metadata)) {
    return { shape: "pod", containers, wholeList: true };
  }
  // A strategic merge patch lists only what it adds; the directive marks kubectl's patch of a pod that had some.
  const directive = hasDirective(spec);
  const repeatsExisting = containers.some((container) => existing.has(container.name));
  const strategic = directive || (containers.length > 0 && !repeatsExisting);
  return strategic
    ? { shape: "strategic-merge-patch", containers, wholeList: false }
    : { shape: "merge-patch", containers, wholeList: true };
}

type VolumesByName = ReadonlyMap<string, Volume>;

const NO_VOLUMES: VolumesByName = new Map();

/**
 * The logged pod's volumes by name (undefined when no pod spec was logged). A logged pod spec carries its
 * whole volume list, so a missing name there means "no such volume". The index is only built when an added
 * container mounts something: most do not, and this runs for every write (npm run bench -- stages).
 */
function volumesByName(
  pod: Pod | undefined,
  containers: readonly ContainerSpec[],
): VolumesByName | undefined {
  if (!pod?.spec) return undefined;
  if (!containers.some((container) => container.volumeMounts.length > 0)) return NO_VOLUMES;
  return new Map(pod.spec.volumes.map((volume) => [volume.name, volume]));
}

/** Without the pod's volume list only the standard token volume names can be recognised. */
function volumeKind(volumes: VolumesByName | undefined, name: string): MountKind {
  if (!volumes) {
    return name.startsWith(TOKEN_VOLUME_PREFIX) || AWS_TOKEN_VOLUMES.has(name)
      ? "service-account-token"
      : "unknown";
  }
  const volume = volumes.get(name);
  if (!volume) return "other";
  if (volume.projected?.sources.some((source) => source.serviceAccountToken !== undefined)) {
    return "service-account-token";
  }
  if (
    volume.secret !== undefined ||
    volume.csi?.driver === SECRETS_STORE_CSI_DRIVER ||
    volume.projected?.sources.some((source) => source.secret !== undefined)
  ) {
    return "secret";
  }
  if (volume.hostPath !== undefined) return "host-path";
  return "other";
}

function tokenAudience(volumes: VolumesByName | undefined, name: string): string | undefined {
  if (!volumes) return AWS_TOKEN_VOLUMES.get(name);
  for (const source of volumes.get(name)?.projected?.sources ?? []) {
    const token = source.serviceAccountToken;
    if (isRecord(token) && typeof token.audience === "string" && token.audience !== "") return token.audience;
  }
  return undefined;
}

function normaliseCapability(capability: string): string {
  const upper = capability.trim().toUpperCase();
  return upper.startsWith("CAP_") ? upper.slice(4) : upper;
}

/** Most containers take no Secret into their environment, so the set is made for the first one. */
function withSecret(secrets: Set<string> | undefined, name: string | undefined): Set<string> {
  const set = secrets ?? new Set<string>();
  set.add(name ?? "(unnamed)");
  return set;
}

/** Only kubectl sends kubectl debug's profiles: a script copying its markers is still hand-crafted ("none"). */
function containerFacts(
  spec: ContainerSpec,
  volumes: VolumesByName | undefined,
  sentByKubectl: boolean,
  podSecurityContext: PodSecurityContext | undefined,
): ContainerFacts {
  const parsedContext =
    spec.securityContext === undefined ? undefined : readSecurityContext(spec.securityContext);
  const securityContext = parsedContext?.success ? parsedContext.data : undefined;
  const mounts: MountFact[] = [];
  for (const mount of spec.volumeMounts) {
    const fact: MountFact = { volume: mount.name, kind: volumeKind(volumes, mount.name) };
    if (mount.mountPath) fact.mountPath = mount.mountPath;
    const audience = fact.kind === "service-account-token" ? tokenAudience(volumes, mount.name) : undefined;
    if (audience) fact.audience = audience;
    mounts.push(fact);
  }
  // Loops rather than flatMap and spreads: this runs for every added container of every write.
  let secrets: Set<string> | undefined;
  for (const env of spec.env) {
    const ref = env.valueFrom?.secretKeyRef;
    if (ref) secrets = withSecret(secrets, ref.name);
  }
  for (const source of spec.envFrom)
    if (source.secretRef) secrets = withSecret(secrets, source.secretRef.name);
  return {
    spec,
    securityContext,
    podSecurityContext,
    addedCapabilities: (securityContext?.capabilities?.add ?? []).map(normaliseCapability),
    mounts,
    secretEnv: secrets === undefined ? [] : [...secrets],
    profile: sentByKubectl ? matchDebugProfile(spec) : "none",
  };
}

function controllerOwner(pod: Pod | undefined): Owner | undefined {
  const owners = pod?.metadata?.ownerReferences ?? [];
  // A loop rather than find() with a callback: this runs for every write.
  let owner = owners[0];
  for (const ref of owners) {
    if (ref.controller === true) {
      owner = ref;
      break;
    }
  }
  if (!owner) return undefined;
  const result: Owner = { kind: owner.kind, name: owner.name };
  if (owner.uid) result.uid = owner.uid;
  if (owner.controller !== undefined) result.controller = owner.controller;
  return result;
}

interface Added {
  containers: ContainerSpec[];
  /** Absent when the body said which containers are new. */
  from?: ContainerSource;
}

/**
 * The containers a write added. Where the body carries the whole list (update, merge patch), containers that
 * already have a status in the pod (response, or the update's own body) existed before this request and are
 * not counted again. Where the body does not say, the stored pod does: what the server stored is the truth,
 * and the ephemeral containers it has no status for are the ones this write made. When neither can tell new
 * from old, every container the event shows is reported, and the finding says so.
 */
function addedContainers(
  reading: BodyReading,
  existing: ReadonlySet<string>,
  statusKnown: boolean,
  storedPod: Pod | undefined,
): Added {
  if (reading.opaque !== undefined) {
    const stored = storedPod?.spec ? containersFromList(storedPod.spec.ephemeralContainers) : [];
    const fresh = stored.filter((container) => !existing.has(container.name));
    // Without the pod's status (a cut event, say), only a single stored container is known to be the new one.
    if (fresh.length > 0 && (statusKnown || fresh.length === 1))
      return { containers: fresh, from: "stored-pod" };
    const candidates = stored.length > 0 ? stored : reading.containers;
    return { containers: candidates, from: candidates.length > 0 ? "all-listed" : "unknown" };
  }
  if (!reading.wholeList) return { containers: reading.containers };
  const added = reading.containers.filter((container) => !existing.has(container.name));
  // Without the pod's status a whole list of several cannot be told apart; one container is the one written.
  if (added.length > 0 && (statusKnown || added.length === 1)) return { containers: added };
  return reading.containers.length > 0
    ? { containers: reading.containers, from: "all-listed" }
    : { containers: [] };
}

/** Whether a top-level field of a cut event was read only in part, or not at all. */
function isPartial(cut: CutFacts, field: string): boolean {
  return cut.openField === field || cut.unseen.has(field);
}

/**
 * A cut event's outcome: what its status says, or, when the status was cut off before its code and does not
 * say the request failed, "created". kube-apiserver writes a success as `{"metadata":{},"code":200}`, so a
 * status cut before its code that does not already say Failure is not evidence that nothing was added.
 */
function cutOutcome(event: AuditEvent, cut: CutFacts): Outcome | undefined {
  const status = event.responseStatus;
  if (!cut.statusCut || status?.code !== undefined || status?.status === "Failure") return undefined;
  return "created";
}

/** A cut event's timestamps come after its bodies: CloudWatch's receipt time stands in, when there is one. */
function loggedAtText(loggedAt: number | undefined): string {
  if (loggedAt === undefined || !Number.isFinite(loggedAt)) return "";
  const date = new Date(loggedAt);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

export function extractWriteFacts(
  event: AuditEvent,
  logGroup?: string,
  fallbackCluster?: string,
  /** Set for an event that arrived cut mid-JSON: its bodies are read as far as they go. */
  cut?: CutFacts,
  /** When CloudWatch Logs received the event (epoch ms): the time of an event that lost its own. */
  loggedAt?: number,
  /** What tells this event from another with the same auditID (event-key.ts). */
  occurrence?: string,
  /** The account and region the delivery came from (aws-origin.ts). */
  origin?: AwsOrigin,
): WriteFacts {
  const annotations = event.annotations ?? {};
  const truncated = annotations[TRUNCATED] === "true";
  const bodyPresent = event.requestObject !== undefined && event.requestObject !== null && !truncated;
  // A cut body is read for what it shows, but it is not the logged body.
  const bodyLogged = bodyPresent && cut === undefined;
  const responsePod = parsePod(event.responseObject);
  const requestPod = event.verb === "update" ? parsePod(event.requestObject) : undefined;
  const pod = responsePod ?? requestPod;
  // An update's body is the pod as the client read it, status included: it also says what existed before.
  const existing = new Set<string>();
  for (const status of pod?.status?.ephemeralContainerStatuses ?? []) existing.add(status.name);
  const reading: BodyReading = bodyPresent
    ? readBody(event.verb, event.requestObject, existing)
    : { shape: "not-logged", containers: [], wholeList: false };
  // A cut event's pod is only whole when the break came after it: a status read in part says nothing.
  const podWhole =
    cut === undefined || !isPartial(cut, responsePod !== undefined ? "responseObject" : "requestObject");
  const added = addedContainers(reading, existing, pod?.status !== undefined && podWhole, responsePod);
  const volumes = volumesByName(pod, added.containers);
  const sentByKubectl = isKubectlUserAgent(event.userAgent);

  const user = event.user;
  const extra = user.extra ?? {};
  // Built as one literal rather than spread from identity(user) and extended afterwards: a line-level profile
  // put ~30% of extractWriteFacts on adding properties to the spread copy (npm run bench -- stages).
  const groups = user.groups ?? [];
  const actor: WriteFacts["actor"] = {
    username: user.username,
    groups,
    kind: actorKind({ username: user.username, groups }),
    sourceIPs: event.sourceIPs ?? [],
  };
  if (user.uid) actor.uid = user.uid;
  if (event.userAgent) actor.userAgent = event.userAgent;
  const arn = extra.arn?.[0] ?? extra.canonicalArn?.[0];
  if (arn) actor.arn = arn;
  if (extra.sessionName?.[0]) actor.sessionName = extra.sessionName[0];
  const facts: WriteFacts = {
    auditID: event.auditID,
    verb: event.verb,
    time: event.stageTimestamp ?? event.requestReceivedTimestamp ?? loggedAtText(loggedAt),
    actor,
    namespace: event.objectRef?.namespace ?? pod?.metadata?.namespace ?? "",
    podName: event.objectRef?.name ?? pod?.metadata?.name ?? "",
    outcome:
      (cut && cutOutcome(event, cut)) ??
      classifyOutcome({
        code: event.responseStatus?.code,
        decision: annotations[DECISION],
        message: event.responseStatus?.message,
      }),
    bodyLogged,
    bodyTruncated: truncated,
    bodyShape: reading.shape,
    containers: added.containers.map((spec) =>
      containerFacts(spec, volumes, sentByKubectl, pod?.spec?.securityContext),
    ),
    pod: {
      hostNetwork: pod?.spec?.hostNetwork === true,
      hostPID: pod?.spec?.hostPID === true,
      hostIPC: pod?.spec?.hostIPC === true,
      static: pod?.metadata?.annotations?.[MIRROR_POD] !== undefined,
      volumesKnown: volumes !== undefined,
    },
  };
  if (cut) facts.cut = cut;
  if (added.from) facts.containersFrom = { source: added.from, because: reading.opaque };
  if (occurrence !== undefined) facts.occurrence = occurrence;
  if (event.requestURI) facts.requestURI = event.requestURI;
  if (event.impersonatedUser) facts.impersonatedUser = identity(event.impersonatedUser);
  if (logGroup) facts.logGroup = logGroup;
  const cluster = clusterFromLogGroup(logGroup) ?? fallbackCluster;
  if (cluster) facts.cluster = cluster;
  if (origin?.account) facts.account = origin.account;
  if (origin?.region) facts.region = origin.region;
  const arnOfCluster = origin ? clusterArn(origin, cluster) : undefined;
  if (arnOfCluster) facts.clusterArn = arnOfCluster;
  if (event.responseStatus?.code !== undefined) facts.responseCode = event.responseStatus.code;
  if (event.responseStatus?.message) facts.responseMessage = event.responseStatus.message;
  if (annotations[DECISION]) facts.authorizationDecision = annotations[DECISION];
  if (annotations[AUTHZ_REASON]) facts.authorizationReason = annotations[AUTHZ_REASON];
  if (annotations[PSA_ENFORCE]) facts.podSecurityEnforcePolicy = annotations[PSA_ENFORCE];
  if (annotations[PSA_AUDIT]) facts.podSecurityAuditViolations = annotations[PSA_AUDIT];
  const uid = responsePod?.metadata?.uid ?? requestPod?.metadata?.uid ?? event.objectRef?.uid;
  if (uid) facts.pod.uid = uid;
  const owner = controllerOwner(pod);
  if (owner) facts.pod.owner = owner;
  if (pod?.spec?.serviceAccountName) facts.pod.serviceAccountName = pod.spec.serviceAccountName;
  return facts;
}
