import { readFileSync } from "node:fs";
import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { EKSClient } from "@aws-sdk/client-eks";
import { SNSClient } from "@aws-sdk/client-sns";
import type { Context } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { IdempotencyStore } from "../functions/adapters/aws/act-once.ts";
import { findingMessage } from "../functions/adapters/aws/sns-message.ts";
import { decodeDocument } from "../functions/core/decode-input.ts";
import { detectionConfig } from "../functions/core/detection-config.ts";
import { Detector } from "../functions/core/detector.ts";
import { type Finding, FindingSchema } from "../functions/core/finding.ts";
import { type RemediationPolicyInput, remediationPolicy } from "../functions/core/remediation/policy.ts";
import { type RemediationOutcome, RemediationOutcomeSchema } from "../functions/core/remediation-outcome.ts";
import {
  createRemediateHandler,
  REMEDIATION_KEY_PREFIX,
  type RemediateSummary,
} from "../functions/remediation/remediate-invocation.ts";
import { remediationIdempotency, wireRemediation } from "../functions/remediation/wiring.ts";
import { livePodOf } from "./helpers/live-pod.ts";
import {
  type DynamoPeer,
  idempotencyTable,
  startDynalite,
  TEST_CREDENTIALS,
  TEST_REGION,
} from "./peers/dynalite.ts";
import { type EksServer, startEksServer } from "./peers/eks-server.ts";
import {
  type FakePod,
  generateTestCa,
  type KubernetesApiServer,
  podPath,
  startKubernetesApiServer,
} from "./peers/kubernetes-api-server.ts";
import { type SnsServer, startSnsServer } from "./peers/sns-server.ts";

const CLUSTER = "prod-eu";
const WRONG_CA_CLUSTER = "prod-impostor";
const TOPIC_ARN = "arn:aws:sns:us-east-1:111122223333:ephemeral-guard-test-alerts";
const RATE_LIMIT_TABLE = {
  name: "remediation-rate-limit",
  partitionKey: "counter",
  ttlAttribute: "expiresAt",
};
const WINDOW_SECONDS = 600;
const IDEMPOTENCY_TABLE = "idempotency";
/** What Lambda's context would say: the claim of a finding lives at most this long. */
const REMAINING_MS = 60_000;

let kube: KubernetesApiServer;
let eks: EksServer;
let dynamo: DynamoPeer;
let sns: SnsServer;
/** Each test runs in its own rate-limit window, so tests do not share a budget. */
let windowIndex = 0;
let clock: { now: Date };

/** A finding exactly as detect would publish it, from a sample audit event. */
function findingFrom(file: string): Finding {
  const path = `events/audit/${file}`;
  const detector = new Detector(detectionConfig({ cluster: CLUSTER }));
  const [finding] = detector.ingest(decodeDocument(JSON.parse(readFileSync(path, "utf8")), path));
  if (!finding) throw new Error(`${file} produced no finding`);
  return finding;
}

/** The critical sample: `kubectl debug --profile=sysadmin` on a Deployment's pod. */
const PRIVILEGED = "privileged-sysadmin-profile.json";

/** The same finding under another audit ID: a new write, not a redelivery. */
function anotherWrite(finding: Finding, index: number): Finding {
  return { ...finding, auditID: `${finding.auditID.slice(0, -4)}${String(index).padStart(4, "0")}` };
}

/** Another pod of the same Deployment, for tests that need several targets. */
function sibling(finding: Finding, index: number): Finding {
  return {
    ...anotherWrite(finding, index),
    pod: { ...finding.pod, name: `${finding.pod.name}-${index}`, uid: `${finding.pod.uid}-${index}` },
  };
}

function snsEvent(
  ...messages: { body: string; attributes: Record<string, { DataType: string; StringValue: string }> }[]
) {
  return {
    Records: messages.map((message, index) => ({
      EventSource: "aws:sns",
      EventVersion: "1.0",
      EventSubscriptionArn: `${TOPIC_ARN}:sub`,
      Sns: {
        Type: "Notification",
        MessageId: `msg-${index}`,
        TopicArn: TOPIC_ARN,
        Message: message.body,
        Timestamp: clock.now.toISOString(),
        MessageAttributes: Object.fromEntries(
          Object.entries(message.attributes).map(([name, value]) => [
            name,
            { Type: value.DataType, Value: value.StringValue },
          ]),
        ),
      },
    })),
  };
}

function deliver(...findings: Finding[]) {
  return snsEvent(...findings.map(findingMessage));
}

const silent = new Logger({ serviceName: "remediate-test", logLevel: "SILENT" });

function idempotency(): IdempotencyStore {
  return remediationIdempotency(dynamo.client, { tableName: IDEMPOTENCY_TABLE, expiresAfterSeconds: 3600 });
}

function remediateHandler(
  policy: RemediationPolicyInput = {},
  options: { idempotency?: IdempotencyStore } = {},
): (event: unknown) => Promise<RemediateSummary> {
  const parsed = remediationPolicy({ mode: "enforce", clusters: [CLUSTER, WRONG_CA_CLUSTER], ...policy });
  const { mode } = parsed;
  const remediation =
    mode === "off"
      ? undefined
      : wireRemediation({
          policy: { ...parsed, mode },
          region: TEST_REGION,
          tableName: RATE_LIMIT_TABLE.name,
          eks: new EKSClient({ endpoint: eks.endpoint, region: TEST_REGION, credentials: TEST_CREDENTIALS }),
          dynamo: dynamo.client,
          credentials: async () => ({ ...TEST_CREDENTIALS, sessionToken: "test-session" }),
          now: () => clock.now,
          retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 },
          sleep: async () => undefined,
          warn: () => undefined,
        });
  const handler = createRemediateHandler({
    remediation,
    idempotency: options.idempotency ?? idempotency(),
    sns: new SNSClient({ endpoint: sns.endpoint, region: TEST_REGION, credentials: TEST_CREDENTIALS }),
    topicArn: TOPIC_ARN,
    logger: silent,
  });
  return (event) => handler(event, { remainingTimeInMillis: () => REMAINING_MS });
}

/** The remediation outcomes on the topic, as the Slack notifier will receive them. */
function publishedOutcomes(): { outcome: RemediationOutcome; attributes: Record<string, string> }[] {
  return sns.published
    .filter((message) => message.messageAttributes.messageType?.value === "remediation")
    .map((message) => ({
      outcome: RemediationOutcomeSchema.parse(JSON.parse(message.message)),
      attributes: Object.fromEntries(
        Object.entries(message.messageAttributes).map(([name, attribute]) => [name, attribute.value]),
      ),
    }));
}

function onlyOutcome(): RemediationOutcome {
  const outcomes = publishedOutcomes();
  expect(outcomes).toHaveLength(1);
  const [first] = outcomes;
  if (!first) throw new Error("no outcome published");
  return first.outcome;
}

beforeAll(async () => {
  [kube, eks, dynamo, sns] = await Promise.all([
    startKubernetesApiServer(),
    startEksServer(),
    startDynalite([RATE_LIMIT_TABLE, idempotencyTable(IDEMPOTENCY_TABLE)]),
    startSnsServer(),
  ]);
  eks.putCluster({ name: CLUSTER, endpoint: kube.url, caData: kube.ca.data });
  // Same endpoint, but DescribeCluster hands out a CA that did not sign the server's certificate.
  eks.putCluster({
    name: WRONG_CA_CLUSTER,
    endpoint: kube.url,
    caData: (await generateTestCa("impostor CA")).data,
  });
});

afterAll(async () => {
  await Promise.all([kube?.stop(), eks?.stop(), dynamo?.stop(), sns?.stop()]);
});

beforeEach(async () => {
  // Tests deliver the same sample findings: each starts with no remediation recorded.
  await dynamo.clearTable(IDEMPOTENCY_TABLE);
  kube.reset();
  sns.clear();
  windowIndex++;
  clock = { now: new Date(Date.UTC(2026, 10, 20, 9, 0, 0) + windowIndex * WINDOW_SECONDS * 1000) };
});

describe("remediate: a critical created finding", () => {
  it("deletes the pod that received the container, with its uid and the grace period, and reports it", async () => {
    const finding = findingFrom(PRIVILEGED);
    expect(finding).toMatchObject({ severity: "critical", outcome: "created", cluster: CLUSTER });
    kube.putPod(livePodOf(finding));

    const summary = await remediateHandler({ gracePeriodSeconds: 15 })(deliver(finding));

    const [request, ...others] = kube.deletes();
    expect(others).toHaveLength(0);
    expect(request?.path).toBe(podPath(finding.pod.namespace, finding.pod.name));
    expect(request?.query).toEqual({ gracePeriodSeconds: "15" });
    expect(request?.body).toMatchObject({ gracePeriodSeconds: 15, preconditions: { uid: finding.pod.uid } });
    expect(request?.token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    expect(kube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(false);

    const outcome = onlyOutcome();
    expect(outcome).toMatchObject({
      auditID: finding.auditID,
      cluster: CLUSTER,
      mode: "enforce",
      result: "deleted",
      pod: { namespace: finding.pod.namespace, name: finding.pod.name, uid: finding.pod.uid },
    });
    expect(outcome.detail).toContain("15s grace period");
    expect(publishedOutcomes()[0]?.attributes).toMatchObject({
      messageType: "remediation",
      result: "deleted",
      cluster: CLUSTER,
      namespace: finding.pod.namespace,
    });
    expect(summary.outcomes.deleted).toBe(1);
  });

  it("in dry run calls DELETE with dryRun=All, leaves the pod, and reports would-delete", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding));

    await remediateHandler({ mode: "dry-run" })(deliver(finding));

    expect(kube.deletes()).toHaveLength(1);
    expect(kube.deletes()[0]?.query).toMatchObject({ dryRun: "All" });
    expect(kube.deletes()[0]?.body).toMatchObject({ preconditions: { uid: finding.pod.uid } });
    expect(kube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(true);
    expect(onlyOutcome()).toMatchObject({
      mode: "dry-run",
      result: "would-delete",
      auditID: finding.auditID,
    });
  });

  it("does not delete a pod replaced between the read and the delete (409) and says so", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding));
    // The API server's answer when the uid precondition no longer holds.
    kube.script("DELETE", podPath(finding.pod.namespace, finding.pod.name), [
      { status: 409, message: "Precondition failed: UID in precondition: a, UID in object meta: b" },
    ]);

    await remediateHandler()(deliver(finding));

    expect(kube.deletes()).toHaveLength(1);
    expect(kube.deletes()[0]?.body).toMatchObject({ preconditions: { uid: finding.pod.uid } });
    expect(kube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(true);
    const outcome = onlyOutcome();
    expect(outcome).toMatchObject({ result: "skipped", reason: "pod-replaced" });
    expect(outcome.detail).toContain("already replaced");
  });

  it("spares a replacement pod with the same name: its uid is not the finding's", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding, { uid: "0a0a0a0a-replacement", ephemeralContainers: [] }));

    await remediateHandler()(deliver(finding));

    expect(kube.deletes()).toHaveLength(0);
    expect(kube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(true);
    const outcome = onlyOutcome();
    expect(outcome).toMatchObject({
      result: "skipped",
      reason: "uid-mismatch",
      pod: { uid: "0a0a0a0a-replacement" },
    });
    expect(outcome.detail).toContain("already replaced");
  });

  it("reports a pod that is already gone (404) as skipped, not failed", async () => {
    const finding = findingFrom(PRIVILEGED);

    await remediateHandler()(deliver(finding));

    expect(kube.requests.map((request) => request.method)).toEqual(["GET"]);
    expect(onlyOutcome()).toMatchObject({ result: "skipped", reason: "already-gone" });
  });

  it("retries an API server 500 and then deletes", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding));
    kube.script("DELETE", podPath(finding.pod.namespace, finding.pod.name), [
      { status: 500, message: "etcdserver: request timed out" },
    ]);

    await remediateHandler()(deliver(finding));

    expect(kube.deletes()).toHaveLength(2);
    expect(kube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(false);
    expect(onlyOutcome()).toMatchObject({ result: "deleted" });
  });

  it("fails with a clear message when the API server keeps answering 500", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding));
    kube.script("DELETE", podPath(finding.pod.namespace, finding.pod.name), [
      { status: 500 },
      { status: 500 },
      { status: 500 },
    ]);

    await remediateHandler()(deliver(finding));

    expect(kube.deletes()).toHaveLength(3);
    expect(kube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(true);
    const outcome = onlyOutcome();
    expect(outcome).toMatchObject({ result: "failed", reason: "api-error" });
    expect(outcome.detail).toContain("A human must delete it");
  });

  it("explains 401 as the access entry and 403 as RBAC", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding));
    kube.checkToken(() => false);
    await remediateHandler()(deliver(finding));
    const unauthenticated = onlyOutcome();
    expect(unauthenticated).toMatchObject({ result: "failed", reason: "unauthenticated" });
    expect(unauthenticated.detail).toContain("access entry");

    kube.checkToken(undefined);
    sns.clear();
    kube.script("DELETE", podPath(finding.pod.namespace, finding.pod.name), [
      { status: 403, message: "forbidden" },
    ]);
    await remediateHandler()(deliver(anotherWrite(finding, 1)));
    const forbidden = onlyOutcome();
    expect(forbidden).toMatchObject({ result: "failed", reason: "forbidden" });
    expect(forbidden.detail).toContain("infra/k8s/remediator-rbac.yaml");
    expect(kube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(true);
  });

  it("renews an expired token: a later finding is sent with a fresh token the API server accepts", async () => {
    const finding = findingFrom(PRIVILEGED);
    const later = sibling(finding, 1);
    kube.putPod(livePodOf(finding));
    kube.putPod(livePodOf(later, { uid: later.pod.uid }));
    // Like EKS: a token is good for 15 minutes after its X-Amz-Date.
    kube.checkToken((token) => {
      if (!token?.startsWith("k8s-aws-v1.")) return false;
      const url = new URL(Buffer.from(token.slice("k8s-aws-v1.".length), "base64url").toString("utf8"));
      const stamp = url.searchParams.get("X-Amz-Date") ?? "";
      const issued = Date.parse(
        `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`,
      );
      return clock.now.getTime() - issued < 15 * 60_000;
    });
    const handler = remediateHandler({ rateLimit: 10 });
    const describesBefore = eks.requests.length;

    await handler(deliver(finding));
    clock.now = new Date(clock.now.getTime() + 15 * 60_000);
    await handler(deliver(later));

    const [first, second] = kube.deletes();
    expect(kube.deletes()).toHaveLength(2);
    expect(second?.token).not.toBe(first?.token);
    expect(publishedOutcomes().map(({ outcome }) => outcome.result)).toEqual(["deleted", "deleted"]);
    // DescribeCluster is cached across invocations of one container.
    expect(eks.requests.slice(describesBefore)).toEqual([
      {
        method: "GET",
        path: `/clusters/${CLUSTER}`,
        signed: true,
        accessKeyId: TEST_CREDENTIALS.accessKeyId,
      },
    ]);
  });

  it("refuses to talk to an API server whose certificate does not chain to the cluster's CA", async () => {
    const finding = { ...findingFrom(PRIVILEGED), cluster: WRONG_CA_CLUSTER };
    kube.putPod(livePodOf(finding));

    await remediateHandler()(deliver(finding));

    expect(kube.requests).toHaveLength(0);
    expect(kube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(true);
    const outcome = onlyOutcome();
    expect(outcome).toMatchObject({ result: "failed", cluster: WRONG_CA_CLUSTER });
    expect(outcome.detail).toContain("TLS verification against the cluster CA");
  });

  it("looks the pod up when the audit event had no response body, and deletes it only if the container is there", async () => {
    const full = findingFrom(PRIVILEGED);
    const { uid: _uid, owner: _owner, ...podWithoutUid } = full.pod;
    const finding: Finding = { ...full, pod: podWithoutUid };
    kube.putPod(livePodOf(full, { uid: "uid-seen-by-get" }));

    await remediateHandler()(deliver(finding));

    expect(kube.requests.map((request) => request.method)).toEqual(["GET", "DELETE"]);
    expect(kube.deletes()[0]?.body).toMatchObject({ preconditions: { uid: "uid-seen-by-get" } });
    expect(onlyOutcome()).toMatchObject({ result: "deleted", pod: { uid: "uid-seen-by-get" } });
  });

  it("spares a same-named pod that lacks the added container", async () => {
    const full = findingFrom(PRIVILEGED);
    const { uid: _uid, owner: _owner, ...podWithoutUid } = full.pod;
    kube.putPod(livePodOf(full, { uid: "someone-else", ephemeralContainers: [] }));

    await remediateHandler()(deliver({ ...full, pod: podWithoutUid }));

    expect(kube.deletes()).toHaveLength(0);
    expect(onlyOutcome()).toMatchObject({ result: "skipped", reason: "container-not-found" });
  });
});

describe("remediate: forged findings (whoever can publish to the topic)", () => {
  /** An unprotected pod nobody debugged: a Deployment's pod with no ephemeral container. */
  const victim: FakePod = {
    namespace: "payments",
    name: "ledger-5c8d7b9f4-q2w3e",
    uid: "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
    ownerReferences: [
      { apiVersion: "apps/v1", kind: "ReplicaSet", name: "ledger-5c8d7b9f4", uid: "rs", controller: true },
    ],
    ephemeralContainers: [],
  };

  /** A critical finding rewritten to name the victim's namespace, name and uid. */
  function forgedAgainst(pod: FakePod): Finding {
    const genuine = findingFrom(PRIVILEGED);
    return { ...genuine, pod: { ...genuine.pod, namespace: pod.namespace, name: pod.name, uid: pod.uid } };
  }

  it("spares an unprotected pod whose uid a forged finding names, when the live pod has no such container", async () => {
    kube.putPod(victim);

    await remediateHandler()(deliver(forgedAgainst(victim)));

    expect(kube.requests.map((request) => request.method)).toEqual(["GET"]);
    expect(kube.hasPod(victim.namespace, victim.name)).toBe(true);
    const outcome = onlyOutcome();
    expect(outcome).toMatchObject({
      result: "skipped",
      reason: "container-not-found",
      pod: { namespace: victim.namespace, name: victim.name, uid: victim.uid },
    });
    expect(outcome.detail).toMatch(/^Needs a human: .* has no ephemeral container "debugger-z5h1d"/);
  });

  it("spares a pod whose ephemeral container has the finding's name but another image", async () => {
    const forged = forgedAgainst(victim);
    kube.putPod({
      ...victim,
      ephemeralContainers: [{ name: forged.containers[0]?.name ?? "", image: "registry.example/netshoot:1" }],
    });

    await remediateHandler()(deliver(forged));

    expect(kube.deletes()).toHaveLength(0);
    expect(kube.hasPod(victim.namespace, victim.name)).toBe(true);
    const outcome = onlyOutcome();
    expect(outcome).toMatchObject({ result: "skipped", reason: "container-mismatch" });
    expect(outcome.detail).toContain('runs image "registry.example/netshoot:1"');
  });

  it("spares a pod whose ephemeral container has the finding's name and image but another target", async () => {
    const forged = forgedAgainst(victim);
    const [stated] = forged.containers;
    kube.putPod({
      ...victim,
      ephemeralContainers: [
        { name: stated?.name ?? "", image: stated?.image, targetContainerName: "ledger" },
      ],
    });

    await remediateHandler()(deliver(forged));

    expect(kube.deletes()).toHaveLength(0);
    expect(onlyOutcome()).toMatchObject({ result: "skipped", reason: "container-mismatch" });
  });

  it("spares a pod when a forged finding names another pod's uid, even if the container matches", async () => {
    const genuine = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(genuine));
    const forged: Finding = { ...genuine, pod: { ...genuine.pod, uid: victim.uid } };

    await remediateHandler()(deliver(forged));

    expect(kube.deletes()).toHaveLength(0);
    expect(onlyOutcome()).toMatchObject({ result: "skipped", reason: "uid-mismatch" });
  });

  it("deletes with the live uid and reports the live owner, never the finding's", async () => {
    const genuine = findingFrom(PRIVILEGED);
    const { uid: _uid, ...withoutUid } = genuine.pod;
    const finding: Finding = {
      ...genuine,
      pod: { ...withoutUid, owner: { kind: "StatefulSet", name: "forged", controller: true } },
    };
    kube.putPod(livePodOf(genuine, { uid: "live-uid" }));

    await remediateHandler()(deliver(finding));

    expect(kube.deletes()[0]?.body).toMatchObject({ preconditions: { uid: "live-uid" } });
    expect(onlyOutcome()).toMatchObject({
      result: "deleted",
      pod: { uid: "live-uid", owner: { kind: "ReplicaSet", name: genuine.pod.owner?.name } },
    });
  });
});

describe("remediate: guard-rails that keep the pod", () => {
  it("never acts in a protected namespace and asks for a human", async () => {
    const finding = findingFrom("kube-system-target.json");
    kube.putPod(livePodOf(finding));

    await remediateHandler({ severityThreshold: "high" })(deliver(finding));

    expect(kube.requests).toHaveLength(0);
    const outcome = onlyOutcome();
    expect(outcome).toMatchObject({ result: "skipped", reason: "protected-namespace" });
    expect(outcome.detail).toMatch(/^Needs a human/);
  });

  it("honours a configured list of protected namespaces (globs)", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding));

    await remediateHandler({ protectedNamespaces: ["sho*"] })(deliver(finding));

    expect(kube.requests).toHaveLength(0);
    expect(onlyOutcome()).toMatchObject({ result: "skipped", reason: "protected-namespace" });
  });

  it("spares a bare pod unless bare pods are allowed", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding, { ownerReferences: [] }));

    await remediateHandler()(deliver(finding));
    expect(kube.deletes()).toHaveLength(0);
    expect(onlyOutcome()).toMatchObject({ result: "skipped", reason: "bare-pod" });

    sns.clear();
    await remediateHandler({ allowBarePods: true })(deliver(anotherWrite(finding, 1)));
    expect(kube.deletes()).toHaveLength(1);
    expect(onlyOutcome()).toMatchObject({ result: "deleted" });
  });

  it("spares a bare pod whose finding claims a ReplicaSet owns it", async () => {
    const finding = findingFrom(PRIVILEGED);
    expect(finding.pod.owner?.kind).toBe("ReplicaSet");
    kube.putPod(livePodOf(finding, { ownerReferences: [] }));

    await remediateHandler()(deliver(finding));

    expect(kube.deletes()).toHaveLength(0);
    expect(onlyOutcome()).toMatchObject({ result: "skipped", reason: "bare-pod" });
  });

  it("spares a mirror pod whose forged finding gives it a ReplicaSet owner and no static flag", async () => {
    const genuine = findingFrom(PRIVILEGED);
    const forged: Finding = {
      ...genuine,
      pod: {
        ...genuine.pod,
        static: false,
        owner: { kind: "ReplicaSet", name: "etcd-7d9f8b6c5d", uid: "forged", controller: true },
      },
    };
    kube.putPod(
      livePodOf(genuine, {
        annotations: { "kubernetes.io/config.mirror": "4c6f5e9a" },
        ownerReferences: [
          { apiVersion: "v1", kind: "Node", name: "ip-10-0-1-23", uid: "node-uid", controller: true },
        ],
      }),
    );

    await remediateHandler({ allowBarePods: true })(deliver(forged));

    expect(kube.deletes()).toHaveLength(0);
    expect(kube.hasPod(genuine.pod.namespace, genuine.pod.name)).toBe(true);
    const outcome = onlyOutcome();
    expect(outcome).toMatchObject({
      result: "skipped",
      reason: "static-pod",
      pod: { owner: { kind: "Node", name: "ip-10-0-1-23" } },
    });
    expect(outcome.detail).toContain("manifest");
  });

  it("spares pods of controllers it does not trust to recreate them, whatever the finding says", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(
      livePodOf(finding, {
        ownerReferences: [
          {
            apiVersion: "argoproj.io/v1alpha1",
            kind: "Rollout",
            name: "checkout",
            uid: "r",
            controller: true,
          },
        ],
      }),
    );

    await remediateHandler()(deliver(finding));

    expect(kube.deletes()).toHaveLength(0);
    expect(onlyOutcome()).toMatchObject({ result: "skipped", reason: "unrecognised-controller" });
  });

  it("stands aside for break-glass users and groups", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding));

    await remediateHandler({ breakGlassUsers: [finding.actor.username] })(deliver(finding));
    expect(onlyOutcome()).toMatchObject({ result: "skipped", reason: "break-glass-actor" });

    sns.clear();
    const group = finding.actor.groups[0] ?? "system:authenticated";
    await remediateHandler({ breakGlassGroups: [group] })(deliver(anotherWrite(finding, 1)));
    expect(onlyOutcome()).toMatchObject({ result: "skipped", reason: "break-glass-actor" });

    expect(kube.requests).toHaveLength(0);
    expect(kube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(true);
  });

  it("stops at the rate limit when findings arrive concurrently, and reports the rest", async () => {
    const base = findingFrom(PRIVILEGED);
    const findings = Array.from({ length: 5 }, (_, index) => sibling(base, index));
    for (const finding of findings) kube.putPod(livePodOf(finding, { uid: finding.pod.uid }));

    // Five separate Lambda invocations (one per SNS delivery), each with its own wiring, at once.
    await Promise.all(findings.map((finding) => remediateHandler({ rateLimit: 2 })(deliver(finding))));

    expect(kube.deletes()).toHaveLength(2);
    const results = publishedOutcomes().map(({ outcome }) => outcome);
    expect(results).toHaveLength(5);
    expect(results.filter((outcome) => outcome.result === "deleted")).toHaveLength(2);
    const limited = results.filter((outcome) => outcome.reason === "rate-limited");
    expect(limited).toHaveLength(3);
    expect(limited[0]?.detail).toMatch(/^Needs a human: 2 pods were already deleted on prod-eu/);
    const survivors = findings.filter((finding) => kube.hasPod(finding.pod.namespace, finding.pod.name));
    expect(survivors).toHaveLength(3);
  });

  it("ignores findings below the threshold and writes that were not created", async () => {
    const high = findingFrom("sys-admin-capability.json");
    const denied = { ...findingFrom(PRIVILEGED), outcome: "denied" as const };
    kube.putPod(livePodOf(high));

    await remediateHandler()(deliver(high, denied));

    expect(kube.requests).toHaveLength(0);
    expect(publishedOutcomes().map(({ outcome }) => outcome.reason)).toEqual([
      "below-threshold",
      "not-created",
    ]);
  });

  it("does not act on clusters outside its list", async () => {
    const finding = { ...findingFrom(PRIVILEGED), cluster: "someone-elses-cluster" };
    await remediateHandler()(deliver(finding));
    expect(kube.requests).toHaveLength(0);
    expect(onlyOutcome()).toMatchObject({ result: "skipped", reason: "cluster-not-configured" });
  });
});

describe("remediate: deliveries", () => {
  it("keeps going past a bad message and ignores its own outcomes", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding));
    const event = snsEvent(
      { body: "{not json", attributes: { messageType: { DataType: "String", StringValue: "finding" } } },
      { body: JSON.stringify({ auditID: "x" }), attributes: {} },
      {
        body: JSON.stringify({ kind: "remediation" }),
        attributes: { messageType: { DataType: "String", StringValue: "remediation" } },
      },
      findingMessage(finding),
    );

    const summary: RemediateSummary = await remediateHandler()(event);

    expect(summary.ignored).toEqual({
      "not-a-finding": 1,
      "test-finding": 0,
      "invalid-finding": 2,
      "mode-off": 0,
      duplicate: 0,
    });
    expect(summary.outcomes.deleted).toBe(1);
    expect(onlyOutcome()).toMatchObject({ auditID: finding.auditID, result: "deleted" });
  });

  it("does nothing at all in mode off", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding));

    const summary = await remediateHandler({ mode: "off" })(deliver(finding));

    expect(summary.ignored["mode-off"]).toBe(1);
    expect(kube.requests).toHaveLength(0);
    expect(sns.published).toHaveLength(0);
  });

  it("fails the invocation when the outcome cannot be published; the retry reports without deleting again", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding));
    await sns.fail({ kind: "http", status: 400, code: "InvalidParameter" });
    try {
      await expect(remediateHandler()(deliver(finding))).rejects.toThrow(/failed to publish/);
    } finally {
      await sns.recover();
    }
    expect(kube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(false);

    // Lambda's retry of the same event: the claim was given back, so it decides again from the live pod.
    await remediateHandler()(deliver(finding));

    expect(kube.deletes()).toHaveLength(1);
    expect(onlyOutcome()).toMatchObject({
      auditID: finding.auditID,
      result: "skipped",
      reason: "already-gone",
    });
  });
});

describe("remediate: messages that are not findings", () => {
  it("never acts on remediation outcomes, storm digests, coverage alerts or test alerts", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding));
    const asFinding = { messageType: { DataType: "String", StringValue: "finding" } };
    const event = snsEvent(
      // An outcome whose attribute says finding: the body's kind gives it away.
      {
        body: JSON.stringify({ ...finding, kind: "remediation", result: "deleted" }),
        attributes: asFinding,
      },
      {
        body: JSON.stringify({ kind: "storm-digest", cluster: CLUSTER, counts: { critical: 3 } }),
        attributes: { messageType: { DataType: "String", StringValue: "storm-digest" } },
      },
      { body: JSON.stringify({ ...finding, kind: "coverage" }), attributes: asFinding },
      // A test alert is a complete critical finding about a real pod; it must still never delete it.
      { body: JSON.stringify({ ...finding, test: true }), attributes: asFinding },
    );

    const summary = await remediateHandler()(event);

    expect(summary.ignored).toMatchObject({ "not-a-finding": 3, "test-finding": 1 });
    expect(kube.requests).toHaveLength(0);
    expect(kube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(true);
    expect(publishedOutcomes()).toHaveLength(0);
  });
});

describe("remediate: exactly once per finding", () => {
  it("a duplicate delivery arriving at the same time deletes once and publishes one outcome", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding));

    // SNS delivered the finding twice (a publish retried after a lost response): two invocations at once.
    const [first, second] = await Promise.allSettled([
      remediateHandler()(deliver(finding)),
      remediateHandler()(deliver(finding)),
    ]);
    // The loser either finds the claim still held (and fails, to be retried) or already completed.
    const results = [first, second].map((settled) =>
      settled.status === "rejected"
        ? String(settled.reason)
        : settled.value.outcomes.deleted === 1
          ? "deleted"
          : settled.value.ignored.duplicate === 1
            ? "duplicate"
            : "other",
    );
    expect(results).toContain("deleted");
    expect(results.filter((result) => result === "deleted")).toHaveLength(1);
    expect(
      results.every((result) => /deleted|duplicate|being handled by another invocation/.test(result)),
    ).toBe(true);

    // Lambda's retry of the loser, after the winner completed: nothing more happens.
    const retry = await remediateHandler()(deliver(finding));

    expect(retry.ignored.duplicate).toBe(1);
    expect(kube.deletes()).toHaveLength(1);
    expect(onlyOutcome()).toMatchObject({ auditID: finding.auditID, result: "deleted" });
  });

  it("a duplicate delivery takes one rate-limit slot, not two (dry run, where the pod survives)", async () => {
    const finding = findingFrom(PRIVILEGED);
    const next = sibling(finding, 1);
    kube.putPod(livePodOf(finding));
    kube.putPod(livePodOf(next, { uid: next.pod.uid }));
    const handler = remediateHandler({ mode: "dry-run", rateLimit: 2 });

    await handler(deliver(finding));
    const duplicate = await handler(deliver(finding));
    await handler(deliver(next));

    expect(duplicate.ignored.duplicate).toBe(1);
    expect(kube.deletes().map((request) => request.path)).toEqual([
      podPath(finding.pod.namespace, finding.pod.name),
      podPath(next.pod.namespace, next.pod.name),
    ]);
    // Had the duplicate taken a slot, the limit of 2 would have stopped the next finding.
    expect(publishedOutcomes().map(({ outcome }) => [outcome.auditID, outcome.result])).toEqual([
      [finding.auditID, "would-delete"],
      [next.auditID, "would-delete"],
    ]);
  });

  it("deletes nothing and reports failed when the duplicate guard's table cannot be reached", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding));
    const gone = await startDynalite();
    await gone.stop();
    const unreachable = new DynamoDBClient({
      endpoint: gone.endpoint,
      region: TEST_REGION,
      credentials: TEST_CREDENTIALS,
      maxAttempts: 1,
    });
    try {
      const store = remediationIdempotency(unreachable, {
        tableName: IDEMPOTENCY_TABLE,
        expiresAfterSeconds: 3600,
      });

      // Not retried: the outcome tells a human, and a retry could not tell a duplicate from a first delivery.
      const summary = await remediateHandler({}, { idempotency: store })(deliver(finding));

      expect(summary.outcomes.failed).toBe(1);
    } finally {
      unreachable.destroy();
    }
    expect(kube.requests).toHaveLength(0);
    expect(kube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(true);
    const outcome = onlyOutcome();
    expect(outcome).toMatchObject({ result: "failed", reason: "idempotency-unavailable" });
    expect(outcome.detail).toContain("a human must check it");
  });

  it("keeps its records under its own key prefix, the only keys its IAM policy lets it write", async () => {
    const finding = findingFrom(PRIVILEGED);
    kube.putPod(livePodOf(finding));

    await remediateHandler()(deliver(finding));

    const scanned = await dynamo.client.send(new ScanCommand({ TableName: IDEMPOTENCY_TABLE }));
    const ids = (scanned.Items ?? []).map((item) => item.id?.S);
    expect(ids).toHaveLength(1);
    expect(ids[0]?.startsWith(`${REMEDIATION_KEY_PREFIX}#`)).toBe(true);
    expect(scanned.Items?.[0]?.status?.S).toBe("COMPLETED");
  });
});

describe("remediate: the deployed handler, configured by its environment", () => {
  it("reads its settings once from the environment and uses AWS endpoints from the SDK's standard variables", async () => {
    // An SNS delivery exactly as Lambda receives it (also usable with `serverless invoke local`).
    const delivery = JSON.parse(
      readFileSync("events/sns/critical-finding-privileged-debug.json", "utf8"),
    ) as {
      Records: { Sns: { Message: string } }[];
    };
    const finding = FindingSchema.parse(JSON.parse(delivery.Records[0]?.Sns.Message ?? "null"));
    kube.putPod(livePodOf(finding));
    const saved = { ...process.env };
    Object.assign(process.env, {
      REMEDIATION_MODE: "dry-run",
      REMEDIATION_CLUSTERS: CLUSTER,
      GRACE_PERIOD_SECONDS: "20",
      ALERTS_TOPIC_ARN: TOPIC_ARN,
      RATE_LIMIT_TABLE: RATE_LIMIT_TABLE.name,
      IDEMPOTENCY_TABLE,
      AWS_REGION: TEST_REGION,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_EKS: eks.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SNS: sns.endpoint,
      POWERTOOLS_LOG_LEVEL: "SILENT",
    });
    try {
      vi.resetModules();
      const { handler } = await import("../functions/remediate.ts");
      const context = {
        functionName: "remediate",
        awsRequestId: "req-1",
        getRemainingTimeInMillis: () => REMAINING_MS,
      } as Context;
      await handler(delivery, context);
    } finally {
      process.env = saved;
    }
    expect(kube.deletes()).toHaveLength(1);
    expect(kube.deletes()[0]?.query).toEqual({ dryRun: "All", gracePeriodSeconds: "20" });
    expect(onlyOutcome()).toMatchObject({
      auditID: finding.auditID,
      mode: "dry-run",
      result: "would-delete",
    });
  });
});
