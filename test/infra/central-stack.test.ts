import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { privateServiceDir } from "../../scripts/private-service-dir.ts";

/**
 * Organization mode (infra/central-ingestion.cjs): the stack packaged offline as users would deploy it, in both
 * modes, and the generator and deploy checks on their own for the cases that must fail the packaging.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const OSLS = join(ROOT, "node_modules", "osls", "bin", "serverless.js");
const ORG = "o-a1b2c3d4e5";
/** serverless.yml `params.default` that the deploy checks read before the organization ones. */
const DEFAULTS = {
  pagingEndpoint: "",
  pagingProtocol: "https",
  pagingMinSeverity: "high",
  slackWebhookSource: "ssm",
  slackWebhookName: "/ephemeral-guard/slack-webhook",
  alarmTopicArn: "",
  logRetentionDays: "30",
  local: "false",
};
const ROLE_NAME = "ephemeral-guard-remediator";
const EXTERNAL_ID = "eg-7d1f3c9a0b2e4f68";

interface Resource {
  Type: string;
  DependsOn?: string | string[];
  Properties: Record<string, unknown>;
}
interface Template {
  Resources: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown }>;
}
interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
interface PolicyDocument {
  Statement: Statement[];
}
interface Central {
  ingestion: string;
  organizationId: string;
  memberRemediationRoleName: string;
  memberRemediationExternalId: string;
}
interface CentralIngestion {
  centralIngestion(
    central: Central,
    names: { service: string; stage: string; alarmActions: unknown[] },
  ): Partial<Template>;
}
interface DeployParams {
  checkParams(given: Record<string, string | undefined>): { problems: string[] };
}

const load = createRequire(import.meta.url);
const generator = load(join(ROOT, "infra", "central-ingestion.cjs")) as CentralIngestion;
const deployParams = load(join(ROOT, "infra", "deploy-params.cjs")) as DeployParams;

/** The resources organization mode adds; everything else must be the single-account stack's. */
const ADDED = [
  "AuditStreamKey",
  "AuditStreamKeyAlias",
  "AuditStream",
  "LogsToAuditStreamRole",
  "AuditDestination",
  "DetectReadsAuditStream",
  "DetectAuditStreamMapping",
  "DetectRecordsDeferredAlarm",
  "DetectStreamIteratorAgeAlarm",
  "RemediateAssumesMemberRoles",
];

interface Run {
  code: number;
  output: string;
  template?: Template;
}

const workDirs: string[] = [];

/** osls in a private service folder (concurrent packagings must not share .serverless/), offline. */
function osls(params: Record<string, string>): Promise<Run> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLS_TELEMETRY_DISABLED: "1",
    SLS_NOTIFICATIONS_MODE: "off",
    AWS_ENDPOINT_URL: "http://127.0.0.1:9",
    AWS_EC2_METADATA_DISABLED: "true",
  };
  const service = privateServiceDir(ROOT, "ephemeral-guard-central-test-");
  const out = mkdtempSync(join(tmpdir(), "ephemeral-guard-central-"));
  workDirs.push(service, out);
  const args = [OSLS, "package", "--stage", "ci", "--package", out];
  for (const [name, value] of Object.entries(params)) args.push(`--param=${name}=${value}`);
  return new Promise((done) => {
    execFile(
      process.execPath,
      args,
      { cwd: service, env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        const file = join(out, "cloudformation-template-update-stack.json");
        const template = code === 0 ? (JSON.parse(readFileSync(file, "utf8")) as Template) : undefined;
        done({ code, output: `${stdout}${stderr}`, ...(template ? { template } : {}) });
      },
    );
  });
}

function resource(template: Template, name: string): Resource {
  const found = template.Resources[name];
  if (!found) throw new Error(`no resource ${name}`);
  return found;
}

function asList<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

/** Every IAM statement of a role's inline policies or of a managed/attached policy resource. */
function statementsOf(item: Resource): Statement[] {
  if (item.Type === "AWS::IAM::Policy") return (item.Properties.PolicyDocument as PolicyDocument).Statement;
  const policies = (item.Properties.Policies ?? []) as { PolicyDocument: PolicyDocument }[];
  return policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

/** Refs, GetAtts and DependsOn naming no resource of the template (pseudo parameters aside). */
function danglingReferences(template: Template): string[] {
  const known = new Set(Object.keys(template.Resources));
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
    for (const name of item.DependsOn === undefined ? [] : [item.DependsOn].flat()) {
      if (!known.has(name)) dangling.push(name);
    }
  }
  return dangling;
}

/** The artifacts' S3 keys carry the packaging time: the only part of two packagings that may differ. */
function withoutArtifactKeys(template: Template): Template {
  return JSON.parse(JSON.stringify(template).replace(/"S3Key":"[^"]*"/g, '"S3Key":"<artifact>"')) as Template;
}

let single: Template;
let central: Template;
let member: Template;
let membersOnly: Template;
let refused: Run;

beforeAll(async () => {
  const [singleRun, centralRun, memberRun, refusedRun, membersOnlyRun] = await Promise.all([
    osls({}),
    osls({ ingestion: "kinesis", organizationId: ORG }),
    osls({
      ingestion: "kinesis",
      organizationId: ORG,
      clusters: "prod-eu",
      remediationMode: "enforce",
      memberRemediationRoleName: ROLE_NAME,
      memberRemediationExternalId: EXTERNAL_ID,
    }),
    osls({ ingestion: "kinesis" }),
    // A central account without clusters of its own, remediating its members' clusters only.
    osls({
      ingestion: "kinesis",
      organizationId: ORG,
      remediationMode: "enforce",
      memberRemediationRoleName: ROLE_NAME,
      memberRemediationExternalId: EXTERNAL_ID,
    }),
  ]);
  if (!singleRun.template || !centralRun.template || !memberRun.template || !membersOnlyRun.template) {
    throw new Error(
      `packaging failed:\n${singleRun.output}\n${centralRun.output}\n${memberRun.output}\n${membersOnlyRun.output}`,
    );
  }
  single = singleRun.template;
  central = centralRun.template;
  member = memberRun.template;
  membersOnly = membersOnlyRun.template;
  refused = refusedRun;
}, 240_000);

afterAll(() => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

describe("organization mode (ingestion=kinesis)", () => {
  it("leaves a single-account stack as it was: organization mode only adds, and changes nothing else", () => {
    expect(Object.values(single.Resources).map((item) => item.Type)).not.toContain("AWS::Kinesis::Stream");
    expect(single.Resources.AuditDestination).toBeUndefined();
    expect(single.Resources.RemediateRole?.Properties.RoleName).toBeUndefined();

    const added = Object.keys(central.Resources).filter((name) => !(name in single.Resources));
    // Member remediation is off here (no memberRemediationRoleName): no AssumeRole policy.
    expect(added).toEqual(ADDED.filter((name) => name !== "RemediateAssumesMemberRoles"));

    // Take away what organization mode adds: what is left is the single-account template.
    const stripped = withoutArtifactKeys(central);
    for (const name of added) delete stripped.Resources[name];
    for (const name of ["DestinationArn", "AuditStreamName", "AuditStreamArn", "OrganizationId"]) {
      expect(stripped.Outputs?.[name], name).toBeDefined();
      delete stripped.Outputs?.[name];
    }
    const variables = (
      resource(stripped, "RemediateLambdaFunction").Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect(variables.ACCOUNT_ID).toEqual({ Ref: "AWS::AccountId" });
    delete variables.ACCOUNT_ID;
    delete resource(stripped, "RemediateRole").Properties.RoleName;
    expect(stripped).toEqual(withoutArtifactKeys(single));
  });

  it("references only resources it defines, in both organization templates", () => {
    expect(danglingReferences(central)).toEqual([]);
    expect(danglingReferences(member)).toEqual([]);
  });

  it("lets only principals of the organization's accounts subscribe to the destination", () => {
    const destination = resource(central, "AuditDestination").Properties;
    expect(destination.DestinationName).toBe("ephemeral-guard-ci-audit");
    expect(destination.TargetArn).toEqual({ "Fn::GetAtt": ["AuditStream", "Arn"] });
    expect(destination.RoleArn).toEqual({ "Fn::GetAtt": ["LogsToAuditStreamRole", "Arn"] });
    const policy = JSON.parse(
      (destination.DestinationPolicy as { "Fn::Sub": string })["Fn::Sub"],
    ) as PolicyDocument;
    expect(policy.Statement).toEqual([
      {
        Sid: "OrganizationAccountsSubscribe",
        Effect: "Allow",
        Principal: "*",
        Action: ["logs:PutSubscriptionFilter", "logs:PutAccountPolicy"],
        // The destination itself, by the name it is given: no other destination of the account.
        Resource: `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:destination:ephemeral-guard-ci-audit`,
        Condition: { StringEquals: { "aws:PrincipalOrgID": ORG } },
      },
    ]);
    expect(central.Outputs?.DestinationArn?.Value).toEqual({ "Fn::GetAtt": ["AuditDestination", "Arn"] });
  });

  it("lets CloudWatch Logs write for this organization's log groups of this region only (no confused deputy)", () => {
    const role = resource(central, "LogsToAuditStreamRole").Properties;
    expect((role.AssumeRolePolicyDocument as PolicyDocument).Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "logs.amazonaws.com" },
        Action: "sts:AssumeRole",
        Condition: {
          StringEquals: { "aws:SourceOrgID": ORG },
          StringLike: { "aws:SourceArn": { "Fn::Sub": `arn:\${AWS::Partition}:logs:\${AWS::Region}:*:*` } },
        },
      },
    ]);
    const granted = statementsOf(resource(central, "LogsToAuditStreamRole")).map((statement) => [
      statement.Action,
      statement.Resource,
    ]);
    expect(granted).toEqual([
      ["kinesis:PutRecord", { "Fn::GetAtt": ["AuditStream", "Arn"] }],
      ["kms:GenerateDataKey", { "Fn::GetAtt": ["AuditStreamKey", "Arn"] }],
    ]);
  });

  it("encrypts the on-demand stream with its own rotated key, whose data keys are used only through Kinesis", () => {
    expect(resource(central, "AuditStream").Properties).toEqual({
      Name: "ephemeral-guard-ci-audit",
      StreamModeDetails: { StreamMode: "ON_DEMAND" },
      RetentionPeriodHours: 168,
      StreamEncryption: { EncryptionType: "KMS", KeyId: { "Fn::GetAtt": ["AuditStreamKey", "Arn"] } },
    });
    const key = resource(central, "AuditStreamKey").Properties;
    expect(key.EnableKeyRotation).toBe(true);
    const statements = (key.KeyPolicy as PolicyDocument).Statement;
    for (const statement of statements) expect(asList(statement.Action)).not.toContain("kms:*");
    // Administrators manage the key but get no data key, except through Kinesis like everyone else.
    const dataKeys = statements.filter((statement) =>
      asList(statement.Action).some((action) => ["kms:Decrypt", "kms:GenerateDataKey"].includes(action)),
    );
    expect(dataKeys).toHaveLength(1);
    expect(dataKeys[0]?.Condition?.StringEquals).toEqual({
      "kms:CallerAccount": { Ref: "AWS::AccountId" },
      "kms:ViaService": { "Fn::Sub": `kinesis.\${AWS::Region}.amazonaws.com` },
    });
    expect(statements.flatMap((statement) => asList(statement.Action))).not.toContain("kms:CreateGrant");
  });

  it("lets detect read this stream and nothing else, before its event source mapping exists", () => {
    const policy = resource(central, "DetectReadsAuditStream");
    expect(policy.Properties.Roles).toEqual([{ Ref: "DetectRole" }]);
    expect(statementsOf(policy).map((statement) => [statement.Action, statement.Resource])).toEqual([
      [
        [
          "kinesis:DescribeStream",
          "kinesis:DescribeStreamSummary",
          "kinesis:GetRecords",
          "kinesis:GetShardIterator",
          "kinesis:ListShards",
        ],
        { "Fn::GetAtt": ["AuditStream", "Arn"] },
      ],
      ["kms:Decrypt", { "Fn::GetAtt": ["AuditStreamKey", "Arn"] }],
    ]);
    expect(resource(central, "DetectAuditStreamMapping").DependsOn).toEqual(["DetectReadsAuditStream"]);
  });

  it("consumes the stream so that one bad record costs only itself and a failed batch is kept for replay", () => {
    expect(resource(central, "DetectAuditStreamMapping").Properties).toEqual({
      EventSourceArn: { "Fn::GetAtt": ["AuditStream", "Arn"] },
      FunctionName: { "Fn::GetAtt": ["DetectLambdaFunction", "Arn"] },
      Enabled: true,
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 0,
      ParallelizationFactor: 4,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 21_600,
      StartingPosition: "TRIM_HORIZON",
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": ["DetectFailureQueue", "Arn"] } } },
    });
    // Records older than the age limit go to the queue while the stream still holds them for `replay`.
    // At least six days of the stream's retention are left to replay a batch the mapping gave up on.
    const maxAge = resource(central, "DetectAuditStreamMapping").Properties
      .MaximumRecordAgeInSeconds as number;
    const retention = resource(central, "AuditStream").Properties.RetentionPeriodHours as number;
    expect(retention * 3_600 - maxAge).toBeGreaterThanOrEqual(6 * 24 * 3_600);
    // The on-failure destination is the encrypted queue detect's role may already write to.
    expect(resource(central, "DetectFailureQueue").Properties.KmsMasterKeyId).toEqual({ Ref: "AlertsKey" });
    const detectRole = statementsOf(resource(central, "DetectRole"));
    expect(detectRole).toContainEqual(
      expect.objectContaining({
        Action: "sqs:SendMessage",
        Resource: { "Fn::GetAtt": ["DetectFailureQueue", "Arn"] },
      }),
    );
    expect(resource(central, "DetectStreamIteratorAgeAlarm").Properties).toMatchObject({
      Namespace: "AWS/Lambda",
      MetricName: "IteratorAge",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: "DetectLambdaFunction" } }],
    });
    // A padded write that decompresses past detect's budget delays other accounts' records: it alarms.
    expect(resource(central, "DetectRecordsDeferredAlarm").Properties).toMatchObject({
      Namespace: "EphemeralGuard",
      MetricName: "RecordsDeferred",
      Dimensions: [{ Name: "service", Value: "detect" }],
      Threshold: 0,
    });
  });

  it("lets remediate assume member roles of this organization only, under a role name members can trust", () => {
    const policy = resource(member, "RemediateAssumesMemberRoles");
    expect(policy.Properties.Roles).toEqual([{ Ref: "RemediateRole" }]);
    expect(statementsOf(policy)).toEqual([
      {
        Sid: "MemberRemediationRoles",
        Effect: "Allow",
        Action: "sts:AssumeRole",
        Resource: { "Fn::Sub": `arn:\${AWS::Partition}:iam::*:role/${ROLE_NAME}-*` },
        Condition: { StringEquals: { "aws:ResourceOrgID": ORG } },
      },
    ]);
    expect(
      (
        resource(member, "RemediateLambdaFunction").Properties.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables,
    ).toMatchObject({
      ACCOUNT_ID: { Ref: "AWS::AccountId" },
      MEMBER_ROLE_NAME: ROLE_NAME,
      MEMBER_ROLE_EXTERNAL_ID: EXTERNAL_ID,
    });
    expect(resource(member, "RemediateRole").Properties.RoleName).toEqual({
      "Fn::Sub": `ephemeral-guard-ci-\${AWS::Region}-remediate`,
    });
  });

  it("packages a central account with no clusters of its own that remediates member clusters only, granting nothing on its own clusters", () => {
    // remediate runs, subscribed to findings, and may assume the member roles exactly as with clusters of its own.
    expect(membersOnly.Resources).toHaveProperty("RemediateLambdaFunction");
    expect(membersOnly.Resources).toHaveProperty("RemediateSubscription");
    expect(resource(membersOnly, "RemediateAssumesMemberRoles")).toEqual(
      resource(member, "RemediateAssumesMemberRoles"),
    );
    expect(
      (
        resource(membersOnly, "RemediateLambdaFunction").Properties.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables,
    ).toMatchObject({
      REMEDIATION_MODE: "enforce",
      MEMBER_ROLE_NAME: ROLE_NAME,
      MEMBER_ROLE_EXTERNAL_ID: EXTERNAL_ID,
    });
    // Nothing on this account's clusters: no access entry, no eks:DescribeCluster for remediate.
    expect(
      Object.values(membersOnly.Resources).filter((item) => item.Type === "AWS::EKS::AccessEntry"),
    ).toEqual([]);
    expect(membersOnly.Resources).not.toHaveProperty("RemediateDescribeClusters");
    const remediateGrants = Object.values(membersOnly.Resources)
      .filter(
        (item) =>
          (item.Type === "AWS::IAM::Policy" &&
            JSON.stringify(item.Properties.Roles) === JSON.stringify([{ Ref: "RemediateRole" }])) ||
          item === membersOnly.Resources.RemediateRole,
      )
      .flatMap(statementsOf)
      .flatMap((statement) => asList(statement.Action));
    expect(remediateGrants).not.toContain("eks:DescribeCluster");
    expect(remediateGrants).toContain("sts:AssumeRole");
    expect(danglingReferences(membersOnly)).toEqual([]);
  });

  it("grants no wildcard action and no unconditioned wildcard resource in anything it adds", () => {
    const added = ADDED.map((name) => resource(member, name)).filter((item) =>
      ["AWS::IAM::Role", "AWS::IAM::Policy"].includes(item.Type),
    );
    expect(added).toHaveLength(3);
    for (const statement of added.flatMap(statementsOf)) {
      for (const action of asList(statement.Action)) expect(action).not.toMatch(/\*/);
      for (const target of asList(statement.Resource)) {
        expect(target).not.toBe("*");
        if (JSON.stringify(target).includes("*")) expect(statement.Condition, statement.Sid).toBeDefined();
      }
    }
  });
});

describe("organization mode: what cannot be packaged", () => {
  it("refuses kinesis without an organization: the destination would let any account subscribe", () => {
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain("Deploy parameters refused");
    expect(refused.output).toContain("organizationId: is required with ingestion=kinesis");
  });

  it.each([
    [{ ingestion: "kinesis" }, "organizationId: is required with ingestion=kinesis"],
    [
      { ingestion: "kinesis", organizationId: "o-short" },
      'organizationId: "o-short" is not an AWS Organizations id',
    ],
    [{ ingestion: "kinesis", organizationId: "123456789012" }, "is not an AWS Organizations id"],
    [{ ingestion: "firehose" }, 'ingestion: "firehose" is not one of subscription, kinesis'],
    [{ organizationId: ORG }, 'organizationId: is only used with --param="ingestion=kinesis"'],
    [
      { memberRemediationRoleName: ROLE_NAME },
      'memberRemediationRoleName: is only used with --param="ingestion=kinesis"',
    ],
    [
      { ingestion: "kinesis", organizationId: ORG, memberRemediationRoleName: ROLE_NAME },
      "memberRemediationExternalId: is required with memberRemediationRoleName",
    ],
    [
      { ingestion: "kinesis", organizationId: ORG, memberRemediationRoleName: "role/with/path" },
      'memberRemediationRoleName: "role/with/path" is not an IAM role name',
    ],
    [
      {
        ingestion: "kinesis",
        organizationId: ORG,
        memberRemediationRoleName: ROLE_NAME,
        memberRemediationExternalId: "x",
      },
      "memberRemediationExternalId: is not 16 to 1224 of the characters STS accepts",
    ],
    [
      {
        ingestion: "kinesis",
        organizationId: ORG,
        memberRemediationRoleName: ROLE_NAME,
        // 15 characters: an id the member stacks would refuse, so every member deployment would fail
        memberRemediationExternalId: "eg-0123456789ab",
      },
      "memberRemediationExternalId: is not 16 to 1224 of the characters STS accepts",
    ],
  ])("refuses %j", (params, problem) => {
    const { problems } = deployParams.checkParams({ ...DEFAULTS, ...params });
    expect(problems).toContainEqual(expect.stringContaining(problem));
  });

  it("accepts an organization stack with or without member remediation", () => {
    expect(
      deployParams.checkParams({ ...DEFAULTS, ingestion: "kinesis", organizationId: ORG }).problems,
    ).toEqual([]);
    expect(
      deployParams.checkParams({
        ...DEFAULTS,
        ingestion: "kinesis",
        organizationId: ORG,
        memberRemediationRoleName: ROLE_NAME,
        memberRemediationExternalId: EXTERNAL_ID,
      }).problems,
    ).toEqual([]);
  });

  it("adds nothing in single-account mode, and no member access unless a member role is named", () => {
    const names = { service: "ephemeral-guard", stage: "prod", alarmActions: [] };
    const base = { organizationId: "", memberRemediationRoleName: "", memberRemediationExternalId: "" };
    expect(generator.centralIngestion({ ...base, ingestion: "subscription" }, names)).toEqual({});
    const plain = generator.centralIngestion({ ...base, ingestion: "kinesis", organizationId: ORG }, names);
    expect(plain.Resources?.RemediateAssumesMemberRoles).toBeUndefined();
    expect(plain.Resources?.RemediateLambdaFunction?.Properties).toEqual({
      Environment: { Variables: { ACCOUNT_ID: { Ref: "AWS::AccountId" } } },
    });
  });

  it("refuses a stage so long that the remediate role's fixed name would not fit IAM's 64 characters", () => {
    const central = {
      ingestion: "kinesis",
      organizationId: ORG,
      memberRemediationRoleName: "",
      memberRemediationExternalId: "",
    };
    const names = { service: "ephemeral-guard", alarmActions: [] };
    expect(() => generator.centralIngestion(central, { ...names, stage: "s".repeat(24) })).toThrow(
      /longer than IAM's 64 characters.*at most 23 characters/,
    );
    expect(() => generator.centralIngestion(central, { ...names, stage: "s".repeat(23) })).not.toThrow();
  });
});
