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
import { mutatedSample, sampleAuditEvents } from "../helpers/mutate-json.ts";

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
    if (Array.isArray(body))
      lists.push(body.map((operation) => (isObject(operation) ? operation.value : undefined)));
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
  expect(schema.success).toBe(true);
  expect(fast.data).toStrictEqual(schema.data);
  return true;
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
    const kinds = fc.constantFrom<Kind>("pod", "containerSpec", "securityContext");
    const values = kinds.chain((kind) =>
      fc.tuple(
        fc.constant(kind),
        mutatedSample(
          shapes.filter((shape) => shape.kind === kind).map((shape) => shape.value),
          3,
        ),
      ),
    );
    let answered = 0;
    fc.assert(
      fc.property(values, ([kind, value]) => {
        if (expectSameAsSchema(kind, value)) answered++;
      }),
      { numRuns: 3000 },
    );
    // Most single-field changes (a renamed label, another image) keep a shape well-formed.
    expect(answered).toBeGreaterThan(1000);
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
      { numRuns: 2000 },
    );
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
