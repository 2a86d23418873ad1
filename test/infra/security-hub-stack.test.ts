import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { findingMessage, remediationMessage } from "../../functions/adapters/aws/sns-message.ts";
import { detectFile, onlyFinding } from "../helpers/events.ts";

/**
 * The Security Hub parts of the stack for both values of the `securityHub` parameter, as osls resolves them
 * offline (`osls print`: no credentials, no network, no bundling). The packaged template (test/infra/
 * template.test.ts) checks what every function shares: runtime, own role, no wildcards, encrypted queues.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const OSLS = join(ROOT, "node_modules", "osls", "bin", "serverless.js");
/** CloudFormation's own `${…}` placeholders, spelled out so they are not read as a template string. */
const SUB = (name: string) => `\${${name}}`;
const PRODUCT_ARN = {
  "Fn::Sub": `arn:${SUB("AWS::Partition")}:securityhub:${SUB("AWS::Region")}:${SUB("AWS::AccountId")}:product/${SUB("AWS::AccountId")}/default`,
};

interface Resource {
  Type: string;
  Condition?: string;
  Properties: Record<string, unknown>;
}
interface Template {
  Resources: Record<string, Resource>;
  Conditions?: Record<string, unknown>;
}
interface ResolvedService {
  resources: Template;
  functions: Record<
    string,
    {
      environment?: Record<string, unknown>;
      destinations?: unknown;
      role?: string;
      maximumRetryAttempts?: number;
    }
  >;
}

async function resolveService(params: Record<string, string>): Promise<ResolvedService> {
  const args = [OSLS, "print", "--stage", "ci", "--format", "json"];
  for (const [name, value] of Object.entries(params)) args.push(`--param=${name}=${value}`);
  const { stdout } = await promisify(execFile)(process.execPath, args, {
    cwd: ROOT,
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
    env: { ...process.env, SLS_TELEMETRY_DISABLED: "1", SLS_NOTIFICATIONS_MODE: "off" },
  });
  return JSON.parse(stdout) as ResolvedService;
}

function resource(template: Template, name: string): Resource {
  const found = template.Resources[name];
  if (!found) throw new Error(`no resource ${name}`);
  return found;
}

/** The role's statements, each Fn::If kept as [condition, when true, when false]. */
function statements(template: Template): unknown[] {
  const policies = resource(template, "SecurityHubRole").Properties.Policies as {
    PolicyDocument: { Statement: unknown[] };
  }[];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

let off: ResolvedService;
let on: ResolvedService;
let typo: string;

beforeAll(async () => {
  // In parallel: `print` does not bundle, so the runs share nothing.
  [off, on, typo] = await Promise.all([
    resolveService({}),
    resolveService({ securityHub: "true" }),
    resolveService({ securityHub: "True" }).then(
      () => "resolved",
      (error: unknown) => `${String((error as { stdout?: string }).stdout)}${String(error)}`,
    ),
  ]);
}, 240_000);

describe("Security Hub stack", () => {
  it("is off by default: the function exists but nothing invokes it and its role may import nothing", () => {
    const template = off.resources;
    expect(template.Conditions?.SecurityHubEnabled).toEqual({ "Fn::Equals": ["false", "true"] });
    for (const name of [
      "SecurityHubSubscription",
      "SecurityHubInvokePermission",
      "SecurityHubFailureQueuePolicy",
      "SecurityHubErrorsAlarm",
      "SecurityHubFailureQueueDepthAlarm",
    ]) {
      expect(resource(template, name).Condition, name).toBe("SecurityHubEnabled");
    }
    const imports = statements(template).filter((statement) =>
      JSON.stringify(statement).includes("securityhub:"),
    );
    expect(imports).toEqual([
      {
        "Fn::If": [
          "SecurityHubEnabled",
          {
            Sid: "ImportFindings",
            Effect: "Allow",
            Action: "securityhub:BatchImportFindings",
            Resource: PRODUCT_ARN,
          },
          { Ref: "AWS::NoValue" },
        ],
      },
    ]);
  });

  it("with securityHub=true, subscribes the function to findings only, with its own failure queue", () => {
    const template = on.resources;
    expect(template.Conditions?.SecurityHubEnabled).toEqual({ "Fn::Equals": ["true", "true"] });
    const subscription = resource(template, "SecurityHubSubscription").Properties;
    expect(subscription).toMatchObject({
      TopicArn: { Ref: "AlertsTopic" },
      Protocol: "lambda",
      Endpoint: { "Fn::GetAtt": ["SecurityDashhubLambdaFunction", "Arn"] },
      FilterPolicyScope: "MessageAttributes",
      FilterPolicy: { messageType: ["finding"] },
      RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": ["SecurityHubFailureQueue", "Arn"] } },
    });
    // The attribute the policy selects on, as detect and remediate publish it.
    const finding = onlyFinding(detectFile("rbac-forbidden"));
    expect(findingMessage(finding).attributes.messageType?.StringValue).toBe("finding");
    expect(
      remediationMessage({
        schemaVersion: 1,
        kind: "remediation",
        auditID: finding.auditID,
        pod: finding.pod,
        mode: "enforce",
        result: "deleted",
        detail: "Deleted.",
        time: finding.time,
      }).attributes.messageType?.StringValue,
    ).toBe("remediation");
    expect(resource(template, "SecurityHubInvokePermission").Properties).toMatchObject({
      Principal: "sns.amazonaws.com",
      SourceArn: { Ref: "AlertsTopic" },
    });
  });

  it("lets the role import only into the account's default product, and nothing else of Security Hub", () => {
    const actions = JSON.stringify(statements(on.resources)).match(/securityhub:[A-Za-z*]+/g);
    expect(actions).toEqual(["securityhub:BatchImportFindings"]);
    expect(JSON.stringify(statements(on.resources))).not.toMatch(/"Resource":"\*"/);
  });

  it("points the function at the default product and its failure queue, retrying twice", () => {
    for (const service of [off, on]) {
      const fn = service.functions["security-hub"];
      expect(fn).toMatchObject({
        role: "SecurityHubRole",
        maximumRetryAttempts: 2,
        destinations: {
          onFailure: { type: "sqs", arn: { "Fn::GetAtt": ["SecurityHubFailureQueue", "Arn"] } },
        },
        environment: { POWERTOOLS_SERVICE_NAME: "security-hub", SECURITY_HUB_PRODUCT_ARN: PRODUCT_ARN },
      });
    }
    expect(resource(on.resources, "SecurityHubFailureQueue").Properties.KmsMasterKeyId).toEqual({
      Ref: "AlertsKey",
    });
  });

  it("refuses a misspelt value at packaging instead of silently not importing", () => {
    expect(typo).not.toBe("resolved");
    expect(typo).toContain("SecurityHubEnabled");
  });
});
