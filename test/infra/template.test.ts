import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findingMessage, type TopicMessage } from "../../functions/adapters/aws/sns-message.ts";
import { SUBSCRIPTION_FILTER_PATTERN } from "../../functions/adapters/aws/subscription-filter.ts";
import type { Finding } from "../../functions/core/finding.ts";
import { detectFile, onlyFinding } from "../helpers/events.ts";

/**
 * Packages the stack offline exactly like `npm run package` (osls, no credentials, no network) and checks
 * the CloudFormation template users would deploy.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const OSLS = join(ROOT, "node_modules", "osls", "bin", "serverless.js");
const PAGER = "https://events.pagerduty.example/integration/abc/enqueue";

interface Resource {
  Type: string;
  Condition?: string;
  DependsOn?: string | string[];
  Properties: Record<string, unknown>;
}
interface Template {
  Resources: Record<string, Resource>;
  Conditions?: Record<string, unknown>;
  Outputs?: Record<string, unknown>;
}
interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, unknown>;
}

const workDirs: string[] = [];

async function packageStack(params: Record<string, string>): Promise<Template> {
  const out = mkdtempSync(join(tmpdir(), "ephemeral-guard-package-"));
  workDirs.push(out);
  const args = [OSLS, "package", "--stage", "ci", "--package", out];
  for (const [name, value] of Object.entries(params)) args.push(`--param=${name}=${value}`);
  await promisify(execFile)(process.execPath, args, {
    cwd: ROOT,
    timeout: 120_000,
    env: {
      ...process.env,
      SLS_TELEMETRY_DISABLED: "1",
      SLS_NOTIFICATIONS_MODE: "off",
      ESBUILD_WORK_FOLDER: `.esbuild-template-test-${process.pid}`,
    },
  });
  return JSON.parse(readFileSync(join(out, "cloudformation-template-update-stack.json"), "utf8")) as Template;
}

function resourcesOfType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

function resource(template: Template, name: string): Resource {
  const found = template.Resources[name];
  if (!found) throw new Error(`no resource ${name}; have ${Object.keys(template.Resources).join(", ")}`);
  return found;
}

/** Statements of a role's inline policies, with both branches of any Fn::If. */
function statements(role: Resource): Statement[] {
  const policies = role.Properties.Policies as { PolicyDocument: { Statement: unknown[] } }[];
  const out: Statement[] = [];
  const collect = (item: unknown): void => {
    if (item && typeof item === "object" && "Fn::If" in item) {
      const [, whenTrue, whenFalse] = (item as { "Fn::If": unknown[] })["Fn::If"];
      collect(whenTrue);
      collect(whenFalse);
    } else if (item && typeof item === "object" && "Effect" in item) out.push(item as Statement);
  };
  for (const policy of policies) for (const item of policy.PolicyDocument.Statement) collect(item);
  return out;
}

function actions(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

function roleOf(template: Template, functionName: string): Resource {
  const role = resource(template, functionName).Properties.Role as { "Fn::GetAtt": [string, string] };
  return resource(template, role["Fn::GetAtt"][0]);
}

function grants(template: Template, functionName: string, action: string): unknown[] {
  return statements(roleOf(template, functionName))
    .filter((statement) => actions(statement).includes(action))
    .map((statement) => statement.Resource);
}

/** The subset of SNS filter-policy semantics the stack uses: exact strings, numeric comparisons; AND of keys. */
function passesFilter(policy: Record<string, unknown[]>, message: TopicMessage): boolean {
  return Object.entries(policy).every(([name, conditions]) => {
    const attribute = message.attributes[name];
    if (!attribute) return false;
    return conditions.some((condition) => {
      if (typeof condition === "string")
        return attribute.DataType === "String" && attribute.StringValue === condition;
      const numeric = (condition as { numeric?: [string, number] }).numeric;
      if (!numeric || attribute.DataType !== "Number") return false;
      const [operator, bound] = numeric;
      const value = Number(attribute.StringValue);
      const compare: Record<string, (a: number, b: number) => boolean> = {
        ">=": (a, b) => a >= b,
        ">": (a, b) => a > b,
        "<=": (a, b) => a <= b,
        "<": (a, b) => a < b,
        "=": (a, b) => a === b,
      };
      return compare[operator]?.(value, bound) ?? false;
    });
  });
}

/** References (Ref, Fn::GetAtt, DependsOn) that do not resolve make CloudFormation reject the stack. */
function danglingReferences(template: Template): string[] {
  const known = new Set([...Object.keys(template.Resources), ...Object.keys(template.Conditions ?? {})]);
  const dangling: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key === "Ref" && typeof value === "string" && !value.startsWith("AWS::") && !known.has(value)) {
          dangling.push(value);
        }
        if (key === "Fn::GetAtt" && Array.isArray(value) && !known.has(String(value[0]))) {
          dangling.push(String(value[0]));
        }
        walk(value);
      }
    }
  };
  walk(template.Resources);
  walk(template.Outputs);
  for (const item of Object.values(template.Resources)) {
    const dependsOn = item.DependsOn === undefined ? [] : [item.DependsOn].flat();
    for (const name of dependsOn) if (!known.has(name)) dangling.push(name);
    if (item.Condition && !known.has(item.Condition)) dangling.push(item.Condition);
  }
  return dangling;
}

let template: Template;
let variant: Template;

beforeAll(async () => {
  // One at a time: serverless-esbuild builds in the service's .esbuild/ directory.
  template = await packageStack({
    clusters: "prod-eu,staging",
    pagingEndpoint: PAGER,
    pagingProtocol: "https",
  });
  variant = await packageStack({
    clusters: "prod-eu",
    pagingMinSeverity: "critical",
    slackWebhookSource: "secretsmanager",
    slackWebhookName: "ephemeral-guard/slack",
  });
}, 240_000);

afterAll(() => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

describe("packaged CloudFormation template", () => {
  it("references only resources and conditions it defines", () => {
    expect(danglingReferences(template)).toEqual([]);
    expect(danglingReferences(variant)).toEqual([]);
  });

  it("runs every function on nodejs22.x arm64 with its own role", () => {
    const functions = resourcesOfType(template, "AWS::Lambda::Function");
    expect(functions.map(([name]) => name)).toEqual(
      expect.arrayContaining(["DetectLambdaFunction", "NotifyDashslackLambdaFunction"]),
    );
    const roles = functions.map(([name]) => JSON.stringify(resource(template, name).Properties.Role));
    expect(new Set(roles).size).toBe(functions.length);
    for (const [, fn] of functions) {
      expect(fn.Properties.Runtime).toBe("nodejs22.x");
      expect(fn.Properties.Architectures).toEqual(["arm64"]);
    }
    expect(template.Resources.IamRoleLambdaExecution).toBeUndefined();
  });

  it("subscribes detect to each configured cluster's audit log group with the ephemeral-container pattern", () => {
    const filters = resourcesOfType(template, "AWS::Logs::SubscriptionFilter");
    expect(filters.map(([, filter]) => filter.Properties.LogGroupName).sort()).toEqual([
      "/aws/eks/prod-eu/cluster",
      "/aws/eks/staging/cluster",
    ]);
    for (const [, filter] of filters) {
      // The same pattern the functions and the hunt use.
      expect(filter.Properties.FilterPattern).toBe(SUBSCRIPTION_FILTER_PATTERN);
      expect(filter.Properties.DestinationArn).toEqual({ "Fn::GetAtt": ["DetectLambdaFunction", "Arn"] });
      const [permissionName] = [filter.DependsOn ?? []].flat();
      const permission = resource(template, String(permissionName));
      expect(permission.Properties.Principal).toBe("logs.amazonaws.com");
      expect(JSON.stringify(permission.Properties.SourceArn)).toContain(
        `log-group:${filter.Properties.LogGroupName}:*`,
      );
    }
    expect(resourcesOfType(variant, "AWS::Logs::SubscriptionFilter")).toHaveLength(1);
  });

  it("grants no wildcard actions and no unconditioned wildcard resources", () => {
    for (const built of [template, variant]) {
      for (const [name, role] of resourcesOfType(built, "AWS::IAM::Role")) {
        for (const statement of statements(role)) {
          for (const action of actions(statement)) expect(action, `${name} ${action}`).not.toMatch(/\*$|^\*/);
          const resources = [statement.Resource].flat();
          for (const target of resources) {
            expect(target, `${name} ${statement.Sid}`).not.toBe("*");
            if (JSON.stringify(target).includes("/*")) {
              expect(
                statement.Condition,
                `${name} ${statement.Sid} wildcard needs a condition`,
              ).toBeDefined();
            }
          }
        }
      }
    }
  });

  it("lets detect publish to the topic, use its table and send to its queue, and nothing else", () => {
    expect(grants(template, "DetectLambdaFunction", "sns:Publish")).toEqual([{ Ref: "AlertsTopic" }]);
    for (const action of [
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:BatchWriteItem",
    ]) {
      expect(grants(template, "DetectLambdaFunction", action)).toEqual([
        { "Fn::GetAtt": ["IdempotencyTable", "Arn"] },
      ]);
    }
    expect(grants(template, "DetectLambdaFunction", "sqs:SendMessage")).toEqual([
      { "Fn::GetAtt": ["DetectFailureQueue", "Arn"] },
    ]);
    const all = statements(roleOf(template, "DetectLambdaFunction")).flatMap(actions);
    expect(all.filter((action) => /^(ssm|secretsmanager|eks|lambda):/.test(action))).toEqual([]);
  });

  it("lets notify-slack read only its webhook parameter or secret, decrypting only through that service", () => {
    const ssmRead = grants(template, "NotifyDashslackLambdaFunction", "ssm:GetParameter");
    expect(JSON.stringify(ssmRead)).toContain(":parameter/ephemeral-guard/slack-webhook");
    const secretRead = grants(variant, "NotifyDashslackLambdaFunction", "secretsmanager:GetSecretValue");
    expect(JSON.stringify(secretRead)).toContain(":secret:ephemeral-guard/slack-??????");
    const decrypt = statements(roleOf(template, "NotifyDashslackLambdaFunction")).filter(
      (statement) => actions(statement).includes("kms:Decrypt") && statement.Condition,
    );
    expect(JSON.stringify(decrypt)).toContain("kms:ViaService");
    expect(JSON.stringify(decrypt)).toContain("kms:EncryptionContext:PARAMETER_ARN");
    const all = statements(roleOf(template, "NotifyDashslackLambdaFunction")).flatMap(actions);
    expect(all.filter((action) => /^(sns|dynamodb|eks):/.test(action))).toEqual([]);
    // Exactly one of the two variables reaches the function, matching its grant.
    const variables = (built: Template) =>
      (
        resource(built, "NotifyDashslackLambdaFunction").Properties.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables;
    expect(variables(template).SLACK_WEBHOOK_PARAMETER).toBe("/ephemeral-guard/slack-webhook");
    expect(variables(template).SLACK_WEBHOOK_SECRET_ID).toBeUndefined();
    expect(variables(variant).SLACK_WEBHOOK_SECRET_ID).toBe("ephemeral-guard/slack");
    expect(variables(variant).SLACK_WEBHOOK_PARAMETER).toBeUndefined();
  });

  it("points detect at the stack's topic and table and publishes for real", () => {
    const variables = (
      resource(template, "DetectLambdaFunction").Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect(variables).toMatchObject({
      PUBLISH_MODE: "sns",
      ALERTS_TOPIC_ARN: { Ref: "AlertsTopic" },
      IDEMPOTENCY_TABLE: { Ref: "IdempotencyTable" },
      POWERTOOLS_SERVICE_NAME: "detect",
    });
  });

  it("encrypts the topic, the failure queues and the idempotency table (with TTL on `expiration`)", () => {
    expect(resource(template, "AlertsTopic").Properties.KmsMasterKeyId).toEqual({ Ref: "AlertsKey" });
    for (const [, queue] of resourcesOfType(template, "AWS::SQS::Queue")) {
      expect(queue.Properties.KmsMasterKeyId).toEqual({ Ref: "AlertsKey" });
    }
    const table = resource(template, "IdempotencyTable").Properties;
    expect(table.SSESpecification).toMatchObject({ SSEEnabled: true });
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: "expiration", Enabled: true });
    expect(resource(template, "AlertsKey").Properties.EnableKeyRotation).toBe(true);
  });

  it("retries failed async invocations twice, then keeps them in an encrypted queue", () => {
    for (const [fn, queue] of [
      ["DetectLambdaEvConf", "DetectFailureQueue"],
      ["NotifyDashslackLambdaEvConf", "NotifySlackFailureQueue"],
    ] as const) {
      expect(resource(template, fn).Properties).toMatchObject({
        MaximumRetryAttempts: 2,
        DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [queue, "Arn"] } } },
      });
    }
    const [, slackSubscription] = resourcesOfType(template, "AWS::SNS::Subscription").find(
      ([, subscription]) => subscription.Properties.Protocol === "lambda",
    ) ?? ["", undefined];
    expect(slackSubscription?.Properties.TopicArn).toEqual({ Ref: "AlertsTopic" });
    expect(slackSubscription?.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": ["NotifySlackFailureQueue", "Arn"] },
    });
  });

  it("pages only on created findings at or above the threshold", () => {
    const paging = resource(template, "PagingSubscription");
    expect(paging.Condition).toBe("HasPagingEndpoint");
    expect(paging.Properties).toMatchObject({
      Protocol: "https",
      Endpoint: PAGER,
      TopicArn: { Ref: "AlertsTopic" },
    });
    const policy = paging.Properties.FilterPolicy as Record<string, unknown[]>;
    const criticalOnly = resource(variant, "PagingSubscription").Properties.FilterPolicy as Record<
      string,
      unknown[]
    >;

    const critical = onlyFinding(detectFile("privileged-sysadmin-profile"));
    const samples: Record<string, Finding> = {
      critical,
      high: onlyFinding(detectFile("host-path-mount")),
      medium: onlyFinding(detectFile("kubectl-debug-general-profile")),
      low: onlyFinding(detectFile("rbac-forbidden")),
      // What a critical write looks like when admission or RBAC stopped it: Slack, not the pager.
      criticalDenied: { ...critical, outcome: "denied" },
      criticalForbidden: { ...critical, outcome: "forbidden" },
    };
    expect(Object.values(samples).map((finding) => `${finding.severity}/${finding.outcome}`)).toEqual([
      "critical/created",
      "high/created",
      "medium/created",
      "low/forbidden",
      "critical/denied",
      "critical/forbidden",
    ]);
    const pages = (chosen: Record<string, unknown[]>) =>
      Object.entries(samples)
        .filter(([, finding]) => passesFilter(chosen, findingMessage(finding)))
        .map(([name]) => name);
    expect(pages(policy)).toEqual(["critical", "high"]);
    expect(pages(criticalOnly)).toEqual(["critical"]);
    // No endpoint: the condition is false and no subscription is created.
    expect(variant.Conditions?.HasPagingEndpoint).toEqual({ "Fn::Not": [{ "Fn::Equals": ["", ""] }] });
  });

  it("alarms on errors, throttles, failure-queue depth and idempotency failures", () => {
    const alarms = resourcesOfType(template, "AWS::CloudWatch::Alarm").map(([, alarm]) => alarm.Properties);
    const watched = alarms.map(
      (alarm) => `${alarm.Namespace}/${alarm.MetricName}:${JSON.stringify(alarm.Dimensions)}`,
    );
    for (const expected of [
      'AWS/Lambda/Errors:[{"Name":"FunctionName","Value":{"Ref":"DetectLambdaFunction"}}]',
      'AWS/Lambda/Throttles:[{"Name":"FunctionName","Value":{"Ref":"DetectLambdaFunction"}}]',
      'AWS/Lambda/Errors:[{"Name":"FunctionName","Value":{"Ref":"NotifyDashslackLambdaFunction"}}]',
      'AWS/SQS/ApproximateNumberOfMessagesVisible:[{"Name":"QueueName","Value":{"Fn::GetAtt":["DetectFailureQueue","QueueName"]}}]',
      'EphemeralGuard/IdempotencyFailures:[{"Name":"service","Value":"detect"}]',
    ]) {
      expect(watched).toContain(expected);
    }
    for (const alarm of alarms)
      expect(alarm).toMatchObject({ Threshold: 0, ComparisonOperator: "GreaterThanThreshold" });
  });

  it("keeps the functions' own logs for the configured retention", () => {
    const groups = resourcesOfType(template, "AWS::Logs::LogGroup").map(([, group]) => group.Properties);
    expect(groups.map((group) => group.LogGroupName)).toEqual(
      expect.arrayContaining([
        "/aws/lambda/ephemeral-guard-ci-detect",
        "/aws/lambda/ephemeral-guard-ci-notify-slack",
      ]),
    );
    for (const group of groups) expect(group.RetentionInDays).toBe(30);
  });
});
