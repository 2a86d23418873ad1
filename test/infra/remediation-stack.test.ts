import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { loadAllYaml } from "@kubernetes/client-node";
import { beforeAll, describe, expect, it } from "vitest";
import { REMEDIATION_KEY_PREFIX } from "../../functions/remediation/remediate-invocation.ts";

/**
 * The remediation parts of the stack as users would deploy them: the configuration osls resolves offline
 * (`osls print`: no credentials, no network, and no bundling, so it never races the packaging tests), plus
 * the Kubernetes manifests they apply by hand.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const OSLS = join(ROOT, "node_modules", "osls", "bin", "serverless.js");

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
  functions: Record<string, { environment?: Record<string, unknown>; events?: unknown[] }>;
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

const OPS_ROLE = "arn:aws:iam::111122223333:role/ops-replay";
const SSO_ROLE = "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0a1b2c";

let off: Template;
let enforce: Template;
let enforceService: ResolvedService;

beforeAll(async () => {
  off = (await resolveService({ clusters: "prod-eu" })).resources;
  enforceService = await resolveService({
    clusters: "prod-eu,prod-us",
    remediationMode: "enforce",
    remediationMinSeverity: "high",
    alertPublishers: ` ${OPS_ROLE}, ${SSO_ROLE},${OPS_ROLE}`,
  });
  enforce = enforceService.resources;
}, 240_000);

describe("remediation stack", () => {
  it("is idle by default: the subscription is conditional on the mode, and no cluster access exists", () => {
    expect(off.Conditions?.RemediationEnabled).toEqual({ "Fn::Not": [{ "Fn::Equals": ["off", "off"] }] });
    expect(resource(off, "RemediateSubscription").Condition).toBe("RemediationEnabled");
    expect(resource(off, "RemediateInvokePermission").Condition).toBe("RemediationEnabled");
    expect(ofType(off, "AWS::EKS::AccessEntry")).toEqual([]);
    expect(off.Resources.RemediateDescribeClusters).toBeUndefined();
  });

  it("subscribes remediate to created findings at or above the threshold, never to outcomes", () => {
    expect(enforce.Conditions?.RemediationEnabled).toEqual({
      "Fn::Not": [{ "Fn::Equals": ["enforce", "off"] }],
    });
    const subscription = resource(enforce, "RemediateSubscription").Properties;
    expect(subscription).toMatchObject({
      Protocol: "lambda",
      TopicArn: { Ref: "AlertsTopic" },
      Endpoint: { "Fn::GetAtt": ["RemediateLambdaFunction", "Arn"] },
      FilterPolicyScope: "MessageAttributes",
      FilterPolicy: {
        messageType: ["finding"],
        outcome: ["created"],
        severityRank: [{ numeric: [">=", 3] }],
      },
    });
    // Only that subscription reaches remediate: the function block declares no events of its own.
    expect(enforceService.functions.remediate?.events ?? []).toEqual([]);
  });

  it("maps the role to the remediator group on every cluster and may describe only those clusters", () => {
    const entries = ofType(enforce, "AWS::EKS::AccessEntry").map(([, item]) => item.Properties);
    expect(entries).toEqual([
      {
        ClusterName: "prod-eu",
        PrincipalArn: { "Fn::GetAtt": ["RemediateRole", "Arn"] },
        Type: "STANDARD",
        KubernetesGroups: ["ephemeral-guard-remediator"],
      },
      {
        ClusterName: "prod-us",
        PrincipalArn: { "Fn::GetAtt": ["RemediateRole", "Arn"] },
        Type: "STANDARD",
        KubernetesGroups: ["ephemeral-guard-remediator"],
      },
    ]);
    const describe = resource(enforce, "RemediateDescribeClusters").Properties as {
      Roles: unknown[];
      PolicyDocument: { Statement: { Action: string; Resource: unknown[] }[] };
    };
    expect(describe.Roles).toEqual([{ Ref: "RemediateRole" }]);
    expect(describe.PolicyDocument.Statement).toHaveLength(1);
    expect(describe.PolicyDocument.Statement[0]?.Action).toBe("eks:DescribeCluster");
    expect(JSON.stringify(describe.PolicyDocument.Statement[0]?.Resource)).toMatch(
      /cluster\/prod-eu".*cluster\/prod-us"/,
    );
  });

  it("gives the role nothing beyond its log group, tables, topic, queue and key", () => {
    const role = resource(enforce, "RemediateRole").Properties as {
      Policies: { PolicyDocument: { Statement: { Action: string | string[] }[] } }[];
    };
    const actions = role.Policies.flatMap((policy) =>
      policy.PolicyDocument.Statement.flatMap((statement) =>
        Array.isArray(statement.Action) ? statement.Action : [statement.Action],
      ),
    );
    expect(actions.sort()).toEqual(
      [
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:UpdateItem",
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sns:Publish",
        "sqs:SendMessage",
      ].sort(),
    );
    expect(actions.some((action) => action.startsWith("sts:") || action.includes("*"))).toBe(false);
  });

  it("lets the role touch only its own records in the shared idempotency table", () => {
    const role = resource(enforce, "RemediateRole").Properties as {
      Policies: {
        PolicyDocument: { Statement: { Sid: string; Resource: unknown; Condition?: unknown }[] };
      }[];
    };
    const statements = role.Policies.flatMap((policy) => policy.PolicyDocument.Statement);
    const records = statements.filter((statement) =>
      JSON.stringify(statement.Resource).includes("IdempotencyTable"),
    );
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      Resource: { "Fn::GetAtt": ["IdempotencyTable", "Arn"] },
      // Powertools writes `<prefix>#<hash>`: the prefix the function uses, and nothing else.
      Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": [`${REMEDIATION_KEY_PREFIX}#*`] } },
    });
  });

  it("keeps the rate-limit counters in an encrypted table that expires them", () => {
    expect(resource(enforce, "RemediationRateLimitTable").Properties).toMatchObject({
      KeySchema: [{ AttributeName: "counter", KeyType: "HASH" }],
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    const variables = enforceService.functions.remediate?.environment;
    expect(variables).toMatchObject({
      REMEDIATION_MODE: "enforce",
      REMEDIATION_MIN_SEVERITY: "high",
      REMEDIATION_CLUSTERS: "prod-eu,prod-us",
      RATE_LIMIT_TABLE: { Ref: "RemediationRateLimitTable" },
      IDEMPOTENCY_TABLE: { Ref: "IdempotencyTable" },
      ALERTS_TOPIC_ARN: { Ref: "AlertsTopic" },
    });
  });
});

interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal: unknown;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

function policyStatements(template: Template, name: string, property: string): PolicyStatement[] {
  const document = resource(template, name).Properties[property] as { Statement: PolicyStatement[] };
  return document.Statement;
}

function actionList(statement: PolicyStatement): string[] {
  return [statement.Action].flat();
}

const STACK_ROLES = [
  { "Fn::GetAtt": ["DetectRole", "Arn"] },
  { "Fn::GetAtt": ["RemediateRole", "Arn"] },
  { "Fn::GetAtt": ["CoverageRole", "Arn"] },
];

describe("who may publish to the alerts topic (a forged finding could steer remediation)", () => {
  it("allows exactly detect's, remediate's and coverage's roles and denies sns:Publish to every other principal", () => {
    const policy = resource(off, "AlertsTopicPolicy");
    expect(policy.Properties.Topics).toEqual([{ Ref: "AlertsTopic" }]);
    const [allow, deny, ...others] = policyStatements(off, "AlertsTopicPolicy", "PolicyDocument");
    expect(others).toEqual([]);
    expect(allow).toEqual({
      Sid: "StackAndOperatorPublishers",
      Effect: "Allow",
      Principal: { AWS: STACK_ROLES },
      Action: "sns:Publish",
      Resource: { Ref: "AlertsTopic" },
    });
    // The explicit Deny is what holds against an account-wide IAM grant such as sns:* on *.
    expect(deny).toEqual({
      Sid: "NobodyElsePublishes",
      Effect: "Deny",
      Principal: "*",
      Action: "sns:Publish",
      Resource: { Ref: "AlertsTopic" },
      Condition: { ArnNotEquals: { "aws:PrincipalArn": STACK_ROLES } },
    });
  });

  it("denies nothing but sns:Publish, so subscriptions and deliveries to subscribers keep working", () => {
    for (const template of [off, enforce]) {
      const denied = policyStatements(template, "AlertsTopicPolicy", "PolicyDocument")
        .filter((statement) => statement.Effect === "Deny")
        .flatMap(actionList);
      expect(denied).toEqual(["sns:Publish"]);
    }
  });

  it("adds the alertPublishers roles (trimmed, once each) to the allowed publishers and the deny's exceptions", () => {
    const publishers = [...STACK_ROLES, OPS_ROLE, SSO_ROLE];
    const [allow, deny] = policyStatements(enforce, "AlertsTopicPolicy", "PolicyDocument");
    expect(allow?.Principal).toEqual({ AWS: publishers });
    expect(deny?.Condition).toEqual({ ArnNotEquals: { "aws:PrincipalArn": publishers } });
  });
});

describe("the alerts key policy agrees with the topic policy", () => {
  const DATA_KEY_ACTIONS = /^kms:(\*|Encrypt|Decrypt|ReEncrypt|GenerateDataKey|CreateGrant)/;
  const isAccount = (statement: PolicyStatement) => JSON.stringify(statement.Principal).includes(":root");

  it("keeps key administration for the account, without kms:*, data-key use or grants", () => {
    const [admin] = policyStatements(enforce, "AlertsKey", "KeyPolicy");
    expect(admin?.Sid).toBe("AccountAdministersKeyThroughIam");
    expect(isAccount(admin as PolicyStatement)).toBe(true);
    const actions = actionList(admin as PolicyStatement);
    // Without PutKeyPolicy KMS refuses the policy as a lock-out, and nobody could ever change it.
    expect(actions).toEqual(expect.arrayContaining(["kms:Put*", "kms:ScheduleKeyDeletion", "kms:Enable*"]));
    expect(actions.filter((action) => DATA_KEY_ACTIONS.test(action))).toEqual([]);
    expect(admin?.Condition).toBeUndefined();
  });

  it("lets account principals use data keys only through SNS and SQS, and SNS dead-letter with them", () => {
    const statements = policyStatements(enforce, "AlertsKey", "KeyPolicy");
    const dataKeys = statements.filter((statement) =>
      actionList(statement).some((a) => DATA_KEY_ACTIONS.test(a)),
    );
    expect(dataKeys.map((statement) => statement.Sid)).toEqual([
      "DataKeysOnlyThroughSnsAndSqs",
      "SnsDeadLettersIntoEncryptedQueue",
    ]);
    const [accountUse, snsUse] = dataKeys;
    expect(isAccount(accountUse as PolicyStatement)).toBe(true);
    expect(actionList(accountUse as PolicyStatement)).toEqual(["kms:GenerateDataKey", "kms:Decrypt"]);
    expect(accountUse?.Condition?.StringEquals?.["kms:ViaService"]).toEqual([
      { "Fn::Sub": `sns.\${AWS::Region}.amazonaws.com` },
      { "Fn::Sub": `sqs.\${AWS::Region}.amazonaws.com` },
    ]);
    expect(snsUse?.Principal).toEqual({ Service: "sns.amazonaws.com" });
    expect(snsUse?.Condition).toEqual({ StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } });
  });
});

/** Resources a value refers to: Ref, Fn::GetAtt and the names inside Fn::Sub strings. */
function references(value: unknown, names: Set<string>, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) references(item, names, out);
  } else if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (key === "Ref" && typeof item === "string" && names.has(item)) out.add(item);
      else if (key === "Fn::GetAtt") {
        const target = Array.isArray(item) ? item[0] : String(item).split(".")[0];
        if (typeof target === "string" && names.has(target)) out.add(target);
      } else if (key === "Fn::Sub") {
        const text = Array.isArray(item) ? item[0] : item;
        for (const [, name = ""] of String(text).matchAll(/\$\{([A-Za-z0-9]+)[.}]/g)) {
          if (names.has(name)) out.add(name);
        }
        references(Array.isArray(item) ? item[1] : undefined, names, out);
      } else references(item, names, out);
    }
  }
  return out;
}

describe("the stack's resources", () => {
  it("form no dependency cycle (naming roles in the key policy would: key → role → key)", () => {
    for (const template of [off, enforce]) {
      const names = new Set(Object.keys(template.Resources));
      const edges = new Map(
        Object.entries(template.Resources).map(([name, item]) => {
          const dependsOn = [(item as { DependsOn?: string | string[] }).DependsOn ?? []].flat();
          return [name, new Set([...references(item.Properties, names), ...dependsOn])];
        }),
      );
      const state = new Map<string, "visiting" | "done">();
      const cycle: string[] = [];
      const visit = (name: string, path: string[]): boolean => {
        if (state.get(name) === "done") return false;
        if (state.get(name) === "visiting") {
          cycle.push(...path.slice(path.indexOf(name)), name);
          return true;
        }
        state.set(name, "visiting");
        for (const next of edges.get(name) ?? []) if (visit(next, [...path, name])) return true;
        state.set(name, "done");
        return false;
      };
      for (const name of names) if (visit(name, [])) break;
      expect(cycle).toEqual([]);
    }
  });
});

describe("alertPublishers (infra/alerts-topic-policy.cjs)", () => {
  type Generator = (options: { resolveVariable: (name: string) => Promise<unknown> }) => Promise<Template>;
  const generate = createRequire(import.meta.url)(
    join(ROOT, "infra", "alerts-topic-policy.cjs"),
  ) as Generator;
  const withPublishers = (value: string) => ({
    resolveVariable: async (name: string) => (name === "param:alertPublishers" ? value : undefined),
  });

  it.each([
    ["an IAM user", "arn:aws:iam::111122223333:user/alice"],
    ["an assumed-role session", "arn:aws:sts::111122223333:assumed-role/ops/alice"],
    ["a wildcard", "arn:aws:iam::111122223333:role/*"],
    ["an account id", "111122223333"],
  ])("rejects %s instead of deploying a policy that would not match it", async (_, arn) => {
    await expect(generate(withPublishers(`${OPS_ROLE},${arn}`))).rejects.toThrow(/alertPublishers/);
  });

  it("allows only the stack's roles when the parameter is empty", async () => {
    const template = await generate(withPublishers(""));
    const [allow] = policyStatements(template, "AlertsTopicPolicy", "PolicyDocument");
    expect(allow?.Principal).toEqual({ AWS: STACK_ROLES });
  });
});

describe("per-cluster resources (infra/remediate-clusters.cjs)", () => {
  type Generator = (options: { resolveVariable: (name: string) => Promise<unknown> }) => Promise<Template>;
  const generate = createRequire(import.meta.url)(join(ROOT, "infra", "remediate-clusters.cjs")) as Generator;
  const resolver = (params: Record<string, string>) => async (name: string) => {
    const key = name.replace(/^param:/, "");
    if (!(key in params)) throw new Error(`no param ${key}`);
    return params[key];
  };

  it("creates no access entries for aws-auth clusters, but still the DescribeCluster permission", async () => {
    const result = await generate({
      resolveVariable: resolver({
        remediationMode: "dry-run",
        clusters: "legacy",
        remediationAccessEntries: "false",
      }),
    });
    expect(Object.keys(result.Resources)).toEqual(["RemediateDescribeClusters"]);
  });

  it.each(["enforce", "dry-run"])(
    "refuses remediationMode=%s with no cluster it could reach",
    async (mode) => {
      await expect(
        generate({
          resolveVariable: resolver({ remediationMode: mode, clusters: "", excludedClusters: "sandbox" }),
        }),
      ).rejects.toThrow(`remediationMode=${mode} has no cluster to act on: the clusters parameter is empty`);
    },
  );

  it.each(["enforce", "dry-run"])(
    "lets a central account with no clusters of its own run remediationMode=%s for its members' clusters, granting nothing on its own",
    async (mode) => {
      const result: Partial<Template> & { Outputs?: unknown } = await generate({
        resolveVariable: resolver({
          remediationMode: mode,
          clusters: "",
          ingestion: "kinesis",
          memberRemediationRoleName: "ephemeral-guard-remediation",
        }),
      });
      expect(result.Resources ?? {}).toEqual({});
      expect(JSON.stringify(result.Outputs)).toContain("member clusters only");
    },
  );

  it.each([
    ["organization mode without member roles", { ingestion: "kinesis", memberRemediationRoleName: "" }],
    [
      "a member role name outside organization mode",
      { ingestion: "subscription", memberRemediationRoleName: "ephemeral-guard-remediation" },
    ],
  ])(
    "still refuses an empty cluster list in %s: remediate would reach no pod at all",
    async (_case, params) => {
      await expect(
        generate({ resolveVariable: resolver({ remediationMode: "enforce", clusters: "", ...params }) }),
      ).rejects.toThrow("remediationMode=enforce has no cluster to act on");
    },
  );

  it("rejects an unknown mode instead of deploying something half-configured", async () => {
    await expect(
      generate({ resolveVariable: resolver({ remediationMode: "delete", clusters: "x" }) }),
    ).rejects.toThrow(/remediationMode/);
  });
});

describe("Kubernetes RBAC (infra/k8s/remediator-rbac.yaml)", () => {
  it("grants the remediator group get and delete on pods, and nothing else", () => {
    const [role, binding] = loadAllYaml(
      readFileSync(join(ROOT, "infra", "k8s", "remediator-rbac.yaml"), "utf8"),
    ) as [{ rules?: unknown }, unknown];
    expect(role).toMatchObject({ kind: "ClusterRole", metadata: { name: "ephemeral-guard-remediator" } });
    expect(role.rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["get", "delete"] }]);
    expect(binding).toMatchObject({
      kind: "ClusterRoleBinding",
      roleRef: { kind: "ClusterRole", name: "ephemeral-guard-remediator" },
      subjects: [{ kind: "Group", name: "ephemeral-guard-remediator" }],
    });
  });

  it("maps the role to the same group in the aws-auth snippet", () => {
    const [entries] = loadAllYaml(
      readFileSync(join(ROOT, "infra", "k8s", "aws-auth-snippet.yaml"), "utf8"),
    ) as [unknown];
    expect(entries).toEqual([
      expect.objectContaining({
        groups: ["ephemeral-guard-remediator"],
        username: "ephemeral-guard-remediator",
      }),
    ]);
  });
});
