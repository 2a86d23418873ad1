import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { coverageMessage } from "../../functions/adapters/aws/coverage-message.ts";
import { COVERAGE_KEY_PREFIX } from "../../functions/adapters/lambda/coverage-invocation.ts";
import { type AlertInput, buildCoverageAlert } from "../../functions/core/cluster-coverage/coverage-alert.ts";
import type { CoverageAlertKind } from "../../functions/core/cluster-coverage/coverage-state.ts";
import { EVENTS_DIR } from "../helpers/events.ts";

/**
 * The coverage parts of the stack as users would deploy them: the configuration osls resolves offline
 * (`osls print`: no credentials, no network, no bundling), and the generators called directly for the cases
 * that must fail the packaging.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const OSLS = join(ROOT, "node_modules", "osls", "bin", "serverless.js");
const PAGER = "https://events.pagerduty.example/integration/abc/enqueue";

interface Resource {
  Type: string;
  Condition?: string;
  Properties: Record<string, unknown>;
}
interface Template {
  Resources: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown }>;
}
interface ResolvedService {
  resources: Template;
  functions: Record<string, { role?: string; environment?: Record<string, unknown>; timeout?: number }>;
}
interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
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

function ofType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, item]) => item.Type === type);
}

function roleStatements(template: Template, role: string): Statement[] {
  const policies = resource(template, role).Properties.Policies as {
    PolicyDocument: { Statement: Statement[] };
  }[];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

const actionsOf = (statement: Statement) => [statement.Action].flat();

function granting(template: Template, action: string): Statement[] {
  return roleStatements(template, "CoverageRole").filter((statement) =>
    actionsOf(statement).includes(action),
  );
}

const CLUSTER_LOG_GROUPS = [
  {
    "Fn::Sub": `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/eks/*/cluster`,
  },
  {
    "Fn::Sub": `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/eks/*/cluster:*`,
  },
];

let all: ResolvedService;
let listed: ResolvedService;
/** What `osls print` said (it prints the error on stdout) when it refused to resolve the stack. */
let enforceWithoutClusters: string | undefined;

beforeAll(async () => {
  [all, listed, enforceWithoutClusters] = await Promise.all([
    resolveService({ pagingEndpoint: PAGER }),
    resolveService({
      clusters: "prod-eu,prod-us",
      excludedClusters: "sandbox",
      coverageScheduleMinutes: "1",
      coverageSilenceMinutes: "45",
      pagingEndpoint: PAGER,
      pagingMinSeverity: "medium",
    }),
    resolveService({ remediationMode: "enforce" }).then(
      () => undefined,
      // osls wraps long lines: compare the words.
      (error: unknown) => {
        const { stdout, stderr } = error as { stdout?: unknown; stderr?: unknown };
        return `${String(stdout)} ${String(stderr)}`.replace(/\s+/g, " ");
      },
    ),
  ]);
}, 240_000);

describe("the coverage role (least privilege)", () => {
  it("may put subscription filters only on EKS control-plane log groups, and delete none", () => {
    const puts = granting(all.resources, "logs:PutSubscriptionFilter");
    expect(puts.map((statement) => statement.Resource)).toEqual([CLUSTER_LOG_GROUPS]);
    const actions = roleStatements(all.resources, "CoverageRole").flatMap(actionsOf);
    expect(
      actions.filter((action) => /Delete(SubscriptionFilter|LogGroup)|PassRole|AddPermission/.test(action)),
    ).toEqual([]);
  });

  it("passes only detect as the destination: from its environment, and only detect lets CloudWatch Logs invoke it", () => {
    expect(all.functions.coverage?.environment?.DETECT_FUNCTION_ARN).toEqual({
      "Fn::GetAtt": ["DetectLambdaFunction", "Arn"],
    });
    const fromLogs = ofType(all.resources, "AWS::Lambda::Permission").filter(
      ([, permission]) => permission.Properties.Principal === "logs.amazonaws.com",
    );
    expect(fromLogs).toEqual([
      [
        "DetectLogsPermission",
        {
          Type: "AWS::Lambda::Permission",
          Properties: {
            Action: "lambda:InvokeFunction",
            FunctionName: { "Fn::GetAtt": ["DetectLambdaFunction", "Arn"] },
            Principal: "logs.amazonaws.com",
            SourceAccount: { Ref: "AWS::AccountId" },
            SourceArn: CLUSTER_LOG_GROUPS[1],
          },
        },
      ],
    ]);
    // No subscription filter is a CloudFormation resource any more: one owner (the coverage function).
    expect(ofType(all.resources, "AWS::Logs::SubscriptionFilter")).toEqual([]);
  });

  it("reads clusters of its own region and log groups of EKS clusters only", () => {
    expect(granting(all.resources, "eks:ListClusters")).toEqual([
      expect.objectContaining({
        Resource: "*",
        Condition: { StringEquals: { "aws:RequestedRegion": { Ref: "AWS::Region" } } },
      }),
    ]);
    expect(granting(all.resources, "eks:DescribeCluster").map((statement) => statement.Resource)).toEqual([
      { "Fn::Sub": `arn:\${AWS::Partition}:eks:\${AWS::Region}:\${AWS::AccountId}:cluster/*` },
    ]);
    for (const action of [
      "logs:DescribeSubscriptionFilters",
      "logs:DescribeLogStreams",
      "logs:FilterLogEvents",
    ]) {
      expect(granting(all.resources, action).map((statement) => statement.Resource)).toEqual([
        CLUSTER_LOG_GROUPS,
      ]);
    }
  });

  it("publishes only to the alerts topic, which lists the coverage role among its publishers", () => {
    expect(granting(all.resources, "sns:Publish").map((statement) => statement.Resource)).toEqual([
      { Ref: "AlertsTopic" },
    ]);
    const policy = resource(all.resources, "AlertsTopicPolicy").Properties.PolicyDocument as {
      Statement: { Principal: unknown }[];
    };
    expect(JSON.stringify(policy.Statement[0]?.Principal)).toContain('"CoverageRole","Arn"');
    expect(granting(all.resources, "kms:GenerateDataKey").map((statement) => statement.Resource)).toEqual([
      { "Fn::GetAtt": ["AlertsKey", "Arn"] },
    ]);
  });

  it("keeps its state in its own table, and touches only its own records in the shared idempotency table", () => {
    expect(granting(all.resources, "dynamodb:Scan").map((statement) => statement.Resource)).toEqual([
      { "Fn::GetAtt": ["CoverageStateTable", "Arn"] },
    ]);
    const idempotency = granting(all.resources, "dynamodb:DeleteItem");
    expect(idempotency).toEqual([
      expect.objectContaining({
        Resource: { "Fn::GetAtt": ["IdempotencyTable", "Arn"] },
        Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [`${COVERAGE_KEY_PREFIX}#*`] } },
      }),
    ]);
    expect(resource(all.resources, "CoverageStateTable").Properties).toMatchObject({
      KeySchema: [{ AttributeName: "cluster", KeyType: "HASH" }],
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it("grants no wildcard action", () => {
    for (const action of roleStatements(all.resources, "CoverageRole").flatMap(actionsOf)) {
      expect(action).not.toMatch(/\*/);
    }
  });
});

describe("what runs coverage", () => {
  it("runs every 10 minutes by default, every minute at 1", () => {
    expect(resource(all.resources, "CoverageSchedule").Properties).toMatchObject({
      ScheduleExpression: "rate(10 minutes)",
      Targets: [{ Arn: { "Fn::GetAtt": ["CoverageLambdaFunction", "Arn"] }, Id: "coverage" }],
    });
    expect(resource(listed.resources, "CoverageSchedule").Properties.ScheduleExpression).toBe(
      "rate(1 minute)",
    );
  });

  it("lets each of its rules invoke the coverage function, and nothing else", () => {
    const rules = ofType(all.resources, "AWS::Events::Rule").map(([name]) => name);
    expect(rules).toHaveLength(7);
    const permissions = ofType(all.resources, "AWS::Lambda::Permission").filter(
      ([, permission]) => permission.Properties.Principal === "events.amazonaws.com",
    );
    expect(permissions.map(([, permission]) => permission.Properties.SourceArn).sort(byJson)).toEqual(
      rules.map((rule) => ({ "Fn::GetAtt": [rule, "Arn"] })).sort(byJson),
    );
    for (const [, permission] of permissions) {
      expect(permission.Properties.FunctionName).toEqual({ "Fn::GetAtt": ["CoverageLambdaFunction", "Arn"] });
    }
  });

  it("passes the scope and the silence threshold to the function", () => {
    expect(all.functions.coverage).toMatchObject({
      role: "CoverageRole",
      environment: {
        COVERAGE_CLUSTERS: "",
        EXCLUDED_CLUSTERS: "",
        SILENCE_MINUTES: "30",
        STACK_NAME: { Ref: "AWS::StackName" },
        COVERAGE_TABLE: { Ref: "CoverageStateTable" },
      },
    });
    expect(listed.functions.coverage?.environment).toMatchObject({
      COVERAGE_CLUSTERS: "prod-eu,prod-us",
      EXCLUDED_CLUSTERS: "sandbox",
      SILENCE_MINUTES: "45",
    });
    expect(all.resources.Outputs?.WatchedClusters?.Value).toBe("(every cluster of the region)");
    expect(listed.resources.Outputs?.WatchedClusters?.Value).toBe("prod-eu,prod-us");
  });

  it("alarms when coverage fails, stops running, or keeps failing to check clusters", () => {
    const alarms = ofType(all.resources, "AWS::CloudWatch::Alarm")
      .filter(([name]) => name.startsWith("Coverage"))
      .map(([, alarm]) => `${alarm.Properties.Namespace}/${alarm.Properties.MetricName}`);
    expect(alarms.sort()).toEqual(
      ["AWS/Lambda/Errors", "AWS/Lambda/Invocations", "EphemeralGuard/CoverageCheckFailures"].sort(),
    );
    expect(resource(all.resources, "CoverageNotRunningAlarm").Properties).toMatchObject({
      ComparisonOperator: "LessThanThreshold",
      Threshold: 1,
      TreatMissingData: "breaching",
    });
  });
});

/** The subset of EventBridge pattern matching the rules use: values, prefix, anything-but prefix. */
function matches(pattern: unknown, event: unknown): boolean {
  if (Array.isArray(pattern)) {
    return pattern.some((condition) => {
      if (typeof condition === "string") return event === condition;
      const rule = condition as { prefix?: string; "anything-but"?: { prefix: string } };
      if (typeof event !== "string") return false;
      if (rule.prefix !== undefined) return event.startsWith(rule.prefix);
      if (rule["anything-but"]) return !event.startsWith(rule["anything-but"].prefix);
      return false;
    });
  }
  if (typeof pattern !== "object" || pattern === null) return false;
  if (typeof event !== "object" || event === null) return false;
  return Object.entries(pattern).every(([key, value]) =>
    matches(value, (event as Record<string, unknown>)[key]),
  );
}

/** Resolves the one Fn::Sub the rules use, as CloudFormation would for a role named `role`. */
function resolveSubs(node: unknown, role: string): unknown {
  if (Array.isArray(node)) return node.map((item) => resolveSubs(item, role));
  if (node && typeof node === "object") {
    if ("Fn::Sub" in node) {
      return String((node as { "Fn::Sub": string })["Fn::Sub"])
        .replace(`\${AWS::Partition}`, "aws")
        .replace(`\${AWS::AccountId}`, "111122223333")
        .replace(`\${CoverageRole}`, role);
    }
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, resolveSubs(value, role)]));
  }
  return node;
}

function byJson(a: unknown, b: unknown): number {
  return JSON.stringify(a) < JSON.stringify(b) ? -1 : 1;
}

describe("the CloudTrail rules (infra/coverage-triggers.json, events/cloudtrail)", () => {
  const SAMPLES: Record<string, string> = {
    CoverageOnCreateCluster: "create-cluster-with-audit-logging",
    CoverageOnUpdateClusterConfig: "update-cluster-config-audit-logging-off",
    CoverageOnDeleteCluster: "delete-cluster",
    CoverageOnDeleteSubscriptionFilter: "delete-subscription-filter-of-detect",
    CoverageOnPutSubscriptionFilter: "put-subscription-filter-redirecting-detect",
    CoverageOnDeleteLogGroup: "delete-log-group-of-cluster",
  };
  const sample = (name: string) =>
    JSON.parse(readFileSync(join(EVENTS_DIR, "cloudtrail", `${name}.json`), "utf8")) as {
      detail: Record<string, unknown> & {
        userIdentity: { arn: string };
        requestParameters: Record<string, unknown>;
      };
    };
  const pattern = (rule: string) =>
    resolveSubs(
      resource(all.resources, rule).Properties.EventPattern,
      "ephemeral-guard-ci-CoverageRole-AbC123",
    );

  it("has one rule per call that changes coverage, each matching its sample and no other sample", () => {
    for (const [rule, file] of Object.entries(SAMPLES)) {
      const matched = Object.values(SAMPLES).filter((other) => matches(pattern(rule), sample(other)));
      expect(matched, rule).toEqual([file]);
    }
  });

  it("ignores log groups other than EKS clusters', and the coverage role's own puts (no run triggers another)", () => {
    const elsewhere = sample("delete-log-group-of-cluster");
    elsewhere.detail.requestParameters.logGroupName = "/aws/lambda/anything";
    expect(matches(pattern("CoverageOnDeleteLogGroup"), elsewhere)).toBe(false);
    const own = sample("put-subscription-filter-redirecting-detect");
    own.detail.userIdentity.arn =
      "arn:aws:sts::111122223333:assumed-role/ephemeral-guard-ci-CoverageRole-AbC123/ephemeral-guard-ci-coverage";
    expect(matches(pattern("CoverageOnPutSubscriptionFilter"), own)).toBe(false);
  });
});

describe("paging (infra/paging.yml)", () => {
  type Policy = { $or: Record<string, unknown[]>[] };
  function pages(policy: Policy, kind: CoverageAlertKind): boolean {
    const alert = buildCoverageAlert({
      kind,
      id: "prod-eu:2:2026-11-20T10:00:00.000Z",
      cluster: "prod-eu",
      region: "eu-west-1",
      state: "covered",
      previousState: undefined,
      previousSince: undefined,
      problems: [],
      subscription: undefined,
      repair: undefined,
      lastAuditEventAt: undefined,
      coveredUntil: undefined,
      trigger: undefined,
      time: "2026-11-20T10:00:00.000Z",
    } satisfies AlertInput);
    const { attributes } = coverageMessage(alert);
    return policy.$or.some((branch) =>
      Object.entries(branch).every(([name, conditions]) => {
        const attribute = attributes[name];
        if (!attribute) return false;
        return conditions.some((condition) => {
          if (typeof condition === "string") return attribute.StringValue === condition;
          const [operator, bound] = (condition as { numeric: [string, number] }).numeric;
          return (
            operator === ">=" && attribute.DataType === "Number" && Number(attribute.StringValue) >= bound
          );
        });
      }),
    );
  }

  it("pages on coverage alerts at or above the paging threshold", () => {
    const policy = (service: ResolvedService) =>
      resource(service.resources, "PagingSubscription").Properties.FilterPolicy as Policy;
    const kinds: CoverageAlertKind[] = [
      "audit-disabled",
      "unsubscribed",
      "silent",
      "restored",
      "recovered",
      "deleted",
    ];
    expect(kinds.filter((kind) => pages(policy(all), kind))).toEqual(["audit-disabled", "unsubscribed"]);
    expect(kinds.filter((kind) => pages(policy(listed), kind))).toEqual([
      "audit-disabled",
      "unsubscribed",
      "silent",
      "restored",
    ]);
  });
});

describe("parameters that must fail the packaging", () => {
  type Generator = (options: { resolveVariable: (name: string) => Promise<unknown> }) => Promise<Template>;
  const load = (file: string) => createRequire(import.meta.url)(join(ROOT, "infra", file)) as Generator;
  const resolver = (params: Record<string, string>) => ({
    resolveVariable: async (name: string) => {
      const key = name.replace(/^param:/, "");
      if (!(key in params)) throw new Error(`no param ${key}`);
      return params[key];
    },
  });
  const defaults = { coverageScheduleMinutes: "10", coverageSilenceMinutes: "30" };

  it.each([
    ["coverageScheduleMinutes", "0"],
    ["coverageScheduleMinutes", "61"],
    ["coverageScheduleMinutes", "ten"],
    ["coverageScheduleMinutes", "1.5"],
    ["coverageSilenceMinutes", "4"],
    ["coverageSilenceMinutes", "1441"],
  ])("%s=%s", async (name, value) => {
    await expect(load("coverage-rules.cjs")(resolver({ ...defaults, [name]: value }))).rejects.toThrow(name);
  });

  it.each([
    ["a name EKS would not accept", { clusters: "prod eu", excludedClusters: "" }, /not an EKS cluster name/],
    ["an excluded name EKS would not accept", { clusters: "", excludedClusters: "-x" }, /excludedClusters/],
    ["a cluster both listed and excluded", { clusters: "a,b", excludedClusters: "b" }, /listed in both/],
  ])("%s", async (_, params, message) => {
    await expect(load("log-subscriptions.cjs")(resolver(params))).rejects.toThrow(message);
  });

  it("remediationMode=enforce with no cluster remediate could reach, saying why and what to do", () => {
    expect(enforceWithoutClusters).toMatch(/remediationMode=enforce has no cluster to act on/);
    expect(enforceWithoutClusters).toMatch(/--param="clusters=/);
  });
});
