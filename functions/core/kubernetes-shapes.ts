import * as z from "zod";

/**
 * Narrow schemas for the parts of Kubernetes objects the detector reads out of audit bodies. Fields not named
 * here are ignored (not kept). They are lenient: wrong types degrade to "absent" (`.catch`) and bad list
 * entries are dropped, so an attacker cannot hide a container by sending one malformed field next to it.
 *
 * They are the definition; read-kubernetes-shapes.ts reads well-formed input the same way without zod's
 * per-field allocations and falls back to these schemas for anything else.
 */

/** An optional field; a wrong type reads as absent. */
const optional = <T extends z.ZodType>(schema: T) => schema.optional().catch(undefined);
/** A list; bad entries are dropped and a non-list reads as empty. */
const listOf = <T extends z.ZodType>(item: T) =>
  z
    .array(item.nullable().catch(null))
    .optional()
    .catch(undefined)
    .transform((items) =>
      (items ?? []).filter((entry): entry is NonNullable<typeof entry> => entry !== null),
    );

const optionalString = optional(z.string());
const optionalBool = optional(z.boolean());
const optionalInt = optional(z.number());

const profile = z.object({ type: optionalString, localhostProfile: optionalString });
const seLinuxOptions = z.object({
  type: optionalString,
  user: optionalString,
  role: optionalString,
  level: optionalString,
});
const windowsOptions = z.object({ hostProcess: optionalBool });

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
  seccompProfile: optional(profile),
  appArmorProfile: optional(profile),
  seLinuxOptions: optional(seLinuxOptions),
  windowsOptions: optional(windowsOptions),
});

/**
 * The fields of a pod's spec.securityContext that also exist on a container: every container, ephemeral ones
 * included, inherits them unless it sets its own (the kubelet's DetermineEffectiveSecurityContext; for
 * windowsOptions field by field). The pod-only fields (fsGroup, supplementalGroups, sysctls, …) are not read.
 */
const podSecurityContext = z.object({
  runAsUser: optionalInt,
  runAsGroup: optionalInt,
  runAsNonRoot: optionalBool,
  seccompProfile: optional(profile),
  appArmorProfile: optional(profile),
  seLinuxOptions: optional(seLinuxOptions),
  windowsOptions: optional(windowsOptions),
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
      securityContext: optional(podSecurityContext),
      volumes: listOf(volume),
      ephemeralContainers: optional(z.array(z.unknown())),
    }),
  ),
  status: optional(z.object({ ephemeralContainerStatuses: listOf(z.object({ name: z.string() })) })),
});

export const SecurityContextSchema = securityContext;
export type SecurityContext = z.infer<typeof SecurityContextSchema>;
export type PodSecurityContext = z.infer<typeof podSecurityContext>;
export const ContainerSpecSchema = containerSpec;
export type ContainerSpec = z.infer<typeof ContainerSpecSchema>;
export type Volume = z.infer<typeof volume>;
export const PodSchema = pod;
export type Pod = z.infer<typeof PodSchema>;

export const JsonPatchOperationSchema = z.object({
  op: z.string(),
  path: z.string(),
  value: z.unknown().optional(),
});
