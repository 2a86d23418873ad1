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

const securityContext = object({
  privileged: optionalBoolean,
  allowPrivilegeEscalation: optionalBoolean,
  runAsUser: optionalNumber,
  runAsGroup: optionalNumber,
  runAsNonRoot: optionalBoolean,
  readOnlyRootFilesystem: optionalBoolean,
  procMount: optionalString,
  capabilities: optional(object({ add: optional(arrayOf(string)), drop: optional(arrayOf(string)) })),
  seccompProfile: optional(object({ type: optionalString, localhostProfile: optionalString })),
  appArmorProfile: optional(object({ type: optionalString, localhostProfile: optionalString })),
  seLinuxOptions: optional(
    object({ type: optionalString, user: optionalString, role: optionalString, level: optionalString }),
  ),
  windowsOptions: optional(object({ hostProcess: optionalBoolean })),
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

const volume = object({
  name: string,
  secret: optionalAnything,
  hostPath: optionalAnything,
  csi: optional(object({ driver: optionalString })),
  projected: optional(
    object({ sources: listOf(object({ serviceAccountToken: optionalAnything, secret: optionalAnything })) }),
  ),
});

const pod = object({
  metadata: optional(
    object({
      name: optionalString,
      namespace: optionalString,
      uid: optionalString,
      annotations: optional(object({ "kubernetes.io/config.mirror": optionalString })),
      ownerReferences: listOf(
        object({ kind: string, name: string, uid: optionalString, controller: optionalBoolean }),
      ),
    }),
  ),
  spec: optional(
    object({
      serviceAccountName: optionalString,
      hostNetwork: optionalBoolean,
      hostPID: optionalBoolean,
      hostIPC: optionalBoolean,
      shareProcessNamespace: optionalBoolean,
      volumes: listOf(volume),
      ephemeralContainers: optional(arrayOf(anything)),
    }),
  ),
  status: optional(object({ ephemeralContainerStatuses: listOf(object({ name: string })) })),
});

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
