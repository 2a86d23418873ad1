import * as z from "zod";

/**
 * Narrow schemas for the parts of Kubernetes objects the detector reads out of audit bodies. Fields not named
 * here are ignored (not kept).
 *
 * Each schema exists in two modes built from the same definition below:
 * - lenient: wrong types degrade to "absent" (`.catch`) and bad list entries are dropped, so an attacker cannot
 *   hide a container by sending one malformed field next to it. Its types are the ones the code uses.
 * - strict: the same shape without `.catch` or transforms. zod runs it on its compiled fast path, several
 *   times faster; when it accepts a value the lenient schema would return the same data, so the `read*`
 *   functions try it first and fall back to the lenient schema only for odd input. This runs for every
 *   ephemeral-container write, on the detector's hot path (see `npm run bench -- stages`).
 */
type Mode = "strict" | "lenient";

function shapes(mode: Mode) {
  const lenient = mode === "lenient";
  /** An optional field; a wrong type reads as absent in lenient mode. */
  const optional = <T extends z.ZodType>(schema: T) =>
    lenient ? schema.optional().catch(undefined) : schema.optional();
  /** A list; in lenient mode bad entries are dropped and a non-list reads as empty. */
  const listOf = <T extends z.ZodType>(item: T) =>
    lenient
      ? z
          .array(item.nullable().catch(null))
          .optional()
          .catch(undefined)
          .transform((items) =>
            (items ?? []).filter((entry): entry is NonNullable<typeof entry> => entry !== null),
          )
      : // A default rather than a transform for the missing list: a transform wraps every list in a pipe,
        // an extra schema stage that showed as ~10% of extraction in profiles (npm run bench -- stages).
        z.array(item).default([]);
  const optionalString = optional(z.string());
  const optionalBool = optional(z.boolean());
  const optionalInt = optional(z.number());

  const securityContext = z.object({
    privileged: optionalBool,
    allowPrivilegeEscalation: optionalBool,
    runAsUser: optionalInt,
    runAsGroup: optionalInt,
    runAsNonRoot: optionalBool,
    readOnlyRootFilesystem: optionalBool,
    procMount: optionalString,
    capabilities: optional(
      z.object({ add: optional(z.array(z.string())), drop: optional(z.array(z.string())) }),
    ),
    seccompProfile: optional(z.object({ type: optionalString, localhostProfile: optionalString })),
    appArmorProfile: optional(z.object({ type: optionalString, localhostProfile: optionalString })),
    seLinuxOptions: optional(
      z.object({ type: optionalString, user: optionalString, role: optionalString, level: optionalString }),
    ),
    windowsOptions: optional(z.object({ hostProcess: optionalBool })),
  });

  const envVar = z.object({
    name: optionalString,
    valueFrom: optional(
      z.object({ secretKeyRef: optional(z.object({ name: optionalString, key: optionalString })) }),
    ),
  });
  const envFrom = z.object({ secretRef: optional(z.object({ name: optionalString })) });
  const volumeMount = z.object({ name: z.string(), mountPath: optionalString });

  const containerSpec = z.object({
    name: z.string(),
    image: optionalString,
    command: optional(z.array(z.string())),
    args: optional(z.array(z.string())),
    targetContainerName: optionalString,
    securityContext: z.unknown().optional(),
    env: listOf(envVar),
    envFrom: listOf(envFrom),
    volumeMounts: listOf(volumeMount),
    terminationMessagePolicy: optionalString,
    resources: z.unknown().optional(),
  });

  const volume = z.object({
    name: z.string(),
    secret: z.unknown().optional(),
    hostPath: z.unknown().optional(),
    csi: optional(z.object({ driver: optionalString })),
    projected: optional(
      z.object({
        sources: listOf(
          z.object({ serviceAccountToken: z.unknown().optional(), secret: z.unknown().optional() }),
        ),
      }),
    ),
  });

  const ownerReference = z.object({
    kind: z.string(),
    name: z.string(),
    uid: optionalString,
    controller: optionalBool,
  });

  const pod = z.object({
    metadata: optional(
      z.object({
        name: optionalString,
        namespace: optionalString,
        uid: optionalString,
        // Only the mirror-pod marker is read; a record schema would walk every annotation of every pod.
        annotations: optional(z.object({ "kubernetes.io/config.mirror": optionalString })),
        ownerReferences: listOf(ownerReference),
      }),
    ),
    spec: optional(
      z.object({
        serviceAccountName: optionalString,
        hostNetwork: optionalBool,
        hostPID: optionalBool,
        hostIPC: optionalBool,
        shareProcessNamespace: optionalBool,
        volumes: listOf(volume),
        ephemeralContainers: optional(z.array(z.unknown())),
      }),
    ),
    status: optional(z.object({ ephemeralContainerStatuses: listOf(z.object({ name: z.string() })) })),
  });

  return { securityContext, containerSpec, volume, pod };
}

const LENIENT = shapes("lenient");
const STRICT = shapes("strict");

export const SecurityContextSchema = LENIENT.securityContext;
export type SecurityContext = z.infer<typeof SecurityContextSchema>;
export const ContainerSpecSchema = LENIENT.containerSpec;
export type ContainerSpec = z.infer<typeof ContainerSpecSchema>;
export type Volume = z.infer<typeof LENIENT.volume>;
export const PodSchema = LENIENT.pod;
export type Pod = z.infer<typeof PodSchema>;

type Parsed<T> = { success: true; data: T } | { success: false };

function readWith<T>(strict: z.ZodType<T>, lenient: z.ZodType<T>, value: unknown): Parsed<T> {
  const fast = strict.safeParse(value);
  return fast.success ? fast : lenient.safeParse(value);
}

export function readPod(value: unknown): Parsed<Pod> {
  return readWith<Pod>(STRICT.pod, LENIENT.pod, value);
}

export function readContainerSpec(value: unknown): Parsed<ContainerSpec> {
  return readWith<ContainerSpec>(STRICT.containerSpec, LENIENT.containerSpec, value);
}

export function readSecurityContext(value: unknown): Parsed<SecurityContext> {
  return readWith<SecurityContext>(STRICT.securityContext, LENIENT.securityContext, value);
}

export const JsonPatchOperationSchema = z.object({
  op: z.string(),
  path: z.string(),
  value: z.unknown().optional(),
});
