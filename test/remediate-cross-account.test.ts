import { readFileSync } from "node:fs";
import { Logger } from "@aws-lambda-powertools/logger";
import { EKSClient } from "@aws-sdk/client-eks";
import { SNSClient } from "@aws-sdk/client-sns";
import { STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MemberRoleCredentials } from "../functions/adapters/aws/member-role-credentials.ts";
import { findingMessage } from "../functions/adapters/aws/sns-message.ts";
import { decodeDocument } from "../functions/core/decode-input.ts";
import { detectionConfig } from "../functions/core/detection-config.ts";
import { Detector } from "../functions/core/detector.ts";
import type { Finding } from "../functions/core/finding.ts";
import { type RemediationPolicyInput, remediationPolicy } from "../functions/core/remediation/policy.ts";
import { type RemediationOutcome, RemediationOutcomeSchema } from "../functions/core/remediation-outcome.ts";
import { createRemediateHandler } from "../functions/remediation/remediate-invocation.ts";
import { remediationIdempotency, wireRemediation } from "../functions/remediation/wiring.ts";
import { livePodOf } from "./helpers/live-pod.ts";
import { type DynamoPeer, idempotencyTable, startDynalite } from "./peers/dynalite.ts";
import { type EksServer, startEksServer } from "./peers/eks-server.ts";
import {
  type KubernetesApiServer,
  podPath,
  startKubernetesApiServer,
} from "./peers/kubernetes-api-server.ts";
import { type SnsServer, startSnsServer } from "./peers/sns-server.ts";
import { type StsServer, startStsServer } from "./peers/sts-server.ts";

/**
 * Remediation across accounts (issue 10, section 4), end to end over the real protocols: remediate runs in the
 * central account as its own role; for a finding about a member account's cluster it assumes the member
 * stack's role through the STS peer (which checks the caller, the external id and the signature), describes
 * the cluster through the member's EKS peer with those credentials, and talks to the member's Kubernetes API
 * peer with a token signed by them, which that API server authenticates through STS as the member role.
 * Both accounts have a cluster named `prod`, so a finding sent to the wrong one would show.
 */

const CENTRAL_ACCOUNT = "111122223333";
const MEMBER_ACCOUNT = "444455556666";
const CENTRAL_REGION = "us-east-1";
const MEMBER_REGION = "eu-west-1";
const CLUSTER = "prod";
const ROLE_NAME = "ephemeral-guard-remediator";
const EXTERNAL_ID = "eg-7d1f3c9a0b2e4f68";
const MEMBER_ROLE = `arn:aws:iam::${MEMBER_ACCOUNT}:role/${ROLE_NAME}-${MEMBER_REGION}`;
/** The Lambda role remediate runs as in the central account, and its session credentials. */
const CENTRAL_ROLE = `arn:aws:iam::${CENTRAL_ACCOUNT}:role/ephemeral-guard-prod-RemediateRole-1A2B3C`;
const CENTRAL_CREDENTIALS = {
  accessKeyId: "ASIACENTRALREMEDIATE",
  secretAccessKey: "central-remediate-secret",
  sessionToken: "central-remediate-session",
};
/** Another role of the central account (an operator's, or detect's): the member role does not trust it. */
const OTHER_ROLE = `arn:aws:iam::${CENTRAL_ACCOUNT}:role/ephemeral-guard-prod-DetectRole-9Z8Y`;
const OTHER_CREDENTIALS = {
  accessKeyId: "ASIAOTHER",
  secretAccessKey: "other-secret",
  sessionToken: "other",
};
const TOPIC_ARN = `arn:aws:sns:${CENTRAL_REGION}:${CENTRAL_ACCOUNT}:ephemeral-guard-prod-alerts`;
const RATE_LIMIT_TABLE = { name: "rate-limit", partitionKey: "counter", ttlAttribute: "expiresAt" };
const IDEMPOTENCY_TABLE = "idempotency";

let sts: StsServer;
let centralEks: EksServer;
let memberEks: EksServer;
let centralKube: KubernetesApiServer;
let memberKube: KubernetesApiServer;
let dynamo: DynamoPeer;
let sns: SnsServer;
let clock: { now: Date };
let windowIndex = 0;

const silent = new Logger({ serviceName: "remediate-test", logLevel: "SILENT" });

/** The critical sample (`kubectl debug --profile=sysadmin`), as detect publishes it for cluster `prod`. */
function sampleFinding(): Finding {
  const path = "events/audit/privileged-sysadmin-profile.json";
  const detector = new Detector(detectionConfig({ cluster: CLUSTER }));
  const [finding] = detector.ingest(decodeDocument(JSON.parse(readFileSync(path, "utf8")), path));
  if (!finding) throw new Error("the sample produced no finding");
  return finding;
}

/** The same finding as detect publishes it for the member account's cluster (the agreed identity fields). */
function memberFinding(changes: Partial<Finding> = {}): Finding {
  return {
    ...sampleFinding(),
    account: MEMBER_ACCOUNT,
    region: MEMBER_REGION,
    clusterArn: `arn:aws:eks:${MEMBER_REGION}:${MEMBER_ACCOUNT}:cluster/${CLUSTER}`,
    ...changes,
  };
}

function deliver(...findings: Finding[]) {
  return {
    Records: findings.map(findingMessage).map((message, index) => ({
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

interface Options {
  policy?: RemediationPolicyInput;
  /** Who remediate is to STS; the central remediate role unless a test says otherwise. */
  caller?: typeof CENTRAL_CREDENTIALS;
  externalId?: string;
  /** false: remediate is not configured to reach member accounts. */
  members?: boolean;
}

/** The remediate handler as remediate.ts wires it, with every client pointed at a loopback peer. */
function remediateHandler(options: Options = {}) {
  const policy = remediationPolicy({ mode: "enforce", ...options.policy });
  if (policy.mode === "off") throw new Error("tests remediate");
  const caller = options.caller ?? CENTRAL_CREDENTIALS;
  const sdk = { credentials: caller, maxAttempts: 1 };
  const roles = new MemberRoleCredentials(
    new STSClient({ ...sdk, endpoint: sts.endpoint, region: CENTRAL_REGION }),
    { roleName: ROLE_NAME, externalId: options.externalId ?? EXTERNAL_ID },
    () => clock.now,
  );
  const remediation = wireRemediation({
    policy: { ...policy, mode: policy.mode },
    region: CENTRAL_REGION,
    account: CENTRAL_ACCOUNT,
    tableName: RATE_LIMIT_TABLE.name,
    eks: new EKSClient({ ...sdk, endpoint: centralEks.endpoint, region: CENTRAL_REGION }),
    dynamo: dynamo.client,
    credentials: async () => caller,
    members:
      options.members === false
        ? undefined
        : {
            roles,
            // The member's EKS endpoint for its region; the credentials are the assumed role's.
            eksFor: (region, credentials) =>
              new EKSClient({ endpoint: memberEks.endpoint, region, credentials, maxAttempts: 1 }),
          },
    now: () => clock.now,
    retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2, timeoutMs: 5_000 },
    sleep: async () => undefined,
    warn: () => undefined,
  });
  const handler = createRemediateHandler({
    remediation,
    idempotency: remediationIdempotency(dynamo.client, {
      tableName: IDEMPOTENCY_TABLE,
      expiresAfterSeconds: 3600,
    }),
    sns: new SNSClient({ ...sdk, endpoint: sns.endpoint, region: CENTRAL_REGION }),
    topicArn: TOPIC_ARN,
    logger: silent,
  });
  return (event: unknown) => handler(event, { remainingTimeInMillis: () => 60_000 });
}

function outcomes(): RemediationOutcome[] {
  return sns.published
    .filter((message) => message.messageAttributes.messageType?.value === "remediation")
    .map((message) => RemediationOutcomeSchema.parse(JSON.parse(message.message)));
}

function onlyOutcome(): RemediationOutcome {
  const all = outcomes();
  expect(all).toHaveLength(1);
  return all[0] as RemediationOutcome;
}

beforeAll(async () => {
  [sts, centralEks, memberEks, centralKube, memberKube, dynamo, sns] = await Promise.all([
    startStsServer({ now: () => clock.now }),
    startEksServer({ accountId: CENTRAL_ACCOUNT, region: CENTRAL_REGION }),
    startEksServer({ accountId: MEMBER_ACCOUNT, region: MEMBER_REGION }),
    startKubernetesApiServer(),
    startKubernetesApiServer(),
    startDynalite([RATE_LIMIT_TABLE, idempotencyTable(IDEMPOTENCY_TABLE)]),
    startSnsServer(),
  ]);
  sts.addPrincipal({ roleArn: CENTRAL_ROLE, ...CENTRAL_CREDENTIALS });
  sts.addPrincipal({ roleArn: OTHER_ROLE, ...OTHER_CREDENTIALS });
  // The member stack's role: trusts only the central remediate role, and only with the external id.
  sts.addRole({ arn: MEMBER_ROLE, trusts: CENTRAL_ROLE, externalId: EXTERNAL_ID });
  centralEks.putCluster({ name: CLUSTER, endpoint: centralKube.url, caData: centralKube.ca.data });
  memberEks.putCluster({ name: CLUSTER, endpoint: memberKube.url, caData: memberKube.ca.data });
});

afterAll(async () => {
  await Promise.all(
    [sts, centralEks, memberEks, centralKube, memberKube, dynamo, sns].map((peer) => peer?.stop()),
  );
});

beforeEach(async () => {
  await dynamo.clearTable(IDEMPOTENCY_TABLE);
  sns.clear();
  windowIndex++;
  clock = { now: new Date(Date.UTC(2026, 10, 20, 9, 0, 0) + windowIndex * 3_600_000) };
  for (const [kube, role] of [
    [memberKube, MEMBER_ROLE],
    [centralKube, CENTRAL_ROLE],
  ] as const) {
    kube.reset();
    // Each API server authenticates as EKS does: STS says whose credentials signed the token, and only
    // the role with an access entry on this cluster gets in.
    kube.checkToken((token) => {
      const identity = sts.authenticate(token, CLUSTER);
      return identity.ok && identity.roleArn === role;
    });
  }
  memberEks.requests.length = 0;
  centralEks.requests.length = 0;
  sts.calls.length = 0;
});

describe("remediate across accounts", () => {
  it("deletes the tampered pod in the member's cluster with a token the member role's assumed credentials signed", async () => {
    const finding = memberFinding();
    memberKube.putPod(livePodOf(finding));
    // The central account has a cluster of the same name with the same pod: it must not be touched.
    centralKube.putPod(livePodOf(finding));

    await remediateHandler()(deliver(finding));

    expect(sts.calls).toEqual([
      expect.objectContaining({
        action: "AssumeRole",
        caller: CENTRAL_ROLE,
        status: 200,
        params: expect.objectContaining({ RoleArn: MEMBER_ROLE, ExternalId: EXTERNAL_ID }),
      }),
    ]);
    const [session] = sts.issued.slice(-1);
    expect(memberEks.requests).toEqual([
      expect.objectContaining({ path: `/clusters/${CLUSTER}`, accessKeyId: session?.accessKeyId }),
    ]);
    const [deleted, ...others] = memberKube.deletes();
    expect(others).toEqual([]);
    expect(deleted?.path).toBe(podPath(finding.pod.namespace, finding.pod.name));
    expect(sts.authenticate(deleted?.token, CLUSTER)).toEqual({
      ok: true,
      roleArn: MEMBER_ROLE,
      accessKeyId: session?.accessKeyId,
    });
    expect(memberKube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(false);
    expect(centralKube.requests).toEqual([]);
    expect(centralEks.requests).toEqual([]);
    expect(centralKube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(true);
    expect(onlyOutcome()).toMatchObject({
      result: "deleted",
      cluster: CLUSTER,
      account: MEMBER_ACCOUNT,
      region: MEMBER_REGION,
    });
  });

  it("assumes the member role once for many findings, and again only when its credentials near expiry", async () => {
    const handler = remediateHandler({ policy: { rateLimit: 10 } });
    const first = memberFinding();
    const second = memberFinding({
      auditID: `${first.auditID.slice(0, -4)}0002`,
      pod: { ...first.pod, name: `${first.pod.name}-2`, uid: `${first.pod.uid}-2` },
    });
    memberKube.putPod(livePodOf(first));
    memberKube.putPod(livePodOf(second));

    await handler(deliver(first, second));
    expect(sts.calls.map((call) => call.action)).toEqual(["AssumeRole"]);
    expect(memberKube.deletes()).toHaveLength(2);

    // 46 minutes on, the hour-long session has less than 15 minutes left: a token made with it could outlive it.
    clock.now = new Date(clock.now.getTime() + 46 * 60_000);
    const third = memberFinding({
      auditID: `${first.auditID.slice(0, -4)}0003`,
      pod: { ...first.pod, name: `${first.pod.name}-3`, uid: `${first.pod.uid}-3` },
    });
    memberKube.putPod(livePodOf(third));
    await handler(deliver(third));

    expect(sts.calls.map((call) => call.action)).toEqual(["AssumeRole", "AssumeRole"]);
    const [, renewed] = sts.issued.slice(-2);
    const thirdDelete = memberKube.deletes()[2];
    expect(sts.authenticate(thirdDelete?.token, CLUSTER)).toMatchObject({
      ok: true,
      accessKeyId: renewed?.accessKeyId,
    });
    expect(outcomes().map((outcome) => outcome.result)).toEqual(["deleted", "deleted", "deleted"]);
  });

  it("a wrong external id is refused by STS: nothing is deleted and the outcome asks a human", async () => {
    const finding = memberFinding();
    memberKube.putPod(livePodOf(finding));

    await remediateHandler({ externalId: "guessed-external-id" })(deliver(finding));

    expect(sts.calls).toEqual([expect.objectContaining({ action: "AssumeRole", status: 403 })]);
    expect(memberEks.requests).toEqual([]);
    expect(memberKube.requests).toEqual([]);
    expect(memberKube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(true);
    const outcome = onlyOutcome();
    expect(outcome).toMatchObject({
      result: "failed",
      reason: "cluster-unreachable",
      account: MEMBER_ACCOUNT,
    });
    expect(outcome.detail).toContain(MEMBER_ROLE);
    expect(outcome.detail).toContain("AccessDenied");
  });

  it("another central role cannot use the member role: the trust policy names only remediate's", async () => {
    const finding = memberFinding();
    memberKube.putPod(livePodOf(finding));

    await remediateHandler({ caller: OTHER_CREDENTIALS })(deliver(finding));

    expect(sts.calls).toEqual([expect.objectContaining({ caller: OTHER_ROLE, status: 403 })]);
    expect(memberKube.requests).toEqual([]);
    expect(memberKube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(true);
    expect(onlyOutcome()).toMatchObject({ result: "failed", reason: "cluster-unreachable" });
  });

  it("spares a member pod the guard-rails spare, as in one account: a replaced pod is read, not deleted", async () => {
    const finding = memberFinding();
    memberKube.putPod(livePodOf(finding, { uid: "0a0a0a0a-replacement", ephemeralContainers: [] }));

    await remediateHandler()(deliver(finding));

    expect(memberKube.requests.map((request) => request.method)).toEqual(["GET"]);
    expect(memberKube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(true);
    expect(onlyOutcome()).toMatchObject({
      result: "skipped",
      reason: "uid-mismatch",
      account: MEMBER_ACCOUNT,
    });
  });

  it("dry run in a member cluster asks the member's API server with dryRun=All and leaves the pod", async () => {
    const finding = memberFinding();
    memberKube.putPod(livePodOf(finding));

    await remediateHandler({ policy: { mode: "dry-run" } })(deliver(finding));

    expect(memberKube.deletes().map((request) => request.query)).toEqual([
      expect.objectContaining({ dryRun: "All" }),
    ]);
    expect(memberKube.hasPod(finding.pod.namespace, finding.pod.name)).toBe(true);
    expect(onlyOutcome()).toMatchObject({ result: "would-delete", account: MEMBER_ACCOUNT });
  });

  it("a finding without an account, or with the central account, is remediated as before: no AssumeRole", async () => {
    const plain = sampleFinding();
    const central = {
      ...sampleFinding(),
      auditID: `${plain.auditID.slice(0, -4)}0009`,
      pod: { ...plain.pod, name: `${plain.pod.name}-c`, uid: `${plain.pod.uid}-c` },
      account: CENTRAL_ACCOUNT,
      region: CENTRAL_REGION,
    };
    centralKube.putPod(livePodOf(plain));
    centralKube.putPod(livePodOf(central));

    // The central account lists its own cluster, as a stack that remediates its own clusters too must.
    await remediateHandler({ policy: { rateLimit: 10, clusters: [CLUSTER] } })(deliver(plain, central));

    expect(sts.calls).toEqual([]);
    expect(memberKube.requests).toEqual([]);
    expect(centralKube.deletes()).toHaveLength(2);
    for (const request of centralKube.deletes()) {
      expect(sts.authenticate(request.token, CLUSTER)).toMatchObject({ ok: true, roleArn: CENTRAL_ROLE });
    }
    expect(outcomes().map((outcome) => [outcome.result, outcome.account])).toEqual([
      ["deleted", undefined],
      ["deleted", undefined],
    ]);
  });

  it("a central stack that remediates member clusters only leaves a finding on its own cluster to a human, untouched", async () => {
    const own = { ...sampleFinding(), account: CENTRAL_ACCOUNT, region: CENTRAL_REGION };
    centralKube.putPod(livePodOf(own));

    await remediateHandler({ policy: { rateLimit: 10 } })(deliver(own));

    expect(sts.calls).toEqual([]);
    expect(centralKube.deletes()).toEqual([]);
    expect(outcomes().map((outcome) => [outcome.result, outcome.reason])).toEqual([
      ["skipped", "cluster-not-configured"],
    ]);
  });

  it("without member access configured, a member's finding is skipped instead of acting on a same-named home cluster", async () => {
    const finding = memberFinding();
    centralKube.putPod(livePodOf(finding));

    await remediateHandler({ members: false })(deliver(finding));

    expect(sts.calls).toEqual([]);
    expect(centralKube.requests).toEqual([]);
    expect(centralEks.requests).toEqual([]);
    expect(onlyOutcome()).toMatchObject({ result: "skipped", reason: "account-not-configured" });
  });

  it("a finding whose clusterArn names another account than its account field is not acted on anywhere", async () => {
    const finding = memberFinding({
      clusterArn: `arn:aws:eks:${MEMBER_REGION}:999988887777:cluster/${CLUSTER}`,
    });
    memberKube.putPod(livePodOf(finding));

    await remediateHandler()(deliver(finding));

    expect(sts.calls).toEqual([]);
    expect(memberKube.requests).toEqual([]);
    const outcome = onlyOutcome();
    expect(outcome).toMatchObject({ result: "skipped", reason: "unknown-cluster" });
    expect(outcome.detail).toContain("999988887777");
  });

  it("the central cluster list does not hold back member clusters, which their member stack grants", async () => {
    const finding = memberFinding();
    memberKube.putPod(livePodOf(finding));

    await remediateHandler({ policy: { clusters: ["central-only"] } })(deliver(finding));

    expect(onlyOutcome()).toMatchObject({ result: "deleted", account: MEMBER_ACCOUNT });
  });
});
