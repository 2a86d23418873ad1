import * as z from "zod";

/**
 * Narrow, loose schemas for the parts of Kubernetes objects the detector reads out of audit bodies.
 * Wrong types degrade to "absent" (`.catch(undefined)`) rather than failing the event: an attacker must not
 * be able to hide a container by sending one malformed field next to it.
 */
const optionalString = z.string().optional().catch(undefined);
const optionalBool = z.boolean().optional().catch(undefined);
const optionalInt = z.number().optional().catch(undefined);

export const SecurityContextSchema = z.looseObject({
  privileged: optionalBool,
  allowPrivilegeEscalation: optionalBool,
  runAsUser: optionalInt,
  runAsGroup: optionalInt,
  runAsNonRoot: optionalBool,
  readOnlyRootFilesystem: optionalBool,
  procMount: optionalString,
  capabilities: z
    .looseObject({
      add: z.array(z.string()).optional().catch(undefined),
      drop: z.array(z.string()).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
  seccompProfile: z
    .looseObject({ type: optionalString, localhostProfile: optionalString })
    .optional()
    .catch(undefined),
  appArmorProfile: z
    .looseObject({ type: optionalString, localhostProfile: optionalString })
    .optional()
    .catch(undefined),
  seLinuxOptions: z
    .looseObject({ type: optionalString, user: optionalString, role: optionalString, level: optionalString })
    .optional()
    .catch(undefined),
  windowsOptions: z.looseObject({ hostProcess: optionalBool }).optional().catch(undefined),
});
export type SecurityContext = z.infer<typeof SecurityContextSchema>;

const EnvVarSchema = z.looseObject({
  name: optionalString,
  valueFrom: z
    .looseObject({
      secretKeyRef: z.looseObject({ name: optionalString, key: optionalString }).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
});

const EnvFromSchema = z.looseObject({
  secretRef: z.looseObject({ name: optionalString }).optional().catch(undefined),
});

const VolumeMountSchema = z.looseObject({ name: z.string(), mountPath: optionalString });

function listOf<T extends z.ZodType>(item: T) {
  // Keep the good entries of a list with some bad ones.
  return z
    .array(z.unknown())
    .optional()
    .catch(undefined)
    .transform((items) =>
      (items ?? []).flatMap((entry) => {
        const parsed = item.safeParse(entry);
        return parsed.success ? [parsed.data as z.infer<T>] : [];
      }),
    );
}

export const ContainerSpecSchema = z.looseObject({
  name: z.string(),
  image: optionalString,
  command: z.array(z.string()).optional().catch(undefined),
  args: z.array(z.string()).optional().catch(undefined),
  targetContainerName: optionalString,
  securityContext: z.unknown().optional(),
  env: listOf(EnvVarSchema),
  envFrom: listOf(EnvFromSchema),
  volumeMounts: listOf(VolumeMountSchema),
  terminationMessagePolicy: optionalString,
  resources: z.unknown().optional(),
});
export type ContainerSpec = z.infer<typeof ContainerSpecSchema>;

const VolumeSchema = z.looseObject({
  name: z.string(),
  secret: z.unknown().optional(),
  hostPath: z.unknown().optional(),
  csi: z.looseObject({ driver: optionalString }).optional().catch(undefined),
  projected: z
    .looseObject({
      sources: listOf(
        z.looseObject({ serviceAccountToken: z.unknown().optional(), secret: z.unknown().optional() }),
      ),
    })
    .optional()
    .catch(undefined),
});
export type Volume = z.infer<typeof VolumeSchema>;

const OwnerReferenceSchema = z.looseObject({
  kind: z.string(),
  name: z.string(),
  uid: optionalString,
  controller: optionalBool,
});

export const PodSchema = z.looseObject({
  metadata: z
    .looseObject({
      name: optionalString,
      namespace: optionalString,
      uid: optionalString,
      annotations: z.record(z.string(), z.string()).optional().catch(undefined),
      ownerReferences: listOf(OwnerReferenceSchema),
    })
    .optional()
    .catch(undefined),
  spec: z
    .looseObject({
      serviceAccountName: optionalString,
      hostNetwork: optionalBool,
      hostPID: optionalBool,
      hostIPC: optionalBool,
      shareProcessNamespace: optionalBool,
      volumes: listOf(VolumeSchema),
      ephemeralContainers: z.array(z.unknown()).optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
  status: z
    .looseObject({
      ephemeralContainerStatuses: listOf(z.looseObject({ name: z.string() })),
    })
    .optional()
    .catch(undefined),
});
export type Pod = z.infer<typeof PodSchema>;

export const JsonPatchOperationSchema = z.looseObject({
  op: z.string(),
  path: z.string(),
  value: z.unknown().optional(),
});
