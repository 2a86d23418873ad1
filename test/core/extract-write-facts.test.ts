import { describe, expect, it } from "vitest";
import { AuditEventSchema } from "../../functions/core/audit-event-schema.ts";
import { extractWriteFacts } from "../../functions/core/extract-write-facts.ts";
import type { WriteFacts } from "../../functions/core/write-facts.ts";
import { factsOf } from "../helpers/events.ts";
import { loadSample, type SampleEvent, variant } from "../helpers/sample-variants.ts";

const CHECKOUT_UID = "5f0c2a1e-8b7d-4c3a-9e21-6d4f8a0b9c11";

function factsOfEvent(event: SampleEvent, logGroup?: string): WriteFacts {
  return extractWriteFacts(AuditEventSchema.parse(event), logGroup);
}

function names(facts: WriteFacts): string[] {
  return facts.containers.map((container) => container.spec.name);
}

describe("body shapes: which containers a write added", () => {
  it("strategic merge patch from kubectl debug (the pod's first debug container)", () => {
    const facts = factsOf("kubectl-debug-general-target");
    expect(facts.bodyShape).toBe("strategic-merge-patch");
    expect(facts.bodyLogged).toBe(true);
    expect(names(facts)).toEqual(["debugger-x7k2p"]);
    const [container] = facts.containers;
    expect(container?.spec.image).toBe("busybox:1.36");
    expect(container?.spec.targetContainerName).toBe("app");
    expect(container?.addedCapabilities).toEqual(["SYS_PTRACE"]);
    expect(container?.profile).toBe("general");
  });

  it("strategic merge patch with $setElementOrder: only the new container, not the ones it lists by name", () => {
    const facts = factsOf("strategic-merge-set-element-order");
    expect(facts.bodyShape).toBe("strategic-merge-patch");
    expect(names(facts)).toEqual(["debugger-l5d2r"]);
  });

  it("JSON Patch to /spec/ephemeralContainers/-", () => {
    const facts = factsOf("json-patch-spec-path");
    expect(facts.bodyShape).toBe("json-patch");
    expect(names(facts)).toEqual(["inspect"]);
    expect(facts.containers[0]?.spec.command).toEqual(["sh", "-c", "cat /proc/1/environ; sleep 3600"]);
  });

  it("JSON Patch to the old /ephemeralContainers/- (EphemeralContainers object subresource)", () => {
    const facts = factsOf("json-patch-legacy-path");
    expect(facts.bodyShape).toBe("json-patch");
    expect(names(facts)).toEqual(["debugger-6vq2w"]);
    // The old subresource answered with an EphemeralContainers object: its metadata still names the pod.
    expect(facts.pod.uid).toBe(CHECKOUT_UID);
    expect(facts.pod.volumesKnown).toBe(false);
  });

  it("JSON Patch: add or replace of the whole list, other operations and paths ignored", () => {
    const event = variant("json-patch-spec-path", (e) => {
      e.requestObject = [
        { op: "test", path: "/metadata/uid", value: CHECKOUT_UID },
        {
          op: "replace",
          path: "/spec/ephemeralContainers",
          value: [{ name: "a", image: "alpine" }, { image: "no-name" }],
        },
        { op: "add", path: "/spec/containers/-", value: { name: "not-ephemeral", image: "alpine" } },
        { op: "add", path: "/spec/ephemeralContainers/1", value: { name: "b", image: "alpine" } },
        { op: "remove", path: "/spec/ephemeralContainers/0" },
        "not an operation",
      ];
    });
    const facts = factsOfEvent(event);
    expect(facts.bodyShape).toBe("json-patch");
    expect(names(facts)).toEqual(["a", "b"]);
    // Operations elsewhere in the pod cannot add an ephemeral container: the body still says what it adds.
    expect(facts.containersFrom).toBeUndefined();
  });

  describe("JSON Patch that builds a container piecewise: what the server stored is what counts", () => {
    /** The json-patch-spec-path sample with other operations; the response stores `stored` as the new container. */
    function piecewise(operations: unknown[], stored: Record<string, unknown>): SampleEvent {
      return variant("json-patch-spec-path", (e) => {
        e.requestObject = operations;
        const pod = e.responseObject as { spec: { ephemeralContainers: unknown[] } };
        pod.spec.ephemeralContainers = [stored];
      });
    }

    it("a securityContext added by a second operation on the new container's field", () => {
      const event = piecewise(
        [
          {
            op: "add",
            path: "/spec/ephemeralContainers/-",
            value: { name: "inspect", image: "alpine:3.20" },
          },
          { op: "add", path: "/spec/ephemeralContainers/0/securityContext", value: { privileged: true } },
        ],
        { name: "inspect", image: "alpine:3.20", securityContext: { privileged: true } },
      );
      const facts = factsOfEvent(event);
      expect(names(facts)).toEqual(["inspect"]);
      expect(facts.containers[0]?.securityContext?.privileged).toBe(true);
    });

    it("a container copied from the pod's own containers, mounts and all", () => {
      const event = piecewise(
        [{ op: "copy", from: "/spec/containers/0", path: "/spec/ephemeralContainers/-" }],
        {
          name: "app",
          image: "111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/checkout-api:2.14.3",
          volumeMounts: [{ name: "db-credentials", mountPath: "/etc/checkout/db", readOnly: true }],
        },
      );
      const facts = factsOfEvent(event);
      expect(names(facts)).toEqual(["app"]);
      expect(facts.containers[0]?.mounts).toEqual([
        { volume: "db-credentials", mountPath: "/etc/checkout/db", kind: "secret" },
      ]);
    });

    it("without a logged response, the containers the body names are kept", () => {
      const event = variant("json-patch-spec-path", (e) => {
        e.requestObject = [
          {
            op: "add",
            path: "/spec/ephemeralContainers/-",
            value: { name: "inspect", image: "alpine:3.20" },
          },
          { op: "add", path: "/spec/ephemeralContainers/0/securityContext", value: { privileged: true } },
        ];
        delete e.responseObject;
      });
      const facts = factsOfEvent(event);
      expect(names(facts)).toEqual(["inspect"]);
      expect(facts.containersFrom?.source).toBe("all-listed");
    });
  });

  describe("patch shapes that hide the container: the stored pod decides, else all are reported", () => {
    type Json = Record<string, unknown>;
    const privileged = { name: "inspect", image: "alpine:3.20", securityContext: { privileged: true } };
    const old = { name: "debugger-old", image: "busybox:1.36" };

    /** json-patch-spec-path with these operations, the stored pod holding `stored` with statuses for `running`. */
    function hidden(operations: unknown[], stored: Json[], running: string[] = []): SampleEvent {
      return variant("json-patch-spec-path", (e) => {
        e.requestObject = operations;
        const pod = e.responseObject as { spec: Json; status: Json };
        pod.spec.ephemeralContainers = stored;
        pod.status.ephemeralContainerStatuses = running.map((name) => ({ name, state: { running: {} } }));
      });
    }

    it("a JSON Patch replacing /spec: the new privileged container is read from the stored pod", () => {
      const facts = factsOf("json-patch-replace-spec");
      expect(names(facts)).toEqual(["inspect"]);
      expect(facts.containers[0]?.securityContext?.privileged).toBe(true);
      expect(facts.containersFrom).toEqual({
        source: "stored-pod",
        because: 'a JSON Patch "replace" to "/spec"',
      });
    });

    it.each([
      [
        "replace of the whole pod",
        { op: "replace", path: "", value: { spec: { ephemeralContainers: [old] } } },
      ],
      ["add of /spec", { op: "add", path: "/spec", value: { ephemeralContainers: [old] } }],
      ["copy into the list", { op: "copy", from: "/spec/containers/0", path: "/spec/ephemeralContainers/-" }],
      [
        "move into the list",
        { op: "move", from: "/metadata/annotations/x", path: "/spec/ephemeralContainers/1" },
      ],
      [
        "a field of a container",
        { op: "add", path: "/spec/ephemeralContainers/1/securityContext", value: {} },
      ],
      ["a path into the list not modelled", { op: "add", path: "/spec/ephemeralContainers/1/x/y", value: 1 }],
    ])("%s: only the container without a status is reported", (_name, operation) => {
      const facts = factsOfEvent(hidden([operation], [old, privileged], ["debugger-old"]));
      expect(names(facts)).toEqual(["inspect"]);
      expect(facts.containers[0]?.securityContext?.privileged).toBe(true);
      expect(facts.containersFrom?.source).toBe("stored-pod");
    });

    it("when every stored container already has a status, all are reported and the facts say so", () => {
      const event = hidden(
        [{ op: "replace", path: "/spec", value: {} }],
        [old, privileged],
        ["debugger-old", "inspect"],
      );
      const facts = factsOfEvent(event);
      expect(names(facts)).toEqual(["debugger-old", "inspect"]);
      expect(facts.containersFrom?.source).toBe("all-listed");
    });

    it("without a stored pod (Request level), the containers a replaced /spec lists are all reported", () => {
      const event = variant("json-patch-replace-spec", (e) => {
        delete e.responseObject;
      });
      const facts = factsOfEvent(event);
      expect(names(facts)).toEqual(["inspect"]);
      expect(facts.containersFrom?.source).toBe("all-listed");
    });

    it("without a stored pod, a copy into the list leaves the containers unknown, and says so", () => {
      const event = variant("json-patch-spec-path", (e) => {
        e.requestObject = [{ op: "copy", from: "/spec/containers/0", path: "/spec/ephemeralContainers/-" }];
        delete e.responseObject;
      });
      const facts = factsOfEvent(event);
      expect(facts.containers).toEqual([]);
      expect(facts.containersFrom).toEqual({
        source: "unknown",
        because: 'a JSON Patch "copy" to "/spec/ephemeralContainers/-"',
      });
    });

    it("an attacker's long path is quoted bounded", () => {
      const path = `/spec/ephemeralContainers/0/${"x".repeat(10_000)}`;
      const facts = factsOfEvent(hidden([{ op: "add", path, value: 1 }], [privileged]));
      expect(facts.containersFrom?.because?.length).toBeLessThan(200);
    });

    it("a whole list whose statuses were not logged cannot be told apart: all reported", () => {
      const event = variant("update-full-pod-client-go", (e) => {
        delete (e.requestObject as Json).status;
        delete e.responseObject;
      });
      const facts = factsOfEvent(event);
      expect(names(facts)).toEqual(["debugger-h4q9z", "diag"]);
      expect(facts.containersFrom).toEqual({ source: "all-listed", because: undefined });
    });
  });

  it("JSON merge patch: replaces the whole list, so the container the pod already had is not reported again", () => {
    const facts = factsOf("merge-patch");
    expect(facts.bodyShape).toBe("merge-patch");
    expect(names(facts)).toEqual(["dump"]);
  });

  it("update (PUT of the whole pod): pre-existing ephemeral containers with a status are not reported again", () => {
    const facts = factsOf("update-full-pod-client-go");
    expect(facts.verb).toBe("update");
    expect(facts.bodyShape).toBe("pod");
    expect(names(facts)).toEqual(["diag"]);
    expect(facts.pod.uid).toBe(CHECKOUT_UID);
  });

  it("Kubernetes 1.16–1.21 EphemeralContainers object body", () => {
    const event = variant("json-patch-legacy-path", (e) => {
      e.verb = "update";
      e.requestObject = {
        kind: "EphemeralContainers",
        apiVersion: "v1",
        metadata: { name: "checkout-api-7d9f8b6c5d-x2kqp", namespace: "shop" },
        ephemeralContainers: [{ name: "debugger-old", image: "busybox" }],
      };
    });
    const facts = factsOfEvent(event);
    expect(facts.bodyShape).toBe("ephemeral-containers-object");
    expect(names(facts)).toEqual(["debugger-old"]);
  });

  it("Metadata level: no body, no containers, and the pod's volumes are not known", () => {
    const facts = factsOf("metadata-level-no-body");
    expect(facts.bodyLogged).toBe(false);
    expect(facts.bodyTruncated).toBe(false);
    expect(facts.bodyShape).toBe("not-logged");
    expect(facts.containers).toEqual([]);
    expect(facts.pod.volumesKnown).toBe(false);
    expect(facts.namespace).toBe("shop");
    expect(facts.podName).toBe("checkout-api-7d9f8b6c5d-x2kqp");
  });

  it("truncated by the audit backend", () => {
    const facts = factsOf("truncated-body");
    expect(facts.bodyLogged).toBe(false);
    expect(facts.bodyTruncated).toBe(true);
  });

  it("an unrecognised body: the stored pod says which container is new", () => {
    const facts = factsOfEvent(variant("kubectl-debug-legacy-profile", (e) => (e.requestObject = "spec")));
    expect(facts.bodyShape).toBe("unrecognised");
    expect(names(facts)).toEqual(["debugger-q8w3n"]);
    expect(facts.containersFrom).toEqual({ source: "stored-pod", because: "a body of no known shape" });
  });

  it("an unrecognised body without a stored pod yields no container but is still a write, and says so", () => {
    const event = variant("kubectl-debug-legacy-profile", (e) => {
      e.requestObject = "spec";
      delete e.responseObject;
    });
    const facts = factsOfEvent(event);
    expect(facts.containers).toEqual([]);
    expect(facts.containersFrom?.source).toBe("unknown");
  });

  it("one malformed field does not hide the container next to it", () => {
    const event = variant("kubectl-debug-legacy-profile", (e) => {
      e.requestObject = {
        spec: {
          ephemeralContainers: [
            {
              name: "hidden",
              image: "alpine",
              env: "not-a-list",
              volumeMounts: [{ mountPath: "/x" }],
              stdin: "yes",
            },
          ],
        },
      };
    });
    expect(names(factsOfEvent(event))).toEqual(["hidden"]);
  });
});

describe("container facts", () => {
  it("normalises added capabilities: upper case, CAP_ prefix removed", () => {
    const event = variant("sys-admin-capability", (e) => {
      const body = e.requestObject as { spec: { ephemeralContainers: Array<Record<string, unknown>> } };
      const container = body.spec.ephemeralContainers[0];
      if (container)
        container.securityContext = { capabilities: { add: ["cap_sys_admin", " net_raw ", "BPF"] } };
    });
    expect(factsOfEvent(event).containers[0]?.addedCapabilities).toEqual(["SYS_ADMIN", "NET_RAW", "BPF"]);
  });

  it("reads Secrets through env valueFrom and envFrom", () => {
    expect(factsOf("secret-env").containers[0]?.secretEnv).toEqual(["checkout-db", "stripe-api-keys"]);
  });

  it("classifies mounts by the pod's volumes from responseObject", () => {
    expect(factsOf("token-volume-mount").containers[0]?.mounts).toEqual([
      {
        volume: "kube-api-access-7xk2p",
        mountPath: "/var/run/secrets/kubernetes.io/serviceaccount",
        kind: "service-account-token",
      },
    ]);
    expect(factsOf("secret-volume-mount").containers[0]?.mounts).toEqual([
      { volume: "db-credentials", mountPath: "/creds", kind: "secret" },
    ]);
    expect(factsOf("secrets-store-csi-mount").containers[0]?.mounts).toEqual([
      { volume: "aws-secrets", mountPath: "/s", kind: "secret" },
    ]);
    expect(factsOf("host-path-mount").containers[0]?.mounts).toEqual([
      { volume: "varlog", mountPath: "/host-log", kind: "host-path" },
    ]);
  });

  it("a token for another audience (IRSA) carries its audience; the Kubernetes API token carries none", () => {
    expect(factsOf("irsa-token-mount").containers[0]?.mounts).toEqual([
      {
        volume: "aws-iam-token",
        mountPath: "/var/run/secrets/eks.amazonaws.com/serviceaccount",
        kind: "service-account-token",
        audience: "sts.amazonaws.com",
      },
    ]);
    expect(factsOf("token-volume-mount").containers[0]?.mounts[0]?.audience).toBeUndefined();
  });

  it("EKS's AWS token volumes are recognised by name when the pod spec was not logged", () => {
    const event = variant("unknown-volume-request-level", (e) => {
      const body = e.requestObject as { spec: { ephemeralContainers: Array<Record<string, unknown>> } };
      const container = body.spec.ephemeralContainers[0];
      if (container)
        container.volumeMounts = [
          { name: "eks-pod-identity-token", mountPath: "/p" },
          { name: "aws-iam-token", mountPath: "/i" },
        ];
    });
    expect(factsOfEvent(event).containers[0]?.mounts).toEqual([
      {
        volume: "eks-pod-identity-token",
        mountPath: "/p",
        kind: "service-account-token",
        audience: "pods.eks.amazonaws.com",
      },
      {
        volume: "aws-iam-token",
        mountPath: "/i",
        kind: "service-account-token",
        audience: "sts.amazonaws.com",
      },
    ]);
  });

  it("a configMap volume is other; a projected Secret is a secret", () => {
    const event = variant("secret-volume-mount", (e) => {
      const body = e.requestObject as { spec: { ephemeralContainers: Array<Record<string, unknown>> } };
      const container = body.spec.ephemeralContainers[0];
      if (container)
        container.volumeMounts = [
          { name: "app-config", mountPath: "/cfg" },
          { name: "bundle", mountPath: "/bundle" },
          { name: "no-such-volume", mountPath: "/nope" },
        ];
      const pod = e.responseObject as { spec: { volumes: Array<Record<string, unknown>> } };
      pod.spec.volumes.push({ name: "bundle", projected: { sources: [{ secret: { name: "tls" } }] } });
    });
    expect(factsOfEvent(event).containers[0]?.mounts.map((m) => [m.volume, m.kind])).toEqual([
      ["app-config", "other"],
      ["bundle", "secret"],
      ["no-such-volume", "other"],
    ]);
  });

  it("without the pod spec (Request level) only the token volume is recognised, by its name", () => {
    const facts = factsOf("unknown-volume-request-level");
    expect(facts.pod.volumesKnown).toBe(false);
    expect(facts.containers[0]?.mounts).toEqual([
      { volume: "app-config", mountPath: "/cfg", kind: "unknown" },
    ]);
    const token = variant("unknown-volume-request-level", (e) => {
      const body = e.requestObject as { spec: { ephemeralContainers: Array<Record<string, unknown>> } };
      const container = body.spec.ephemeralContainers[0];
      if (container) container.volumeMounts = [{ name: "kube-api-access-7xk2p", mountPath: "/t" }];
    });
    expect(factsOfEvent(token).containers[0]?.mounts[0]?.kind).toBe("service-account-token");
  });
});

describe("pod context", () => {
  it("comes from responseObject: uid, controlling owner, service account, host namespaces", () => {
    const facts = factsOf("kubectl-debug-legacy-profile");
    expect(facts.pod).toEqual({
      uid: CHECKOUT_UID,
      owner: {
        kind: "ReplicaSet",
        name: "checkout-api-7d9f8b6c5d",
        uid: "b1e7d4c2-3a5f-4e6d-8c9b-0a1f2e3d4c5b",
        controller: true,
      },
      serviceAccountName: "checkout-api",
      hostNetwork: false,
      hostPID: false,
      hostIPC: false,
      static: false,
      volumesKnown: true,
    });
  });

  it("host namespaces and a DaemonSet owner", () => {
    const facts = factsOf("host-namespaces-pod");
    expect(facts.pod.hostNetwork).toBe(true);
    expect(facts.pod.hostPID).toBe(true);
    expect(facts.pod.hostIPC).toBe(false);
    expect(facts.pod.owner).toMatchObject({ kind: "DaemonSet", name: "node-exporter" });
  });

  it("mirror pods of static manifests are marked static", () => {
    const event = variant("kubectl-debug-legacy-profile", (e) => {
      const pod = e.responseObject as { metadata: Record<string, unknown> };
      pod.metadata.annotations = { "kubernetes.io/config.mirror": "5e3b0c1d9f2a" };
      pod.metadata.ownerReferences = [{ apiVersion: "v1", kind: "Node", name: "ip-10-0-12-34", uid: "n-1" }];
    });
    const facts = factsOfEvent(event);
    expect(facts.pod.static).toBe(true);
    expect(facts.pod.owner).toEqual({ kind: "Node", name: "ip-10-0-12-34", uid: "n-1" });
  });

  it("a failed write's Status response does not hide the pod sent in an update", () => {
    const event = variant("update-full-pod-client-go", (e) => {
      e.responseStatus = { code: 403, status: "Failure", reason: "Forbidden", message: "forbidden" };
      e.responseObject = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", code: 403 };
      e.annotations = { "authorization.k8s.io/decision": "forbid", "authorization.k8s.io/reason": "" };
    });
    const facts = factsOfEvent(event);
    expect(facts.outcome).toBe("forbidden");
    expect(facts.pod.uid).toBe(CHECKOUT_UID);
    expect(facts.pod.owner?.name).toBe("checkout-api-7d9f8b6c5d");
    expect(facts.pod.serviceAccountName).toBe("checkout-api");
    expect(facts.pod.volumesKnown).toBe(true);
    // The pod as the client read it carries the statuses: the container it already had is not new.
    expect(names(facts)).toEqual(["diag"]);
  });

  it("a failed patch has no pod context beyond objectRef", () => {
    const facts = factsOf("rbac-forbidden");
    expect(facts.pod.uid).toBeUndefined();
    expect(facts.pod.volumesKnown).toBe(false);
    expect(facts.namespace).toBe("shop");
    expect(facts.podName).toBe("checkout-api-7d9f8b6c5d-x2kqp");
  });
});

describe("actor, outcome and annotations", () => {
  it("an EKS IAM identity: uid, arn, session name, source IPs, user agent", () => {
    const facts = factsOf("kubectl-debug-legacy-profile", "/aws/eks/prod-eu1/cluster");
    expect(facts.actor).toEqual({
      username: "jane.doe",
      uid: "aws-iam-authenticator:111122223333:AROAQX7EXAMPLEJANE01",
      groups: ["platform-engineers", "system:authenticated"],
      kind: "user",
      sourceIPs: ["203.0.113.24"],
      userAgent: "kubectl/v1.34.2 (linux/amd64) kubernetes/8d2a4b1",
      arn: "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PlatformEngineer_4f1c2b9e7a3d5c80/jane.doe@example.com",
      sessionName: "jane.doe@example.com",
    });
    expect(facts.cluster).toBe("prod-eu1");
    expect(facts.logGroup).toBe("/aws/eks/prod-eu1/cluster");
    expect(facts.time).toBe("2026-11-20T09:14:03.579543Z");
    expect(facts.authorizationDecision).toBe("allow");
    expect(facts.authorizationReason).toContain('ClusterRoleBinding "platform-engineers-admin"');
    expect(facts.podSecurityEnforcePolicy).toBe("privileged:latest");
  });

  it.each([
    ["service-account-actor", "serviceaccount"],
    ["anonymous-actor", "anonymous"],
    ["json-patch-spec-path", "user"],
  ] as const)("%s: actor kind %s", (file, kind) => {
    expect(factsOf(file).actor.kind).toBe(kind);
  });

  it("impersonation keeps both identities", () => {
    const facts = factsOf("impersonation");
    expect(facts.actor.username).toBe("jane.doe");
    expect(facts.impersonatedUser).toEqual({
      username: "dev.alice",
      groups: ["developers", "system:authenticated"],
      kind: "user",
    });
  });

  it.each([
    ["kubectl-debug-legacy-profile", "created", 200],
    ["rbac-forbidden", "forbidden", 403],
    ["pod-security-denied", "denied", 403],
    ["validation-failed-422", "failed", 422],
  ] as const)("%s: outcome %s (HTTP %d)", (file, outcome, code) => {
    const facts = factsOf(file);
    expect(facts.outcome).toBe(outcome);
    expect(facts.responseCode).toBe(code);
  });

  it("Pod Security denial keeps the enforce policy and the message", () => {
    const facts = factsOf("pod-security-denied");
    expect(facts.podSecurityEnforcePolicy).toBe("baseline:latest");
    expect(facts.responseMessage).toContain('violates PodSecurity "baseline:latest"');
  });

  it("an admission denial without the decision annotation is recognised by its message", () => {
    const event = variant("pod-security-denied", (e) => {
      e.annotations = {};
    });
    expect(factsOfEvent(event).outcome).toBe("denied");
    const noStatus = variant("kubectl-debug-legacy-profile", (e) => {
      delete e.responseStatus;
    });
    expect(factsOfEvent(noStatus).outcome).toBe("failed");
  });

  it("the sample files are what their names say", () => {
    expect(loadSample("request-received-stage").stage).toBe("RequestReceived");
    expect(loadSample("read-get-pod-ephemeralcontainers").verb).toBe("get");
  });
});
