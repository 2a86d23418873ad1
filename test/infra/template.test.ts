import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIdempotencyStore } from "../../functions/adapters/aws/act-once.ts";
import {
  findingMessage,
  STORM_MEMBER_ATTRIBUTES,
  type TopicMessage,
  withAttributes,
} from "../../functions/adapters/aws/sns-message.ts";
import { snsFindingSink, stormControl } from "../../functions/adapters/lambda/finding-sinks.ts";
import { createObservability } from "../../functions/adapters/lambda/observability.ts";
import { detectFile, onlyFinding } from "../helpers/events.ts";
import { asTopicMessages } from "../helpers/sns-lambda-events.ts";
import { idempotencyTable, startDynalite, stormTable } from "../peers/dynalite.ts";
import { startSnsServer } from "../peers/sns-server.ts";

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

/**
 * The subset of SNS filter-policy semantics (MessageAttributes scope) the stack uses: a policy is an AND of
 * its keys, each key an OR of conditions (exact string, `numeric` comparison, `exists`); `$or` is an OR of
 * sub-policies.
 */
type FilterPolicy = Record<string, unknown>;
const NUMERIC: Record<string, (a: number, b: number) => boolean> = {
  ">=": (a, b) => a >= b,
  ">": (a, b) => a > b,
  "<=": (a, b) => a <= b,
  "<": (a, b) => a < b,
  "=": (a, b) => a === b,
};

function passesCondition(
  condition: unknown,
  attribute: TopicMessage["attributes"][string] | undefined,
): boolean {
  if (typeof condition === "string")
    return attribute?.DataType === "String" && attribute.StringValue === condition;
  if (condition && typeof condition === "object" && "exists" in condition) {
    return (condition as { exists: boolean }).exists === (attribute !== undefined);
  }
  const numeric = (condition as { numeric?: [string, number] }).numeric;
  if (!numeric || attribute?.DataType !== "Number") return false;
  const [operator, bound] = numeric;
  return NUMERIC[operator]?.(Number(attribute.StringValue), bound) ?? false;
}

function passesFilter(policy: FilterPolicy, message: TopicMessage): boolean {
  return Object.entries(policy).every(([name, conditions]) => {
    if (name === "$or") return (conditions as FilterPolicy[]).some((branch) => passesFilter(branch, message));
    return (conditions as unknown[]).some((condition) =>
      passesCondition(condition, message.attributes[name]),
    );
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

/**
 * Wildcards that are a resource's whole intended scope rather than a shortcut: the coverage function watches
 * every cluster of the account and region, and every EKS control-plane log group (`/aws/eks/<cluster>/cluster`).
 */
const SCOPED_WILDCARDS = [
  /^\{"Fn::Sub":"arn:\$\{AWS::Partition\}:eks:\$\{AWS::Region\}:\$\{AWS::AccountId\}:cluster\/\*"\}$/,
  /^\{"Fn::Sub":"arn:\$\{AWS::Partition\}:logs:\$\{AWS::Region\}:\$\{AWS::AccountId\}:log-group:\/aws\/eks\/\*\/cluster(:\*)?"\}$/,
];

let template: Template;
let variant: Template;

const STORM_BUDGET = 20;
const STORM_FINDINGS = 200;
const LATE_FINDINGS = 50;
/** What detect's sink publishes for a storm on prod-eu and a quiet staging, as SNS hands it on. */
let stormTopic: TopicMessage[] = [];

/** The deployed sink (storm control on) publishing to the SNS peer, with its DynamoDB tables on dynalite. */
async function publishStorm(): Promise<TopicMessage[]> {
  const topicArn = "arn:aws:sns:us-east-1:123456789012:ephemeral-guard-ci-alerts";
  const sns = await startSnsServer({ topics: [topicArn] });
  const dynamo = await startDynalite([idempotencyTable("idempotency"), stormTable("storm")]);
  const { SNSClient } = await import("@aws-sdk/client-sns");
  const client = new SNSClient({
    endpoint: sns.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "t", secretAccessKey: "t" },
  });
  const target = {
    mode: "sns" as const,
    topicArn,
    idempotency: { tableName: "idempotency", expiresAfterSeconds: 3600, keyPrefix: "ephemeral-guard.detect" },
    storm: { tableName: "storm", budget: STORM_BUDGET, windowMinutes: 5 },
  };
  const { logger, metrics } = createObservability("detect");
  metrics.setThrowOnEmptyMetrics(false);
  const sink = snsFindingSink(
    client,
    topicArn,
    createIdempotencyStore(dynamo.client, target.idempotency),
    () => 60_000,
    stormControl(dynamo.client, target, logger, metrics),
  );
  const critical = onlyFinding(detectFile("privileged-sysadmin-profile"));
  const high = onlyFinding(detectFile("host-path-mount"));
  const storm = (count: number, from: number, cluster: string) =>
    Array.from({ length: count }, (_, index) => ({
      ...(index % 7 === 0 ? critical : high),
      cluster,
      auditID: `${cluster}-${from + index}`,
    }));
  try {
    await sink([...storm(STORM_FINDINGS, 0, "prod-eu"), ...storm(1, 0, "staging")]);
    await sink(storm(LATE_FINDINGS, STORM_FINDINGS, "prod-eu"));
    return asTopicMessages(sns.published);
  } finally {
    client.destroy();
    await sns.stop();
    await dynamo.stop();
  }
}

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
    stormBudget: "50",
    stormWindowMinutes: "10",
  });
  stormTopic = await publishStorm();
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

  it("lets CloudWatch Logs invoke detect from EKS control-plane log groups only, whose filters coverage puts", () => {
    for (const built of [template, variant]) {
      // One owner of the subscription filters: the coverage function (docs/deploy.md), not CloudFormation.
      expect(resourcesOfType(built, "AWS::Logs::SubscriptionFilter")).toEqual([]);
      const fromLogs = resourcesOfType(built, "AWS::Lambda::Permission").filter(
        ([, permission]) => permission.Properties.Principal === "logs.amazonaws.com",
      );
      expect(fromLogs.map(([name]) => name)).toEqual(["DetectLogsPermission"]);
      expect(fromLogs[0]?.[1].Properties).toMatchObject({
        FunctionName: { "Fn::GetAtt": ["DetectLambdaFunction", "Arn"] },
        SourceAccount: { Ref: "AWS::AccountId" },
        SourceArn: {
          "Fn::Sub": `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/eks/*/cluster:*`,
        },
      });
    }
    const coverage = resource(template, "CoverageLambdaFunction").Properties.Environment as {
      Variables: Record<string, unknown>;
    };
    expect(coverage.Variables).toMatchObject({
      DETECT_FUNCTION_ARN: { "Fn::GetAtt": ["DetectLambdaFunction", "Arn"] },
      COVERAGE_CLUSTERS: "prod-eu,staging",
    });
  });

  it("grants no wildcard actions and no unconditioned wildcard resources", () => {
    for (const built of [template, variant]) {
      for (const [name, role] of resourcesOfType(built, "AWS::IAM::Role")) {
        for (const statement of statements(role)) {
          for (const action of actions(statement)) expect(action, `${name} ${action}`).not.toMatch(/\*$|^\*/);
          const resources = [statement.Resource].flat();
          for (const target of resources) {
            if (target === "*") {
              // Only for actions IAM cannot scope to a resource, and then pinned by a condition.
              expect(actions(statement), `${name} ${statement.Sid}`).toEqual(["eks:ListClusters"]);
              expect(statement.Condition, `${name} ${statement.Sid}`).toBeDefined();
              continue;
            }
            if (SCOPED_WILDCARDS.some((scope) => scope.test(JSON.stringify(target)))) continue;
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
    for (const action of ["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]) {
      expect(grants(template, "DetectLambdaFunction", action)).toEqual([
        { "Fn::GetAtt": ["IdempotencyTable", "Arn"] },
      ]);
    }
    // Storm counters are read (the previous window: does a storm go on?) and counted.
    for (const action of ["dynamodb:GetItem", "dynamodb:UpdateItem"]) {
      expect(grants(template, "DetectLambdaFunction", action)).toEqual([
        { "Fn::GetAtt": ["IdempotencyTable", "Arn"] },
        { "Fn::GetAtt": ["StormStateTable", "Arn"] },
      ]);
    }
    // Storm control: only its own counters in the storm table, never notify-slack's items.
    const counters = statements(roleOf(template, "DetectLambdaFunction")).find(
      (statement) => statement.Sid === "StormBudgetCounters",
    );
    expect(counters).toMatchObject({
      Action: ["dynamodb:GetItem", "dynamodb:UpdateItem"],
      Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["budget#*"] } },
    });
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
    expect(all.filter((action) => /^(sns|eks):/.test(action))).toEqual([]);
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

  it("lets notify-slack keep only its own idempotency records and storm items, and runs its flush every minute", () => {
    const notifyStatements = statements(roleOf(template, "NotifyDashslackLambdaFunction"));
    const dynamo = notifyStatements.filter((statement) =>
      actions(statement).some((a) => a.startsWith("dynamodb:")),
    );
    expect(dynamo).toEqual([
      {
        Sid: "IdempotencyRecords",
        Effect: "Allow",
        Action: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
        Resource: { "Fn::GetAtt": ["IdempotencyTable", "Arn"] },
        Condition: {
          "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["ephemeral-guard.notify-slack#*"] },
        },
      },
      {
        Sid: "StormDigests",
        Effect: "Allow",
        Action: ["dynamodb:PutItem", "dynamodb:Query", "dynamodb:DeleteItem"],
        Resource: { "Fn::GetAtt": ["StormStateTable", "Arn"] },
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["members#*", "pending"] } },
      },
    ]);
    const [, rule] = resourcesOfType(template, "AWS::Events::Rule")[0] ?? [];
    expect(rule?.Properties).toMatchObject({
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      Targets: [{ Arn: { "Fn::GetAtt": ["NotifyDashslackLambdaFunction", "Arn"] } }],
    });
    for (const [built, budget, minutes] of [
      [template, "20", "5"],
      [variant, "50", "10"],
    ] as const) {
      const variables = (name: string) =>
        (resource(built, name).Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      for (const name of ["DetectLambdaFunction", "NotifyDashslackLambdaFunction"]) {
        expect(variables(name)).toMatchObject({
          IDEMPOTENCY_TABLE: { Ref: "IdempotencyTable" },
          STORM_TABLE: { Ref: "StormStateTable" },
          STORM_BUDGET: budget,
          STORM_WINDOW_MINUTES: minutes,
        });
      }
    }
  });

  it("keeps storm state in an encrypted table that expires everything (TTL on `expiresAt`)", () => {
    const table = resource(template, "StormStateTable").Properties;
    expect(table.KeySchema).toEqual([
      { AttributeName: "pk", KeyType: "HASH" },
      { AttributeName: "sk", KeyType: "RANGE" },
    ]);
    expect(table.SSESpecification).toEqual({ SSEEnabled: true, SSEType: "KMS" });
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: "expiresAt", Enabled: true });
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

  it("pages on created findings at or above the threshold that are not storm members, on storm notices and on coverage alerts (test/infra/coverage-stack.test.ts)", () => {
    const paging = resource(template, "PagingSubscription");
    expect(paging.Condition).toBe("HasPagingEndpoint");
    expect(paging.Properties).toMatchObject({
      Protocol: "https",
      Endpoint: PAGER,
      TopicArn: { Ref: "AlertsTopic" },
      FilterPolicyScope: "MessageAttributes",
    });
    expect(paging.Properties.FilterPolicy).toEqual({
      $or: [
        {
          messageType: ["finding"],
          outcome: ["created"],
          severityRank: [{ numeric: [">=", 3] }],
          storm: [{ exists: false }],
        },
        { messageType: ["storm"] },
        // Coverage alerts at or above the threshold (test/infra/coverage-stack.test.ts tests them).
        { messageType: ["coverage"], severityRank: [{ numeric: [">=", 3] }] },
      ],
    });
    const policy = paging.Properties.FilterPolicy as FilterPolicy;
    const criticalOnly = resource(variant, "PagingSubscription").Properties.FilterPolicy as FilterPolicy;

    const critical = onlyFinding(detectFile("privileged-sysadmin-profile"));
    const samples: Record<string, TopicMessage> = {
      critical: findingMessage(critical),
      high: findingMessage(onlyFinding(detectFile("host-path-mount"))),
      medium: findingMessage(onlyFinding(detectFile("kubectl-debug-general-profile"))),
      low: findingMessage(onlyFinding(detectFile("rbac-forbidden"))),
      // What a critical write looks like when admission or RBAC stopped it: Slack, not the pager.
      criticalDenied: findingMessage({ ...critical, outcome: "denied" }),
      criticalForbidden: findingMessage({ ...critical, outcome: "forbidden" }),
      // Past the storm budget: the storm notice pages instead.
      criticalStormMember: withAttributes(findingMessage(critical), STORM_MEMBER_ATTRIBUTES),
    };
    const pages = (chosen: FilterPolicy) =>
      Object.entries(samples)
        .filter(([, message]) => passesFilter(chosen, message))
        .map(([name]) => name);
    expect(pages(policy)).toEqual(["critical", "high"]);
    expect(pages(criticalOnly)).toEqual(["critical"]);
    // No endpoint: the condition is false and no subscription is created.
    expect(variant.Conditions?.HasPagingEndpoint).toEqual({ "Fn::Not": [{ "Fn::Equals": ["", ""] }] });
  });

  it("alert fatigue: pages once per storm, not once per finding, on what detect publishes", () => {
    const policy = resource(template, "PagingSubscription").Properties.FilterPolicy as FilterPolicy;
    const pages = stormTopic.filter((message) => passesFilter(policy, message));
    const type = (message: TopicMessage) => message.attributes.messageType?.StringValue;
    const cluster = (message: TopicMessage) => message.attributes.cluster?.StringValue;
    const members = stormTopic.filter((message) => message.attributes.storm?.StringValue === "member");
    expect(members).toHaveLength(STORM_FINDINGS - STORM_BUDGET + LATE_FINDINGS);
    expect(members.filter((message) => passesFilter(policy, message))).toEqual([]);
    // One storm page for prod-eu's window, however many findings followed it.
    expect(pages.filter((message) => type(message) === "storm").map(cluster)).toEqual(["prod-eu"]);
    // Before the storm began, the budget's findings paged as usual (the most severe first); staging is untouched.
    expect(
      pages.filter((message) => type(message) === "finding" && cluster(message) === "prod-eu"),
    ).toHaveLength(STORM_BUDGET);
    expect(pages.filter((message) => cluster(message) === "staging")).toHaveLength(1);
    expect(pages).toHaveLength(STORM_BUDGET + 1 + 1);
  });

  it("alarms on errors, throttles, failure-queue depth, idempotency failures and rejected records", () => {
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
      'EphemeralGuard/StormBudgetFailures:[{"Name":"service","Value":"detect"}]',
      'EphemeralGuard/StormNoticeFailures:[{"Name":"service","Value":"detect"}]',
      'EphemeralGuard/SlackIdempotencyFailures:[{"Name":"service","Value":"notify-slack"}]',
      'EphemeralGuard/StormHoldFailures:[{"Name":"service","Value":"notify-slack"}]',
      // Records detect could not read whole, cut events among them (they are still reported as findings).
      'EphemeralGuard/Rejects:[{"Name":"service","Value":"detect"}]',
    ]) {
      expect(watched).toContain(expected);
    }
    // Every alarm fires on anything above zero, except the one that fires on coverage not running at all.
    for (const alarm of alarms.filter((alarm) => alarm.MetricName !== "Invocations"))
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
