import {
  type ContainerSpec,
  ContainerSpecSchema,
  type Pod,
  PodSchema,
  type SecurityContext,
  SecurityContextSchema,
} from "./kubernetes-shapes.ts";

/**
 * The Kubernetes shapes of kubernetes-shapes.ts, read without zod when the input is well-formed.
 *
 * zod allocates a result object and an issues array for every field of a schema, present or not, on every
 * parse; for the pod, container and securityContext of each write that was ~10% of a filtered pass's
 * allocations and the scavenges they cause (npm run bench). These readers walk the same shapes with no
 * per-field allocation. They accept only input that has the exact types the schemas name (no `.catch`, no
 * dropped list entries) and then return what the schema returns: the named fields, lists defaulted to `[]`.
 * Anything else (a wrong type anywhere, a null list entry) gives MISMATCH and goes to the zod schema, which
 * stays the definition: test/core/read-kubernetes-shapes.test.ts checks on sample and mutated bodies that a
 * reader's answer, whenever it gives one, equals the schema's.
 */

const MISMATCH: unique symbol = Symbol("mismatch");
type Read = (value: unknown) => unknown;

/** An array of items; the input array itself when reading changed no item (strings, say). */
function arrayOf(read: Read): Read {
  return (value) => {
    if (!Array.isArray(value)) return MISMATCH;
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const result = read(item);
      if (result === MISMATCH) return MISMATCH;
      if (out === undefined && result !== item) out = value.slice(0, i);
      out?.push(result);
    }
    return out ?? value;
  };
}

/** The schemas' `listOf`: a missing list reads as empty. */
function listOf(read: Read): Read {
  const array = arrayOf(read);
  return (value) => (value === undefined ? [] : array(value));
}

/*
 * Every shape below is read by hand, one function per shape with named fields, rather than with a generic
 * object(shape) combinator (as the container and securityContext were until 2026-12): its shared closures make each field load, store and reader call megamorphic, and the
 * container, securityContext and pod readers run for every write. Measured on the filtered bench
 * (detection alone, A/B): 23.5-23.8 -> 21.3-22.1 ms a pass. Each checks every field it names first, then
 * copies them in the schema's order, leaving out those that are absent, as object() did.
 */
type Fields = Record<string, unknown>;

function fieldsOf(value: unknown): Fields | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Fields) : undefined;
}

function isOptionalString(value: unknown): boolean {
  return value === undefined || typeof value === "string";
}

function isOptionalBoolean(value: unknown): boolean {
  return value === undefined || typeof value === "boolean";
}

/** z.number(): finite numbers only. */
function isOptionalNumber(value: unknown): boolean {
  return value === undefined || (typeof value === "number" && Number.isFinite(value));
}

/** z.array(z.string()): the input array itself, as arrayOf(string) gives it. */
function readStrings(value: unknown): unknown {
  if (!Array.isArray(value)) return MISMATCH;
  for (let i = 0; i < value.length; i++) if (typeof value[i] !== "string") return MISMATCH;
  return value;
}

function readProfile(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  const { type, localhostProfile } = fields;
  if (!isOptionalString(type) || !isOptionalString(localhostProfile)) return MISMATCH;
  const out: Fields = {};
  if (type !== undefined) out.type = type;
  if (localhostProfile !== undefined) out.localhostProfile = localhostProfile;
  return out;
}

function readSeLinuxOptions(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  const { type, user, role, level } = fields;
  if (
    !isOptionalString(type) ||
    !isOptionalString(user) ||
    !isOptionalString(role) ||
    !isOptionalString(level)
  ) {
    return MISMATCH;
  }
  const out: Fields = {};
  if (type !== undefined) out.type = type;
  if (user !== undefined) out.user = user;
  if (role !== undefined) out.role = role;
  if (level !== undefined) out.level = level;
  return out;
}

function readWindowsOptions(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields || !isOptionalBoolean(fields.hostProcess)) return MISMATCH;
  return fields.hostProcess === undefined ? {} : { hostProcess: fields.hostProcess };
}

function readCapabilities(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  const add = fields.add === undefined ? undefined : readStrings(fields.add);
  const drop = fields.drop === undefined ? undefined : readStrings(fields.drop);
  if (add === MISMATCH || drop === MISMATCH) return MISMATCH;
  const out: Fields = {};
  if (add !== undefined) out.add = add;
  if (drop !== undefined) out.drop = drop;
  return out;
}

/** The nested fields a container's and a pod's securityContext share, copied onto `out` in schema order. */
function copyNestedContext(fields: Fields, out: Fields): boolean {
  const seccomp = fields.seccompProfile === undefined ? undefined : readProfile(fields.seccompProfile);
  const appArmor = fields.appArmorProfile === undefined ? undefined : readProfile(fields.appArmorProfile);
  const seLinux = fields.seLinuxOptions === undefined ? undefined : readSeLinuxOptions(fields.seLinuxOptions);
  const windows = fields.windowsOptions === undefined ? undefined : readWindowsOptions(fields.windowsOptions);
  if (seccomp === MISMATCH || appArmor === MISMATCH || seLinux === MISMATCH || windows === MISMATCH)
    return false;
  if (seccomp !== undefined) out.seccompProfile = seccomp;
  if (appArmor !== undefined) out.appArmorProfile = appArmor;
  if (seLinux !== undefined) out.seLinuxOptions = seLinux;
  if (windows !== undefined) out.windowsOptions = windows;
  return true;
}

function securityContext(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  const {
    privileged,
    allowPrivilegeEscalation,
    runAsUser,
    runAsGroup,
    runAsNonRoot,
    readOnlyRootFilesystem,
    procMount,
  } = fields;
  if (
    !isOptionalBoolean(privileged) ||
    !isOptionalBoolean(allowPrivilegeEscalation) ||
    !isOptionalNumber(runAsUser) ||
    !isOptionalNumber(runAsGroup) ||
    !isOptionalBoolean(runAsNonRoot) ||
    !isOptionalBoolean(readOnlyRootFilesystem) ||
    !isOptionalString(procMount)
  ) {
    return MISMATCH;
  }
  const capabilities = fields.capabilities === undefined ? undefined : readCapabilities(fields.capabilities);
  if (capabilities === MISMATCH) return MISMATCH;
  const out: Fields = {};
  if (privileged !== undefined) out.privileged = privileged;
  if (allowPrivilegeEscalation !== undefined) out.allowPrivilegeEscalation = allowPrivilegeEscalation;
  if (runAsUser !== undefined) out.runAsUser = runAsUser;
  if (runAsGroup !== undefined) out.runAsGroup = runAsGroup;
  if (runAsNonRoot !== undefined) out.runAsNonRoot = runAsNonRoot;
  if (readOnlyRootFilesystem !== undefined) out.readOnlyRootFilesystem = readOnlyRootFilesystem;
  if (procMount !== undefined) out.procMount = procMount;
  if (capabilities !== undefined) out.capabilities = capabilities;
  return copyNestedContext(fields, out) ? out : MISMATCH;
}

function podSecurityContext(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  const { runAsUser, runAsGroup, runAsNonRoot } = fields;
  if (!isOptionalNumber(runAsUser) || !isOptionalNumber(runAsGroup) || !isOptionalBoolean(runAsNonRoot)) {
    return MISMATCH;
  }
  const out: Fields = {};
  if (runAsUser !== undefined) out.runAsUser = runAsUser;
  if (runAsGroup !== undefined) out.runAsGroup = runAsGroup;
  if (runAsNonRoot !== undefined) out.runAsNonRoot = runAsNonRoot;
  return copyNestedContext(fields, out) ? out : MISMATCH;
}

function readEnvVar(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields || !isOptionalString(fields.name)) return MISMATCH;
  const out: Fields = {};
  if (fields.name !== undefined) out.name = fields.name;
  if (fields.valueFrom !== undefined) {
    const valueFrom = fieldsOf(fields.valueFrom);
    if (!valueFrom) return MISMATCH;
    if (valueFrom.secretKeyRef === undefined) out.valueFrom = {};
    else {
      const ref = fieldsOf(valueFrom.secretKeyRef);
      if (!ref || !isOptionalString(ref.name) || !isOptionalString(ref.key)) return MISMATCH;
      const secretKeyRef: Fields = {};
      if (ref.name !== undefined) secretKeyRef.name = ref.name;
      if (ref.key !== undefined) secretKeyRef.key = ref.key;
      out.valueFrom = { secretKeyRef };
    }
  }
  return out;
}

function readEnvFrom(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  if (fields.secretRef === undefined) return {};
  const ref = fieldsOf(fields.secretRef);
  if (!ref || !isOptionalString(ref.name)) return MISMATCH;
  return { secretRef: ref.name === undefined ? {} : { name: ref.name } };
}

function readVolumeMount(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields || typeof fields.name !== "string" || !isOptionalString(fields.mountPath)) return MISMATCH;
  return fields.mountPath === undefined
    ? { name: fields.name }
    : { name: fields.name, mountPath: fields.mountPath };
}

const envList = listOf(readEnvVar);
const envFromList = listOf(readEnvFrom);
const volumeMountList = listOf(readVolumeMount);

function containerSpec(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  const { name, image, targetContainerName, terminationMessagePolicy } = fields;
  if (
    typeof name !== "string" ||
    !isOptionalString(image) ||
    !isOptionalString(targetContainerName) ||
    !isOptionalString(terminationMessagePolicy)
  ) {
    return MISMATCH;
  }
  const command = fields.command === undefined ? undefined : readStrings(fields.command);
  const args = fields.args === undefined ? undefined : readStrings(fields.args);
  const env = envList(fields.env);
  const envFrom = envFromList(fields.envFrom);
  const volumeMounts = volumeMountList(fields.volumeMounts);
  if (
    command === MISMATCH ||
    args === MISMATCH ||
    env === MISMATCH ||
    envFrom === MISMATCH ||
    volumeMounts === MISMATCH
  ) {
    return MISMATCH;
  }
  const out: Fields = { name };
  if (image !== undefined) out.image = image;
  if (command !== undefined) out.command = command;
  if (args !== undefined) out.args = args;
  if (targetContainerName !== undefined) out.targetContainerName = targetContainerName;
  if (fields.securityContext !== undefined) out.securityContext = fields.securityContext;
  out.env = env;
  out.envFrom = envFrom;
  out.volumeMounts = volumeMounts;
  if (terminationMessagePolicy !== undefined) out.terminationMessagePolicy = terminationMessagePolicy;
  if (fields.resources !== undefined) out.resources = fields.resources;
  return out;
}

/*
 * The pod is read by hand rather than with object(): it runs once per write on a large object, and the
 * combinators' shared code makes every field load, store and reader call megamorphic (3 µs per pod, the
 * largest piece of a filtered bench pass's own work). Each function reads one shape with named fields.
 */
function readOwnerReference(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  const { kind, name, uid, controller } = fields;
  if (typeof kind !== "string" || typeof name !== "string") return MISMATCH;
  if (!isOptionalString(uid) || !isOptionalBoolean(controller)) return MISMATCH;
  const out: Fields = { kind, name };
  if (uid !== undefined) out.uid = uid;
  if (controller !== undefined) out.controller = controller;
  return out;
}

function readProjectedSource(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  const out: Fields = {};
  if (fields.serviceAccountToken !== undefined) out.serviceAccountToken = fields.serviceAccountToken;
  if (fields.secret !== undefined) out.secret = fields.secret;
  return out;
}

const projectedSources = listOf(readProjectedSource);

function readVolume(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields || typeof fields.name !== "string") return MISMATCH;
  const out: Fields = { name: fields.name };
  if (fields.secret !== undefined) out.secret = fields.secret;
  if (fields.hostPath !== undefined) out.hostPath = fields.hostPath;
  if (fields.csi !== undefined) {
    const csi = fieldsOf(fields.csi);
    if (!csi || !isOptionalString(csi.driver)) return MISMATCH;
    out.csi = csi.driver === undefined ? {} : { driver: csi.driver };
  }
  if (fields.projected !== undefined) {
    const projected = fieldsOf(fields.projected);
    const sources = projected ? projectedSources(projected.sources) : MISMATCH;
    if (sources === MISMATCH) return MISMATCH;
    out.projected = { sources };
  }
  return out;
}

const ownerReferences = listOf(readOwnerReference);
const volumes = listOf(readVolume);
const containerStatuses = listOf((value) => {
  const fields = fieldsOf(value);
  return fields && typeof fields.name === "string" ? { name: fields.name } : MISMATCH;
});

function readMetadata(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  const { name, namespace, uid } = fields;
  if (!isOptionalString(name) || !isOptionalString(namespace) || !isOptionalString(uid)) return MISMATCH;
  const out: Fields = {};
  if (name !== undefined) out.name = name;
  if (namespace !== undefined) out.namespace = namespace;
  if (uid !== undefined) out.uid = uid;
  if (fields.annotations !== undefined) {
    const annotations = fieldsOf(fields.annotations);
    const mirror = annotations?.["kubernetes.io/config.mirror"];
    if (!annotations || !isOptionalString(mirror)) return MISMATCH;
    out.annotations = mirror === undefined ? {} : { "kubernetes.io/config.mirror": mirror };
  }
  const owners = ownerReferences(fields.ownerReferences);
  if (owners === MISMATCH) return MISMATCH;
  out.ownerReferences = owners;
  return out;
}

function readSpec(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  const { serviceAccountName, hostNetwork, hostPID, hostIPC, shareProcessNamespace } = fields;
  if (
    !isOptionalString(serviceAccountName) ||
    !isOptionalBoolean(hostNetwork) ||
    !isOptionalBoolean(hostPID) ||
    !isOptionalBoolean(hostIPC) ||
    !isOptionalBoolean(shareProcessNamespace)
  ) {
    return MISMATCH;
  }
  const out: Fields = {};
  if (serviceAccountName !== undefined) out.serviceAccountName = serviceAccountName;
  if (hostNetwork !== undefined) out.hostNetwork = hostNetwork;
  if (hostPID !== undefined) out.hostPID = hostPID;
  if (hostIPC !== undefined) out.hostIPC = hostIPC;
  if (shareProcessNamespace !== undefined) out.shareProcessNamespace = shareProcessNamespace;
  if (fields.securityContext !== undefined) {
    const context = podSecurityContext(fields.securityContext);
    if (context === MISMATCH) return MISMATCH;
    out.securityContext = context;
  }
  const podVolumes = volumes(fields.volumes);
  if (podVolumes === MISMATCH) return MISMATCH;
  out.volumes = podVolumes;
  if (fields.ephemeralContainers !== undefined) {
    // z.array(z.unknown()): the list itself, whatever it holds.
    if (!Array.isArray(fields.ephemeralContainers)) return MISMATCH;
    out.ephemeralContainers = fields.ephemeralContainers;
  }
  return out;
}

function readStatus(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  const statuses = containerStatuses(fields.ephemeralContainerStatuses);
  return statuses === MISMATCH ? MISMATCH : { ephemeralContainerStatuses: statuses };
}

function pod(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  const metadata = fields.metadata === undefined ? undefined : readMetadata(fields.metadata);
  const spec = fields.spec === undefined ? undefined : readSpec(fields.spec);
  const status = fields.status === undefined ? undefined : readStatus(fields.status);
  if (metadata === MISMATCH || spec === MISMATCH || status === MISMATCH) return MISMATCH;
  const out: Fields = {};
  if (metadata !== undefined) out.metadata = metadata;
  if (spec !== undefined) out.spec = spec;
  if (status !== undefined) out.status = status;
  return out;
}

type Parsed<T> = { success: true; data: T } | { success: false };

interface Schema<T> {
  safeParse(value: unknown): Parsed<T>;
}

/** The reader's answer when it has one, else the schema's (which drops or ignores what is malformed). */
function readWith<T>(read: Read, schema: Schema<T>, value: unknown): Parsed<T> {
  const fast = read(value);
  // The cast is the claim the property test checks: the reader returns what the schema would.
  return fast === MISMATCH ? schema.safeParse(value) : { success: true, data: fast as T };
}

export function readPod(value: unknown): Parsed<Pod> {
  return readWith(pod, PodSchema, value);
}

export function readContainerSpec(value: unknown): Parsed<ContainerSpec> {
  return readWith(containerSpec, ContainerSpecSchema, value);
}

export function readSecurityContext(value: unknown): Parsed<SecurityContext> {
  return readWith(securityContext, SecurityContextSchema, value);
}

/** For the property test: the reader alone, undefined where it defers to the schema. */
export function readWithoutSchema(
  kind: "pod" | "containerSpec" | "securityContext",
  value: unknown,
): { data: unknown } | undefined {
  const read = { pod, containerSpec, securityContext }[kind];
  const result = read(value);
  return result === MISMATCH ? undefined : { data: result };
}
