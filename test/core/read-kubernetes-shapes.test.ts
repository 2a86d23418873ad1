import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ContainerSpecSchema,
  PodSchema,
  SecurityContextSchema,
} from "../../functions/core/kubernetes-shapes.ts";
import {
  readContainerSpec,
  readPod,
  readSecurityContext,
  readWithoutSchema,
} from "../../functions/core/read-kubernetes-shapes.ts";
import { jsonPaths, mutatedSample, sampleAuditEvents, withFieldAt } from "../helpers/mutate-json.ts";

/**
 * The hand-written readers must never disagree with the zod schemas they stand in for: whenever a reader
 * answers, its answer is the schema's; when it does not, the schema decides. Checked on every pod, container
 * and securityContext in the sample events, on the same with one field anywhere replaced or removed, and on
 * arbitrary values.
 */

type Kind = "pod" | "containerSpec" | "securityContext";
const SCHEMAS = {
  pod: PodSchema,
  containerSpec: ContainerSpecSchema,
  securityContext: SecurityContextSchema,
};

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Every pod, container spec and securityContext a sample event carries, with the reader that reads it. */
function shapesIn(event: unknown): Array<{ kind: Kind; value: unknown }> {
  const found: Array<{ kind: Kind; value: unknown }> = [];
  const visitContainer = (container: unknown) => {
    found.push({ kind: "containerSpec", value: container });
    if (isObject(container) && container.securityContext !== undefined) {
      found.push({ kind: "securityContext", value: container.securityContext });
    }
  };
  const visitBody = (body: unknown) => {
    const spec = isObject(body) && isObject(body.spec) ? body.spec : undefined;
    // A failed write's responseObject is a Status, never read as a pod.
    if (isObject(body) && body.kind !== "Status" && (body.kind === "Pod" || isObject(body.metadata)))
      found.push({ kind: "pod", value: body });
    const lists = [spec?.ephemeralContainers, isObject(body) ? body.ephemeralContainers : undefined];
    // A JSON Patch: each operation's value is a container or a list of them, or a whole spec for "/spec".
    if (Array.isArray(body))
      lists.push(
        body.map((operation) => {
          if (!isObject(operation)) return undefined;
          const value = operation.value;
          return operation.path === "/spec" && isObject(value) ? value.ephemeralContainers : value;
        }),
      );
    for (const list of lists) if (Array.isArray(list)) list.flat().forEach(visitContainer);
  };
  if (isObject(event)) {
    visitBody(event.requestObject);
    visitBody(event.responseObject);
  }
  return found;
}

function expectSameAsSchema(kind: Kind, value: unknown): boolean {
  const fast = readWithoutSchema(kind, value);
  if (fast === undefined) return false;
  const schema = SCHEMAS[kind].safeParse(value);
  // isDeepStrictEqual first: vitest's matcher is slow, and this runs tens of thousands of times.
  if (!schema.success || !isDeepStrictEqual(fast.data, schema.data)) {
    expect(schema.success).toBe(true);
    expect(fast.data).toStrictEqual(schema.data);
  }
  // Field order too (isDeepStrictEqual ignores it): the hand-written readers copy fields in the schema's order,
  // so nothing that lists a parsed shape's fields can tell which one read it.
  const [fastJson, schemaJson] = [JSON.stringify(fast.data), JSON.stringify(schema.data)];
  if (fastJson !== schemaJson) expect(fastJson).toBe(schemaJson);
  return true;
}

/** A sample pod and container with every field the readers know filled in, which no single sample has. */
function richShapes(): Array<{ kind: Kind; value: unknown }> {
  type Json = Record<string, unknown>;
  const sample = structuredClone(shapes.find((shape) => shape.kind === "pod")?.value) as Json;
  const metadata = { ...(sample.metadata as Json) };
  metadata.annotations = { "kubernetes.io/config.mirror": "3f2a", "kubectl.kubernetes.io/restartedAt": "x" };
  metadata.ownerReferences = [{ kind: "Node", name: "ip-10-0-1-2", uid: "u-1", controller: true }];
  const spec: Json = { ...(sample.spec as Json), hostNetwork: true, hostPID: false, hostIPC: true };
  spec.shareProcessNamespace = true;
  spec.securityContext = {
    runAsUser: 0,
    runAsGroup: 0,
    runAsNonRoot: false,
    fsGroup: 2000,
    seccompProfile: { type: "Unconfined" },
    appArmorProfile: { type: "Localhost", localhostProfile: "k8s-apparmor-example" },
    seLinuxOptions: { type: "spc_t", user: "system_u", role: "system_r", level: "s0:c1,c2" },
    windowsOptions: { hostProcess: true, runAsUserName: "NT AUTHORITY\\SYSTEM" },
  };
  spec.volumes = [
    { name: "creds", secret: { secretName: "db" } },
    { name: "root", hostPath: { path: "/" } },
    { name: "vault", csi: { driver: "secrets-store.csi.k8s.io", readOnly: true } },
    {
      name: "token",
      projected: { sources: [{ serviceAccountToken: { audience: "sts.amazonaws.com" } }, { secret: {} }] },
    },
  ];
  const pod: Json = { ...sample, metadata, spec };
  pod.status = { ephemeralContainerStatuses: [{ name: "debugger", ready: false }] };
  const container = {
    name: "debugger",
    image: "busybox",
    command: ["sh"],
    args: ["-c", "id"],
    targetContainerName: "app",
    env: [{ name: "A", valueFrom: { secretKeyRef: { name: "db", key: "password" } } }],
    envFrom: [{ secretRef: { name: "db" } }],
    volumeMounts: [{ name: "creds", mountPath: "/creds" }],
    terminationMessagePolicy: "File",
    resources: {},
    securityContext: {},
  };
  const securityContext = {
    privileged: true,
    allowPrivilegeEscalation: true,
    runAsUser: 0,
    runAsGroup: 0,
    runAsNonRoot: false,
    readOnlyRootFilesystem: false,
    procMount: "Unmasked",
    capabilities: { add: ["SYS_ADMIN"], drop: ["ALL"] },
    seccompProfile: { type: "Localhost", localhostProfile: "p" },
    appArmorProfile: { type: "Unconfined" },
    seLinuxOptions: { type: "spc_t", user: "u", role: "r", level: "s0" },
    windowsOptions: { hostProcess: true },
  };
  return [
    { kind: "pod", value: pod },
    { kind: "containerSpec", value: container },
    { kind: "securityContext", value: securityContext },
  ];
}

/** A shape's kind and layout: its JSON with every string, number and boolean replaced by its type. */
function layoutOf(shape: { kind: Kind; value: unknown }): string {
  return `${shape.kind}:${JSON.stringify(shape.value, (_key, value: unknown) =>
    typeof value === "object" || value === undefined ? value : typeof value,
  )}`;
}

const seeds = sampleAuditEvents();
const shapes = seeds.flatMap(shapesIn);

describe("Kubernetes shape readers", () => {
  it("read every pod, container and securityContext of the samples themselves, as the schemas do", () => {
    expect(shapes.filter((shape) => shape.kind === "pod").length).toBeGreaterThan(20);
    expect(shapes.filter((shape) => shape.kind === "securityContext").length).toBeGreaterThan(20);
    for (const { kind, value } of shapes) {
      // Each sample is well-formed, so the reader must answer (or the fast path never runs).
      expect(expectSameAsSchema(kind, value), `${kind} ${JSON.stringify(value).slice(0, 120)}`).toBe(true);
    }
  });

  it("agree with the schemas on sample shapes with one field replaced or removed", () => {
    // One arbitrary per kind, made once: mutatedSample indexes every path of its seeds.
    const values = fc.oneof(
      ...(["pod", "containerSpec", "securityContext"] as const).map((kind) =>
        fc.tuple(
          fc.constant(kind),
          mutatedSample(
            shapes.filter((shape) => shape.kind === kind).map((shape) => shape.value),
            3,
          ),
        ),
      ),
    );
    let answered = 0;
    fc.assert(
      fc.property(values, ([kind, value]) => {
        if (expectSameAsSchema(kind, value)) answered++;
      }),
      // Bounded so the test stays under a second on a loaded 2-core machine; the exhaustive test below covers
      // every single-field change of every distinct layout.
      { numRuns: 1500 },
    );
    // Most single-field changes (a renamed label, another image) keep a shape well-formed.
    expect(answered).toBeGreaterThan(500);
  });

  it("agree with the schemas when any one field of a sample shape is removed or has another type", () => {
    // One shape per layout (which fields, of which types): samples that differ only in names and values would
    // repeat the same checks.
    const distinct = [
      ...new Map([...shapes, ...richShapes()].map((shape) => [layoutOf(shape), shape])).values(),
    ];
    const replacements: unknown[] = [null, 1, "x", true, [], {}, [null], [{}]];
    let checked = 0;
    for (const { kind, value } of distinct) {
      for (const path of jsonPaths(value)) {
        if (path.length === 0) continue;
        expectSameAsSchema(kind, withFieldAt(value, path, undefined, true));
        for (const replacement of replacements)
          expectSameAsSchema(kind, withFieldAt(value, path, replacement, false));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it("agree with the schemas on arbitrary values", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Kind>("pod", "containerSpec", "securityContext"),
        fc.anything(),
        (kind, value) => {
          expectSameAsSchema(kind, value);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("agree with the schemas on hostile shapes: huge lists, deep nesting, odd entries among thousands", () => {
    let deep: unknown = { type: "Unconfined" };
    for (let level = 0; level < 300; level++) deep = { type: "Localhost", nested: deep };
    const many = <T>(count: number, make: (index: number) => T): T[] =>
      Array.from({ length: count }, (_, index) => make(index));
    const env = many(1_000, (index) => ({
      name: `V${index}`,
      valueFrom: { secretKeyRef: { name: `s${index}`, key: "k" } },
    }));
    const mounts = many(1_000, (index) => ({ name: `vol-${index}`, mountPath: `/m/${index}` }));
    const hostile: Array<{ kind: Kind; value: unknown }> = [
      {
        kind: "containerSpec",
        value: {
          name: "d",
          command: many(2_000, (index) => `arg${index}`),
          env,
          envFrom: many(1_000, (index) => ({ secretRef: { name: `s${index}` } })),
          volumeMounts: mounts,
          resources: deep,
          securityContext: deep,
        },
      },
      // One odd entry at the end of thousands of good ones: the reader gives way to the schema, which drops it.
      { kind: "containerSpec", value: { name: "d", env: [...env, null] } },
      { kind: "containerSpec", value: { name: "d", volumeMounts: [...mounts, { name: 7 }] } },
      { kind: "containerSpec", value: { name: "d", command: [...many(1_000, String), 1] } },
      { kind: "containerSpec", value: { name: "d", env: [{ valueFrom: { secretKeyRef: deep } }] } },
      {
        kind: "securityContext",
        value: {
          capabilities: { add: many(2_000, (index) => `CAP_${index}`), drop: ["ALL"] },
          seccompProfile: deep,
          seLinuxOptions: { type: "spc_t", extra: deep },
          windowsOptions: { hostProcess: true, nested: deep },
        },
      },
      { kind: "securityContext", value: { capabilities: { add: [...many(1_000, String), null] } } },
      { kind: "securityContext", value: { runAsUser: Number.POSITIVE_INFINITY } },
      { kind: "securityContext", value: { runAsUser: Number.NaN, privileged: "true" } },
      { kind: "securityContext", value: { seccompProfile: { type: deep } } },
      {
        kind: "pod",
        value: {
          metadata: {
            name: "p",
            ownerReferences: many(1_000, (index) => ({ kind: "R", name: `r${index}` })),
          },
          spec: {
            securityContext: { runAsUser: 0, seccompProfile: deep, seLinuxOptions: { level: "s0" } },
            volumes: many(1_000, (index) => ({ name: `v${index}`, secret: deep })),
            ephemeralContainers: many(300, () => deep),
          },
        },
      },
      { kind: "pod", value: { spec: { securityContext: { runAsGroup: "0" } } } },
      { kind: "pod", value: { spec: { securityContext: { windowsOptions: { hostProcess: 1 } } } } },
    ];
    let answered = 0;
    for (const { kind, value } of hostile) if (expectSameAsSchema(kind, value)) answered++;
    // The well-formed ones (however large or deep their passed-through values) take the fast path.
    expect(answered).toBe(4);
  });

  it("fall back to the lenient schemas for malformed input, so a bad field cannot hide the rest", () => {
    const pod = readPod({
      metadata: { name: "web", ownerReferences: [null, { kind: "ReplicaSet", name: "web-1" }] },
      spec: { hostPID: "yes", volumes: [{ name: "token", projected: { sources: "x" } }] },
    });
    // toEqual: the lenient schema leaves a field it caught as an undefined member.
    expect(pod).toEqual({
      success: true,
      data: {
        metadata: { name: "web", ownerReferences: [{ kind: "ReplicaSet", name: "web-1" }] },
        spec: { volumes: [{ name: "token", projected: { sources: [] } }] },
      },
    });
    const container = readContainerSpec({
      name: "debugger",
      securityContext: { privileged: true },
      volumeMounts: [{ name: 1 }, { name: "token", mountPath: "/var/run/secrets" }],
    });
    expect(container.success && container.data.volumeMounts).toStrictEqual([
      { name: "token", mountPath: "/var/run/secrets" },
    ]);
    const context = readSecurityContext({ privileged: "true", capabilities: { add: ["SYS_ADMIN"] } });
    expect(context).toEqual({ success: true, data: { capabilities: { add: ["SYS_ADMIN"] } } });
  });
});
