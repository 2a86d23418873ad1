import { Logger } from "@aws-lambda-powertools/logger";
import { SecurityHubClient } from "@aws-sdk/client-securityhub";
import type { Context, SNSEvent } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import {
  ASFF_LIMITS,
  securityHubFindingId,
  toSecurityHubFinding,
} from "../functions/adapters/aws/security-hub-finding.ts";
import { importFindings, SecurityHubImportError } from "../functions/adapters/aws/security-hub-import.ts";
import type { SecurityHubSubscriberDeps } from "../functions/adapters/aws/security-hub-subscriber.ts";
import {
  findingMessage,
  remediationMessage,
  type TopicMessage,
} from "../functions/adapters/aws/sns-message.ts";
import { ConfigurationError } from "../functions/adapters/lambda/configuration.ts";
import { type Finding, findingKey } from "../functions/core/finding.ts";
import { createSecurityHubHandler } from "../functions/security-hub.ts";
import { detectFile, onlyFinding } from "./helpers/events.ts";
import { asffProblem, type SecurityHubServer, startSecurityHubServer } from "./peers/security-hub-server.ts";

const REGION = "eu-west-1";
const ACCOUNT = "111122223333";
const PRODUCT_ARN = `arn:aws:securityhub:${REGION}:${ACCOUNT}:product/${ACCOUNT}/default`;
const TARGET = { productArn: PRODUCT_ARN, accountId: ACCOUNT, region: REGION, partition: "aws" };
const credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "test-secret" };
const RECEIVED_AT = "2026-11-20T09:40:00.000Z";

function finding(name: string, cluster = "prod-eu"): Finding {
  return { ...onlyFinding(detectFile(name)), cluster };
}

/** The SNS → Lambda event for messages built by the real topic message model (body + attributes). */
function snsEvent(messages: readonly TopicMessage[]): SNSEvent {
  return {
    Records: messages.map((message, index) => ({
      EventSource: "aws:sns",
      EventVersion: "1.0",
      EventSubscriptionArn: `arn:aws:sns:${REGION}:${ACCOUNT}:ephemeral-guard-test-alerts:5e1a`,
      Sns: {
        Type: "Notification",
        MessageId: `00000000-0000-4000-8000-${String(index).padStart(12, "0")}`,
        TopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:ephemeral-guard-test-alerts`,
        Subject: "",
        Message: message.body,
        Timestamp: RECEIVED_AT,
        SignatureVersion: "1",
        Signature: "EXAMPLE",
        SigningCertUrl: `https://sns.${REGION}.amazonaws.com/cert.pem`,
        UnsubscribeUrl: `https://sns.${REGION}.amazonaws.com/unsubscribe`,
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

function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: "ephemeral-guard-test-security-hub",
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:ephemeral-guard-test-security-hub`,
    memoryLimitInMB: "512",
    awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
    logGroupName: "/aws/lambda/ephemeral-guard-test-security-hub",
    logStreamName: "2026/11/20/[$LATEST]0123456789abcdef",
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

let hub: SecurityHubServer;
let deps: SecurityHubSubscriberDeps;
let logs: string[];

beforeAll(async () => {
  hub = await startSecurityHubServer();
});

afterAll(async () => {
  await hub.stop();
});

beforeEach(() => {
  hub.calls.length = 0;
  hub.findings.clear();
  logs = [];
  const logger = new Logger({ serviceName: "security-hub-test" });
  // Powertools Logger writes JSON lines to stdout (stderr for errors): captured to assert on, kept off the console.
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, "write").mockImplementation((chunk: string | Uint8Array) => {
      logs.push(String(chunk));
      return true;
    });
  }
  deps = {
    // One attempt: a refused call must show as a refused invocation, not as SDK retries waiting out backoff.
    client: new SecurityHubClient({ endpoint: hub.endpoint, region: REGION, credentials, maxAttempts: 1 }),
    target: TARGET,
    logger,
  };
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("security-hub: findings into AWS Security Hub", () => {
  it("imports a finding as ASFF through BatchImportFindings, signed, into the account's default product", async () => {
    const handler = createSecurityHubHandler(() => deps);
    const critical = finding("privileged-sysadmin-profile");
    const summary = await handler(snsEvent([findingMessage(critical)]), lambdaContext());
    expect(summary).toEqual({ records: 1, imported: 1, invalid: 0, testAlerts: 0 });
    expect(hub.calls).toHaveLength(1);
    expect(hub.calls[0]).toMatchObject({ path: "/findings/import", signed: true, status: 200 });
    const stored = hub.findings.get(`${PRODUCT_ARN} ephemeral-guard/prod-eu/${findingKey(critical)}`);
    expect(stored).toMatchObject({
      SchemaVersion: "2018-10-08",
      ProductArn: PRODUCT_ARN,
      AwsAccountId: ACCOUNT,
      GeneratorId: "ephemeral-guard/ephemeral-container-write",
      Severity: { Label: "CRITICAL", Original: "critical" },
      FindingProviderFields: { Severity: { Label: "CRITICAL" } },
      Types: [
        "TTPs/Execution/T1609 Container Administration Command",
        "TTPs/Privilege Escalation/T1611 Escape to Host",
      ],
      CreatedAt: new Date(Date.parse(critical.time)).toISOString(),
      RecordState: "ACTIVE",
      ProductFields: expect.objectContaining({
        "ephemeral-guard/auditID": critical.auditID,
        "ephemeral-guard/cluster": "prod-eu",
        "ephemeral-guard/outcome": "created",
      }),
    });
    expect(stored?.Resources).toEqual([
      expect.objectContaining({
        Type: "AwsEksCluster",
        Id: `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/prod-eu`,
      }),
      expect.objectContaining({
        Type: "Other",
        Id: `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/prod-eu/namespaces/${critical.pod.namespace}/pods/${critical.pod.name}`,
      }),
      expect.objectContaining({
        Type: "Container",
        Details: { Container: expect.objectContaining({ Privileged: true }) },
      }),
    ]);
  });

  it("a redelivered SNS message updates the finding instead of duplicating it", async () => {
    const handler = createSecurityHubHandler(() => deps);
    const event = snsEvent([findingMessage(finding("host-path-mount"))]);
    await handler(event, lambdaContext());
    await handler(event, lambdaContext());
    expect(hub.calls).toHaveLength(2);
    expect(hub.findings.size).toBe(1);
  });

  it("the same auditID in two clusters is two findings", async () => {
    const handler = createSecurityHubHandler(() => deps);
    const write = finding("host-path-mount");
    await handler(
      snsEvent([findingMessage(write), findingMessage({ ...write, cluster: "prod-us" })]),
      lambdaContext(),
    );
    expect([...hub.findings.keys()].sort()).toEqual([
      `${PRODUCT_ARN} ephemeral-guard/prod-eu/${findingKey(write)}`,
      `${PRODUCT_ARN} ephemeral-guard/prod-us/${findingKey(write)}`,
    ]);
  });

  it("a partial failure (FailedFindings in a 200 answer) fails the invocation, and the retry completes the import", async () => {
    const handler = createSecurityHubHandler(() => deps);
    const first = finding("secret-volume-mount");
    const second = finding("token-volume-mount");
    const event = snsEvent([findingMessage(first), findingMessage(second)]);
    hub.refuseNext([1], "InternalFailure", "Internal service failure");
    const error = await handler(event, lambdaContext()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SecurityHubImportError);
    expect((error as SecurityHubImportError).failed).toEqual([
      {
        Id: securityHubFindingId(second),
        ErrorCode: "InternalFailure",
        ErrorMessage: "Internal service failure",
      },
    ]);
    expect(hub.findings.size).toBe(1);
    expect(logs.join("")).toContain("failing the invocation so it is retried");
    // Lambda's retry sends both again: the one already imported is updated, the other is added.
    await handler(event, lambdaContext());
    expect(hub.findings.size).toBe(2);
  });

  it("Security Hub unreachable or refusing the call (HTTP 500, 403) fails the invocation", async () => {
    const handler = createSecurityHubHandler(() => deps);
    const event = snsEvent([findingMessage(finding("run-as-root"))]);
    for (const [status, type] of [
      [500, "InternalException"],
      [403, "InvalidAccessException"],
    ] as const) {
      hub.failNext(status, type);
      const error = await handler(event, lambdaContext()).catch((caught: unknown) => caught);
      expect(error, type).toBeInstanceOf(SecurityHubImportError);
      expect((error as Error).message).toContain(type);
    }
    expect(hub.findings.size).toBe(0);
  });

  it("records that are not findings are logged and skipped, never retried; nothing is imported for them", async () => {
    const handler = createSecurityHubHandler(() => deps);
    const outcome = remediationMessage({
      schemaVersion: 1,
      kind: "remediation",
      auditID: "1d3f5b7a-9c2e-4d6a-8b0c-7e9a1c3e5f64",
      cluster: "prod-eu",
      pod: { namespace: "shop", name: "checkout-api-7d9f8b6c5d-x2kqp" },
      mode: "enforce",
      result: "deleted",
      detail: "Deleted.",
      time: "2026-11-20T09:34:02.000Z",
    });
    const valid = findingMessage(finding("run-as-root"));
    const summary = await handler(
      snsEvent([
        outcome,
        { ...valid, body: "{not json" },
        { ...valid, body: JSON.stringify({ schemaVersion: 1, auditID: "x" }) },
        valid,
      ]),
      lambdaContext(),
    );
    expect(summary).toEqual({ records: 4, imported: 1, invalid: 3, testAlerts: 0 });
    expect(hub.findings.size).toBe(1);
    const output = logs.join("");
    for (const position of ["Records[0]", "Records[1]", "Records[2]"]) expect(output).toContain(position);
    expect(output).toContain("not JSON");
  });

  it("a test alert (test-alert command) reaches the subscriber but is not imported among real findings", async () => {
    const handler = createSecurityHubHandler(() => deps);
    const real = finding("run-as-root");
    const test = { ...finding("privileged-sysadmin-profile"), test: true };
    const summary = await handler(snsEvent([findingMessage(test), findingMessage(real)]), lambdaContext());
    expect(summary).toEqual({ records: 2, imported: 1, invalid: 0, testAlerts: 1 });
    expect(hub.findings.size).toBe(1);
    expect([...hub.findings.keys()][0]).toContain(findingKey(real));
    expect(logs.join("")).toContain("test alert received; not imported into Security Hub");
  });

  it("does not call Security Hub when no record is a finding", async () => {
    const handler = createSecurityHubHandler(() => deps);
    const summary = await handler(snsEvent([{ id: "x", body: "[]", attributes: {} }]), lambdaContext());
    expect(summary).toEqual({ records: 1, imported: 0, invalid: 1, testAlerts: 0 });
    expect(hub.calls).toHaveLength(0);
  });

  it("imports more than 100 findings in batches of 100", async () => {
    const base = finding("run-as-root");
    const many = Array.from({ length: 150 }, (_, index) =>
      toSecurityHubFinding(
        { ...base, auditID: `${base.auditID}-${index}` },
        { ...TARGET, receivedAt: RECEIVED_AT },
      ),
    );
    expect(await importFindings(deps.client, many)).toEqual({ imported: 150, calls: 2 });
    expect(hub.calls.map((call) => call.findings.length)).toEqual([100, 50]);
    expect(hub.findings.size).toBe(150);
  });
});

describe("ASFF within Security Hub's limits, whatever the requester put in the audit event", () => {
  const target = { ...TARGET, receivedAt: RECEIVED_AT };

  it("every sample finding is a finding Security Hub takes", () => {
    for (const name of [
      "privileged-sysadmin-profile",
      "rbac-forbidden",
      "pod-security-denied",
      "impersonation",
      "windows-host-process",
      "metadata-level-no-body",
      "slack-injection-strings",
    ]) {
      expect(
        asffProblem(toSecurityHubFinding(finding(name), target) as unknown as Record<string, unknown>),
        name,
      ).toBeUndefined();
    }
  });

  it("a padded request (3 MB strings, 500 containers, 200 reasons) still imports, under 240 KB", async () => {
    const base = finding("privileged-sysadmin-profile");
    // The API server takes request bodies up to 3 MB: each field as long as a whole request. A flat string,
    // as JSON.parse makes them ("x".repeat makes a rope, which no decoded event holds).
    const huge = Buffer.alloc(3 * 1024 * 1024, "x").toString("latin1");
    const [container] = base.containers;
    if (!container) throw new Error("sample has a container");
    const padded: Finding = {
      ...base,
      cluster: huge,
      auditID: huge,
      requestURI: huge,
      responseMessage: huge,
      actor: { ...base.actor, username: huge, userAgent: huge, sourceIPs: Array(1000).fill("203.0.113.9") },
      pod: { ...base.pod, namespace: huge, name: huge, serviceAccountName: huge },
      containers: Array.from({ length: 500 }, () => ({
        ...container,
        name: huge,
        image: huge,
        riskyFields: [huge],
      })),
      reasons: Array.from({ length: 200 }, () => ({
        id: huge,
        severity: "high",
        effect: "floor",
        text: huge,
      })),
    };
    const asff = toSecurityHubFinding(padded, target);
    expect(asffProblem(asff as unknown as Record<string, unknown>)).toBeUndefined();
    expect(Buffer.byteLength(JSON.stringify(asff))).toBeLessThan(ASFF_LIMITS.findingBytes);
    expect(asff.Id?.length).toBeLessThanOrEqual(ASFF_LIMITS.id);
    expect(await importFindings(deps.client, [asff])).toEqual({ imported: 1, calls: 1 });
  });

  it("a finding whose time does not parse takes the time SNS received it", () => {
    const asff = toSecurityHubFinding({ ...finding("run-as-root"), time: "" }, target);
    expect([asff.CreatedAt, asff.UpdatedAt]).toEqual([RECEIVED_AT, RECEIVED_AT]);
  });
});

describe("exported production handler", () => {
  it("reads its environment and imports through AWS_ENDPOINT_URL_SECURITYHUB", async () => {
    vi.stubEnv("SECURITY_HUB_PRODUCT_ARN", PRODUCT_ARN);
    vi.stubEnv("AWS_REGION", REGION);
    vi.stubEnv("AWS_ACCESS_KEY_ID", credentials.accessKeyId);
    vi.stubEnv("AWS_SECRET_ACCESS_KEY", credentials.secretAccessKey);
    vi.stubEnv("AWS_ENDPOINT_URL_SECURITYHUB", hub.endpoint);
    try {
      const { handler } = await import("../functions/security-hub.ts");
      const summary = await handler(snsEvent([findingMessage(finding("secret-env"))]), lambdaContext());
      expect(summary).toEqual({ records: 1, imported: 1, invalid: 0, testAlerts: 0 });
      expect(hub.findings.size).toBe(1);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("refuses a product ARN of another account: a wrong parameter fails loudly, nothing is sent", async () => {
    vi.stubEnv(
      "SECURITY_HUB_PRODUCT_ARN",
      `arn:aws:securityhub:${REGION}:${ACCOUNT}:product/999999999999/default`,
    );
    vi.stubEnv("AWS_REGION", REGION);
    try {
      vi.resetModules();
      const { handler } = await import("../functions/security-hub.ts");
      const error = await handler(snsEvent([findingMessage(finding("secret-env"))]), lambdaContext()).catch(
        (caught: unknown) => caught,
      );
      // A fresh module graph (resetModules), so the class is compared by name.
      expect((error as Error).name).toBe(ConfigurationError.name);
      expect((error as Error).message).toContain("names two accounts");
      expect(hub.calls).toHaveLength(0);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
