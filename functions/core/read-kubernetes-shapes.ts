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

const string: Read = (value) => (typeof value === "string" ? value : MISMATCH);
const boolean: Read = (value) => (typeof value === "boolean" ? value : MISMATCH);
const number: Read = (value) => (typeof value === "number" && Number.isFinite(value) ? value : MISMATCH);
/** z.unknown(): the value itself. */
const anything: Read = (value) => value;

function optional(read: Read): Read {
  return (value) => (value === undefined ? undefined : read(value));
}

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

/** z.object: only the named fields, each read by its reader; fields that read as undefined are left out. */
function object(shape: Record<string, Read>): Read {
  const keys = Object.keys(shape);
  const readers = keys.map((key) => shape[key] as Read);
  return (value) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return MISMATCH;
    const fields = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const result = (readers[i] as Read)(fields[key]);
      if (result === MISMATCH) return MISMATCH;
      if (result !== undefined) out[key] = result;
    }
    return out;
  };
}

const optionalString = optional(string);
const optionalBoolean = optional(boolean);
const optionalNumber = optional(number);
const optionalAnything = optional(anything);

const profile = optional(object({ type: optionalString, localhostProfile: optionalString }));
const seLinuxOptions = optional(
  object({ type: optionalString, user: optionalString, role: optionalString, level: optionalString }),
);
const windowsOptions = optional(object({ hostProcess: optionalBoolean }));

const securityContext = object({
  privileged: optionalBoolean,
  allowPrivilegeEscalation: optionalBoolean,
  runAsUser: optionalNumber,
  runAsGroup: optionalNumber,
  runAsNonRoot: optionalBoolean,
  readOnlyRootFilesystem: optionalBoolean,
  procMount: optionalString,
  capabilities: optional(object({ add: optional(arrayOf(string)), drop: optional(arrayOf(string)) })),
  seccompProfile: profile,
  appArmorProfile: profile,
  seLinuxOptions,
  windowsOptions,
});

const podSecurityContext = object({
  runAsUser: optionalNumber,
  runAsGroup: optionalNumber,
  runAsNonRoot: optionalBoolean,
  seccompProfile: profile,
  appArmorProfile: profile,
  seLinuxOptions,
  windowsOptions,
});

const containerSpec = object({
  name: string,
  image: optionalString,
  command: optional(arrayOf(string)),
  args: optional(arrayOf(string)),
  targetContainerName: optionalString,
  securityContext: optionalAnything,
  env: listOf(
    object({
      name: optionalString,
      valueFrom: optional(
        object({ secretKeyRef: optional(object({ name: optionalString, key: optionalString })) }),
      ),
    }),
  ),
  envFrom: listOf(object({ secretRef: optional(object({ name: optionalString })) })),
  volumeMounts: listOf(object({ name: string, mountPath: optionalString })),
  terminationMessagePolicy: optionalString,
  resources: optionalAnything,
});

/*
 * The pod is read by hand rather than with object(): it runs once per write on a large object, and the
 * combinators' shared code makes every field load, store and reader call megamorphic (3 µs per pod, the
 * largest piece of a filtered bench pass's own work). Each function reads one shape with named fields.
 */
type Fields = Record<string, unknown>;

function fieldsOf(value: unknown): Fields | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Fields) : undefined;
}

function readOwnerReference(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  const { kind, name, uid, controller } = fields;
  if (typeof kind !== "string" || typeof name !== "string") return MISMATCH;
  if (optionalString(uid) === MISMATCH || optionalBoolean(controller) === MISMATCH) return MISMATCH;
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
    if (!csi || optionalString(csi.driver) === MISMATCH) return MISMATCH;
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
const anyList = arrayOf(anything);

/** Copies the optional fields named, all of one type, or returns false if one has another type. */
function copyFields(from: Fields, to: Fields, names: readonly string[], type: "string" | "boolean"): boolean {
  for (const name of names) {
    const value = from[name];
    if (value === undefined) continue;
    if (typeof value !== type) return false;
    to[name] = value;
  }
  return true;
}

function readMetadata(value: unknown): unknown {
  const fields = fieldsOf(value);
  if (!fields) return MISMATCH;
  const out: Fields = {};
  if (!copyFields(fields, out, ["name", "namespace", "uid"], "string")) return MISMATCH;
  if (fields.annotations !== undefined) {
    const annotations = fieldsOf(fields.annotations);
    const mirror = annotations?.["kubernetes.io/config.mirror"];
    if (!annotations || optionalString(mirror) === MISMATCH) return MISMATCH;
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
  const out: Fields = {};
  if (
    !copyFields(fields, out, ["serviceAccountName"], "string") ||
    !copyFields(fields, out, ["hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace"], "boolean")
  ) {
    return MISMATCH;
  }
  if (fields.securityContext !== undefined) {
    const context = podSecurityContext(fields.securityContext);
    if (context === MISMATCH) return MISMATCH;
    out.securityContext = context;
  }
  const podVolumes = volumes(fields.volumes);
  if (podVolumes === MISMATCH) return MISMATCH;
  out.volumes = podVolumes;
  if (fields.ephemeralContainers !== undefined) {
    const ephemeral = anyList(fields.ephemeralContainers);
    if (ephemeral === MISMATCH) return MISMATCH;
    out.ephemeralContainers = ephemeral;
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
