import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { KubernetesPods, type TokenSource } from "../../../functions/adapters/kubernetes/kubernetes-pods.ts";
import {
  generateTestCa,
  type KubernetesApiServer,
  podPath,
  startKubernetesApiServer,
} from "../../peers/kubernetes-api-server.ts";

const NS = "payments";
const NAME = "api-7d9f8b6c5-x2x4q";
const UID = "5b1f0c3e-2a47-4e7b-9d61-0f3c2b9a7e11";

class CountingTokens implements TokenSource {
  issued = 0;
  invalidated = 0;
  async token(): Promise<string> {
    return `token-${this.issued === 0 ? ++this.issued : this.issued}`;
  }
  invalidate(): void {
    this.invalidated++;
    this.issued++;
  }
}

let server: KubernetesApiServer;
let tokens: CountingTokens;
const sleeps: number[] = [];

/** The delete every test sends: the tampered pod by uid, 7 s grace, for real unless a test says otherwise. */
function deletion(overrides: { name?: string; dryRun?: boolean } = {}) {
  return { namespace: NS, name: NAME, uid: UID, gracePeriodSeconds: 7, dryRun: false, ...overrides };
}

function pods(overrides: { caData?: string; timeoutMs?: number } = {}) {
  return new KubernetesPods({
    cluster: {
      name: "prod",
      endpoint: server.url,
      certificateAuthorityData: overrides.caData ?? server.ca.data,
    },
    tokens,
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: overrides.timeoutMs ?? 5_000 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
}

beforeAll(async () => {
  server = await startKubernetesApiServer();
});
afterAll(async () => {
  await server.stop();
});
beforeEach(() => {
  server.reset();
  sleeps.length = 0;
  tokens = new CountingTokens();
  server.putPod({
    namespace: NS,
    name: NAME,
    uid: UID,
    ownerReferences: [
      { apiVersion: "apps/v1", kind: "ReplicaSet", name: "api-7d9f8b6c5", uid: "rs-uid", controller: true },
    ],
    ephemeralContainers: [
      "debugger-x7k2p",
      { name: "debugger-q4r8t", image: "registry.example/tools:2", targetContainerName: "app" },
    ],
  });
});

describe("KubernetesPods against an HTTPS API server with its own CA", () => {
  it("reads the pod's uid, controller and ephemeral containers (image, target) with the bearer token", async () => {
    const result = await pods().getPod(NS, NAME);
    expect(result).toEqual({
      kind: "found",
      pod: {
        uid: UID,
        owner: { kind: "ReplicaSet", name: "api-7d9f8b6c5", uid: "rs-uid", controller: true },
        static: false,
        beingDeleted: false,
        ephemeralContainers: [
          { name: "debugger-x7k2p", image: "busybox", targetContainerName: undefined },
          { name: "debugger-q4r8t", image: "registry.example/tools:2", targetContainerName: "app" },
        ],
      },
    });
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({ method: "GET", path: podPath(NS, NAME), token: "token-1" });
  });

  it("recognises a mirror pod by its annotation", async () => {
    server.putPod({
      namespace: "kube-system",
      name: "etcd-node-1",
      uid: "mirror-uid",
      annotations: { "kubernetes.io/config.mirror": "abc" },
      ownerReferences: [
        { apiVersion: "v1", kind: "Node", name: "node-1", uid: "node-uid", controller: true },
      ],
    });
    const result = await pods().getPod("kube-system", "etcd-node-1");
    expect(result.kind === "found" && result.pod.static).toBe(true);
  });

  it("deletes with the uid precondition and grace period, and the pod is gone", async () => {
    const result = await pods().deletePod(deletion());
    expect(result).toEqual({ kind: "accepted" });
    const [request] = server.deletes();
    expect(request?.path).toBe(podPath(NS, NAME));
    expect(request?.query).toEqual({ gracePeriodSeconds: "7" });
    expect(request?.body).toEqual({
      apiVersion: "v1",
      kind: "DeleteOptions",
      gracePeriodSeconds: 7,
      preconditions: { uid: UID },
    });
    expect(server.hasPod(NS, NAME)).toBe(false);
  });

  it("sends dryRun=All in dry run and the pod survives", async () => {
    const result = await pods().deletePod(deletion({ dryRun: true }));
    expect(result).toEqual({ kind: "accepted" });
    expect(server.deletes()[0]?.query).toEqual({ dryRun: "All", gracePeriodSeconds: "7" });
    expect(server.hasPod(NS, NAME)).toBe(true);
  });

  it("reports a replaced pod (409) without deleting the replacement", async () => {
    server.putPod({ namespace: NS, name: NAME, uid: "new-uid", ephemeralContainers: [] });
    const result = await pods().deletePod(deletion());
    expect(result.kind).toBe("replaced");
    expect(result.kind === "replaced" && result.message).toContain("Precondition failed");
    expect(server.hasPod(NS, NAME)).toBe(true);
    expect(server.deletes()).toHaveLength(1);
  });

  it("reports a pod already gone (404) without retrying", async () => {
    const result = await pods().deletePod(deletion({ name: "no-such-pod" }));
    expect(result).toEqual({ kind: "gone" });
    expect(server.deletes()).toHaveLength(1);
  });

  it("retries a 500 and then succeeds", async () => {
    server.script("DELETE", podPath(NS, NAME), [{ status: 500, message: "etcdserver: leader changed" }]);
    const result = await pods().deletePod(deletion());
    expect(result).toEqual({ kind: "accepted" });
    expect(server.deletes()).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
    expect(server.hasPod(NS, NAME)).toBe(false);
  });

  it("says when a pod found gone on retry may have been deleted by the unanswered first attempt", async () => {
    server.script("DELETE", podPath(NS, NAME), [{ status: 503 }]);
    server.removePod(NS, NAME);
    const result = await pods().deletePod(deletion());
    expect(result).toEqual({ kind: "gone", afterUncertainAttempt: true });
    expect(server.deletes()).toHaveLength(2);
  });

  it("honours Retry-After on 429 (within the cap)", async () => {
    server.script("DELETE", podPath(NS, NAME), [{ status: 429, retryAfterSeconds: 1 }]);
    const result = await pods().deletePod(deletion());
    expect(result).toEqual({ kind: "accepted" });
    expect(sleeps).toEqual([5]);
  });

  it("gives up after the bounded attempts on persistent 503s", async () => {
    server.script("DELETE", podPath(NS, NAME), [
      { status: 503 },
      { status: 503 },
      { status: 503 },
      { status: 503 },
    ]);
    const result = await pods().deletePod(deletion());
    expect(result.kind).toBe("error");
    expect(result.kind === "error" && result.message).toContain("HTTP 503");
    expect(server.deletes()).toHaveLength(3);
    expect(server.hasPod(NS, NAME)).toBe(true);
  });

  it("abandons a request that gets no answer and retries it", async () => {
    server.script("DELETE", podPath(NS, NAME), [{ hang: true }]);
    const result = await pods({ timeoutMs: 300 }).deletePod(deletion());
    expect(result).toEqual({ kind: "accepted" });
    expect(server.deletes()).toHaveLength(2);
  });

  it("renews the token once after a 401 and carries on with the new one", async () => {
    server.checkToken((token) => token !== "token-1");
    const result = await pods().deletePod(deletion());
    expect(result).toEqual({ kind: "accepted" });
    expect(server.deletes().map((request) => request.token)).toEqual(["token-1", "token-2"]);
  });

  it("reports 401 after renewal as an access-entry problem, and 403 as RBAC", async () => {
    server.checkToken(() => false);
    const unauthenticated = await pods().deletePod(deletion());
    expect(unauthenticated.kind).toBe("unauthenticated");
    expect(server.deletes()).toHaveLength(2);

    server.checkToken(undefined);
    server.script("DELETE", podPath(NS, NAME), [
      { status: 403, message: 'pods "api" is forbidden: User "remediator" cannot delete resource "pods"' },
    ]);
    const forbidden = await pods().deletePod(deletion());
    expect(forbidden).toEqual({
      kind: "forbidden",
      message: 'pods "api" is forbidden: User "remediator" cannot delete resource "pods"',
    });
    expect(server.hasPod(NS, NAME)).toBe(true);
  });

  it("refuses a server whose certificate does not chain to the cluster CA, and sends it nothing", async () => {
    const otherCa = await generateTestCa("some other CA");
    const result = await pods({ caData: otherCa.data }).deletePod(deletion());
    expect(result.kind).toBe("error");
    expect(result.kind === "error" && result.message).toContain("TLS verification against the cluster CA");
    expect(server.requests).toHaveLength(0);
    expect(sleeps).toHaveLength(0);
    expect(server.hasPod(NS, NAME)).toBe(true);
  });
});
