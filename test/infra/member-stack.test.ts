import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coverageMessage } from "../../functions/adapters/aws/coverage-message.ts";
import {
  MemberRoleCredentials,
  MemberRoleError,
  memberRoleArn,
  SESSION_SECONDS,
} from "../../functions/adapters/aws/member-role-credentials.ts";
import { type AlertInput, buildCoverageAlert } from "../../functions/core/cluster-coverage/coverage-alert.ts";
import { privateServiceDir } from "../../scripts/private-service-dir.ts";
import { stacksetTemplate } from "../../scripts/stackset-member.ts";
import { startStsServer } from "../peers/sts-server.ts";

/**
 * The member stack (serverless.member.yml) packaged offline exactly like `npm run package:member`, and the
 * template a StackSet would roll out to every member account: what it contains, what its roles may do, whom the
 * remediation role trusts (checked by the STS peer, which enforces the trust policy the template states).
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const OSLS = join(ROOT, "node_modules", "osls", "bin", "serverless.js");
const require = createRequire(import.meta.url);
const { checkMemberParams } = require("../../infra/member-params.cjs") as {
  checkMemberParams: (given: Record<string, string>) => { problems: string[] };
};

const CENTRAL_ACCOUNT = "111122223333";
const MEMBER_ACCOUNT = "444455556666";
const DESTINATION = `arn:aws:logs:eu-west-1:${CENTRAL_ACCOUNT}:destination:ephemeral-guard-prod-audit`;
const CENTRAL_ROLE = `arn:aws:iam::${CENTRAL_ACCOUNT}:role/ephemeral-guard-prod-RemediateRole-1A2B3C`;
const EXTERNAL_ID = "eg-7d1f3c9a0b2e4f68";
const ORGANIZATION = "o-a1b2c3d4e5";
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
interface Statement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const workDirs: string[] = [];

const packagedIn = new Map<Template, string>();

async function packageMember(params: Record<string, string>): Promise<Template> {
  const out = mkdtempSync(join(tmpdir(), "ephemeral-guard-member-"));
  const service = privateServiceDir(ROOT, "ephemeral-guard-member-service-");
  workDirs.push(out, service);
  const args = [OSLS, "package", "--config", "serverless.member.yml", "--stage", "ci", "--package", out];
  for (const [name, value] of Object.entries(params)) args.push(`--param=${name}=${value}`);
  await promisify(execFile)(process.execPath, args, {
    cwd: service,
    timeout: 120_000,
    env: { ...process.env, SLS_TELEMETRY_DISABLED: "1", SLS_NOTIFICATIONS_MODE: "off" },
  });
  const template = JSON.parse(
    readFileSync(join(out, "cloudformation-template-update-stack.json"), "utf8"),
  ) as Template;
  packagedIn.set(template, out);
  return template;
}

function resource(template: Template, name: string): Resource {
  const found = template.Resources[name];
  if (!found) throw new Error(`no resource ${name}; have ${Object.keys(template.Resources).join(", ")}`);
  return found;
}

const ofType = (template: Template, type: string) =>
  Object.entries(template.Resources).filter(([, item]) => item.Type === type);

const actionsOf = (statement: Statement) => [statement.Action].flat();

/** Every identity-policy statement of the template: roles' inline policies and attached AWS::IAM::Policy. */
function identityStatements(template: Template): [string, Statement][] {
  const out: [string, Statement][] = [];
  for (const [name, role] of ofType(template, "AWS::IAM::Role")) {
    const policies = (role.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[];
    for (const policy of policies) for (const item of policy.PolicyDocument.Statement) out.push([name, item]);
  }
  for (const [name, policy] of ofType(template, "AWS::IAM::Policy")) {
    const roles = policy.Properties.Roles as { Ref: string }[];
    const document = policy.Properties.PolicyDocument as { Statement: Statement[] };
    for (const role of roles)
      for (const item of document.Statement) out.push([`${role.Ref} (${name})`, item]);
  }
  return out;
}

function grantsOf(template: Template, role: string): Statement[] {
  return identityStatements(template)
    .filter(([name]) => name === role || name.startsWith(`${role} (`))
    .map(([, statement]) => statement);
}

/** What `Fn::Sub` makes of a string in a given account and region (partition aws). */
function substitute(value: unknown, region: string, account = MEMBER_ACCOUNT): string {
  const text = typeof value === "string" ? value : (value as { "Fn::Sub": string })["Fn::Sub"];
  return text
    .replaceAll(`\${AWS::Partition}`, "aws")
    .replaceAll(`\${AWS::Region}`, region)
    .replaceAll(`\${AWS::AccountId}`, account);
}

let coverageOnly: Template;
let remediation: Template;

beforeAll(async () => {
  [coverageOnly, remediation] = await Promise.all([
    packageMember({ destinationArn: DESTINATION, pagingEndpoint: PAGER }),
    packageMember({
      destinationArn: DESTINATION,
      centralRemediateRoleArn: CENTRAL_ROLE,
      remediationExternalId: EXTERNAL_ID,
      organizationId: ORGANIZATION,
      remediationClusters: "payments,prod-eu_2",
    }),
  ]);
});

afterAll(() => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

describe("member stack template", () => {
  it("holds the coverage function and what it needs, and nothing of detection, Slack or remediate", () => {
    for (const template of [coverageOnly, remediation]) {
      expect(ofType(template, "AWS::Lambda::Function").map(([name]) => name)).toEqual([
        "CoverageLambdaFunction",
      ]);
      const types = new Set(Object.values(template.Resources).map((item) => item.Type));
      for (const absent of ["AWS::SQS::Queue", "AWS::Lambda::EventSourceMapping", "AWS::Kinesis::Stream"]) {
        expect(types.has(absent), absent).toBe(false);
      }
    }
    expect(
      ofType(coverageOnly, "AWS::IAM::Role")
        .map(([name]) => name)
        .sort(),
    ).toEqual(["CentralSubscriptionRole", "CoverageRole"]);
    expect(
      ofType(remediation, "AWS::IAM::Role")
        .map(([name]) => name)
        .sort(),
    ).toEqual(["CentralSubscriptionRole", "CoverageRole", "MemberRemediationRole"]);
  });

  it("points every filter at the central destination in the region the stack runs in, which only it may subscribe to", () => {
    const variables = (
      resource(coverageOnly, "CoverageLambdaFunction").Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect(variables).not.toHaveProperty("DETECT_FUNCTION_ARN");
    expect(variables.ACCOUNT_ID).toEqual({ Ref: "AWS::AccountId" });
    // A StackSet deploys one template to many regions: each subscribes to the destination of its own region.
    for (const region of ["eu-west-1", "us-east-2"]) {
      expect(substitute(variables.SUBSCRIPTION_DESTINATION_ARN, region)).toBe(
        `arn:aws:logs:${region}:${CENTRAL_ACCOUNT}:destination:ephemeral-guard-prod-audit`,
      );
    }
    const subscribe = grantsOf(coverageOnly, "CoverageRole").filter((statement) =>
      actionsOf(statement).includes("logs:PutSubscriptionFilter"),
    );
    const targets = subscribe.flatMap((statement) => [statement.Resource].flat());
    expect(targets).toContainEqual(variables.SUBSCRIPTION_DESTINATION_ARN);
    // Log groups: only EKS control-plane ones; no other destination.
    const destination = JSON.stringify(variables.SUBSCRIPTION_DESTINATION_ARN);
    for (const target of targets.filter((item) => JSON.stringify(item) !== destination)) {
      expect(substitute(target, "eu-west-1")).toMatch(/:log-group:\/aws\/eks\/\*\/cluster(:\*)?$/);
    }
    const all = identityStatements(coverageOnly).flatMap(([, statement]) => actionsOf(statement));
    expect(all).not.toContain("logs:DeleteSubscriptionFilter");
    expect(all).not.toContain("logs:PutAccountPolicy");
  });

  it("every filter carries the member's own subscription role, which the organization's destination requires", () => {
    for (const template of [coverageOnly, remediation]) {
      const variables = (
        resource(template, "CoverageLambdaFunction").Properties.Environment as {
          Variables: Record<string, unknown>;
        }
      ).Variables;
      expect(variables.SUBSCRIPTION_ROLE_ARN).toEqual({ "Fn::GetAtt": ["CentralSubscriptionRole", "Arn"] });
    }
  });

  it("the subscription role is CloudWatch Logs' alone, and may only put log events into this region's EKS control-plane log groups", () => {
    const role = resource(coverageOnly, "CentralSubscriptionRole");
    expect(role.Properties).not.toHaveProperty("RoleName");
    expect(role.Properties).not.toHaveProperty("ManagedPolicyArns");
    expect((role.Properties.AssumeRolePolicyDocument as { Statement: Statement[] }).Statement).toEqual([
      {
        Sid: "CloudWatchLogsOnly",
        Effect: "Allow",
        Principal: { Service: "logs.amazonaws.com" },
        Action: "sts:AssumeRole",
      },
    ]);
    const grants = grantsOf(coverageOnly, "CentralSubscriptionRole");
    expect(grants.flatMap(actionsOf)).toEqual(["logs:PutLogEvents"]);
    const targets = grants.flatMap((statement) => [statement.Resource].flat());
    expect(targets.map((target) => substitute(target, "eu-west-1"))).toEqual([
      `arn:aws:logs:eu-west-1:${MEMBER_ACCOUNT}:log-group:/aws/eks/*/cluster:*`,
    ]);
    expect(grants.every((statement) => statement.Effect === "Allow" && !statement.Condition)).toBe(true);
  });

  it("coverage may pass exactly the subscription role, and only to CloudWatch Logs: no other role of the account through it", () => {
    for (const template of [coverageOnly, remediation]) {
      const passes = identityStatements(template).filter(([, statement]) =>
        actionsOf(statement).includes("iam:PassRole"),
      );
      expect(passes.map(([name]) => name)).toEqual(["CoverageRole (CoverageDestinationPolicy)"]);
      const [, pass] = passes[0] ?? [];
      expect(pass).toMatchObject({
        Effect: "Allow",
        Action: "iam:PassRole",
        Resource: { "Fn::GetAtt": ["CentralSubscriptionRole", "Arn"] },
        Condition: { StringEquals: { "iam:PassedToService": "logs.amazonaws.com" } },
      });
    }
  });

  it("grants no wildcard actions, and wildcard resources only where IAM has no narrower one", () => {
    for (const template of [coverageOnly, remediation]) {
      for (const [name, statement] of identityStatements(template)) {
        for (const action of actionsOf(statement)) expect(action, `${name} ${action}`).not.toMatch(/\*/);
        for (const target of [statement.Resource].flat()) {
          if (target === "*") {
            expect(actionsOf(statement), `${name} ${statement.Sid}`).toEqual(["eks:ListClusters"]);
            expect(statement.Condition, `${name} ${statement.Sid}`).toBeDefined();
          }
        }
      }
    }
  });

  it("a member's own principals cannot forge coverage alerts: only the coverage role publishes, the central account may only subscribe", () => {
    const policy = resource(coverageOnly, "AlertsTopicPolicy").Properties.PolicyDocument as {
      Statement: Statement[];
    };
    const coverageRole = { "Fn::GetAtt": ["CoverageRole", "Arn"] };
    const publishers = policy.Statement.filter(
      (statement) => statement.Effect === "Allow" && actionsOf(statement).includes("sns:Publish"),
    );
    expect(publishers.map((statement) => statement.Principal)).toEqual([{ AWS: coverageRole }]);
    expect(policy.Statement).toContainEqual(
      expect.objectContaining({
        Effect: "Deny",
        Principal: "*",
        Action: "sns:Publish",
        Condition: { ArnNotEquals: { "aws:PrincipalArn": coverageRole } },
      }),
    );
    const central = policy.Statement.filter((statement) =>
      JSON.stringify(statement.Principal ?? "").includes(CENTRAL_ACCOUNT),
    );
    expect(central.flatMap(actionsOf)).toEqual(["sns:Subscribe"]);
    expect(resource(coverageOnly, "AlertsTopic").Properties.KmsMasterKeyId).toEqual({ Ref: "AlertsKey" });
  });

  it("pages the organization's on-call endpoint on a member cluster gone blind, naming the account", () => {
    const paging = resource(coverageOnly, "PagingSubscription");
    expect(paging.Properties).toMatchObject({ Protocol: "https", Endpoint: PAGER });
    const input: AlertInput = {
      kind: "audit-disabled",
      id: "payments:2:2026-11-20T09:30:00.000Z",
      cluster: "payments",
      region: "eu-west-1",
      account: MEMBER_ACCOUNT,
      state: "audit-disabled",
      previousState: "covered",
      previousSince: undefined,
      problems: [],
      subscription: undefined,
      repair: undefined,
      lastAuditEventAt: undefined,
      coveredUntil: undefined,
      trigger: undefined,
      time: "2026-11-20T09:30:00.000Z",
    };
    const alert = buildCoverageAlert(input);
    const message = coverageMessage(alert);
    const coverageBranch = (paging.Properties.FilterPolicy as { $or: Record<string, unknown[]>[] }).$or.find(
      (branch) => branch.messageType?.includes("coverage"),
    );
    const [threshold] = coverageBranch?.severityRank ?? [];
    const bound = (threshold as { numeric: [string, number] }).numeric[1];
    expect(message.attributes.messageType?.StringValue).toBe("coverage");
    expect(Number(message.attributes.severityRank?.StringValue)).toBeGreaterThanOrEqual(bound);
    expect(message.attributes.account?.StringValue).toBe(MEMBER_ACCOUNT);
  });
});

describe("member stack as a StackSet deploys it (npm run stackset:member)", () => {
  it("takes its code from the organization's bucket of each region, under the zip's digest, not from a bucket no one filled", () => {
    const dir = packagedIn.get(remediation) ?? "";
    const zip = readFileSync(join(dir, "coverage.zip"));
    const { template, key } = stacksetTemplate(remediation, zip, "acme-ephemeral-guard");
    expect(JSON.stringify(template)).not.toContain("ServerlessDeploymentBucket");
    expect(key).toMatch(/^ephemeral-guard-member\/[0-9a-f]{64}\/coverage\.zip$/);
    expect(resource(template, "CoverageLambdaFunction").Properties.Code).toEqual({
      S3Bucket: { "Fn::Sub": `acme-ephemeral-guard-\${AWS::Region}` },
      S3Key: key,
    });
    // Everything else is the packaged stack, unchanged.
    expect(template.Resources.MemberRemediationRole).toEqual(remediation.Resources.MemberRemediationRole);
    expect(Object.keys(template.Resources).length).toBe(Object.keys(remediation.Resources).length - 2);
    // Another build is another key: running stacks keep the code they were made from.
    expect(
      stacksetTemplate(remediation, Buffer.concat([zip, Buffer.from("x")]), "acme-ephemeral-guard").key,
    ).not.toBe(key);
  });

  it("refuses a bucket prefix that cannot make a bucket name in every region", () => {
    const zip = Buffer.from("zip");
    for (const prefix of ["Acme", "acme_guard", "a", `${"a".repeat(43)}`, "acme-"]) {
      expect(() => stacksetTemplate(remediation, zip, prefix), prefix).toThrow("bucket prefix");
    }
  });
});

describe("member remediation role", () => {
  const role = () => resource(remediation, "MemberRemediationRole");
  const trust = () => (role().Properties.AssumeRolePolicyDocument as { Statement: Statement[] }).Statement;

  it("trusts only the central remediate role, only with the external id, only from inside the organization", () => {
    expect(trust()).toEqual([
      {
        Sid: "CentralRemediateRoleOnly",
        Effect: "Allow",
        Principal: { AWS: CENTRAL_ROLE },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "sts:ExternalId": EXTERNAL_ID, "aws:PrincipalOrgID": ORGANIZATION } },
      },
    ]);
    expect(role().Properties.MaxSessionDuration).toBe(SESSION_SECONDS);
  });

  it("is named so that remediate finds it in every account and region from the finding alone", () => {
    const name = role().Properties.RoleName;
    for (const region of ["eu-west-1", "ap-southeast-2"]) {
      expect(`arn:aws:iam::${MEMBER_ACCOUNT}:role/${substitute(name, region)}`).toBe(
        memberRoleArn("aws", MEMBER_ACCOUNT, "ephemeral-guard-remediation", region),
      );
    }
  });

  it("may describe the clusters it is mapped on, and do nothing else in IAM", () => {
    const statements = grantsOf(remediation, "MemberRemediationRole");
    expect(statements.flatMap(actionsOf)).toEqual(["eks:DescribeCluster"]);
    expect(statements.flatMap((statement) => [statement.Resource].flat())).toEqual([
      { "Fn::Sub": `arn:\${AWS::Partition}:eks:\${AWS::Region}:\${AWS::AccountId}:cluster/payments` },
      { "Fn::Sub": `arn:\${AWS::Partition}:eks:\${AWS::Region}:\${AWS::AccountId}:cluster/prod-eu_2` },
    ]);
    const entries = ofType(remediation, "AWS::EKS::AccessEntry").map(([, entry]) => entry.Properties);
    expect(entries).toEqual([
      {
        ClusterName: "payments",
        PrincipalArn: { "Fn::GetAtt": ["MemberRemediationRole", "Arn"] },
        Type: "STANDARD",
        KubernetesGroups: ["ephemeral-guard-remediator"],
      },
      {
        ClusterName: "prod-eu_2",
        PrincipalArn: { "Fn::GetAtt": ["MemberRemediationRole", "Arn"] },
        Type: "STANDARD",
        KubernetesGroups: ["ephemeral-guard-remediator"],
      },
    ]);
  });

  it("is not made at all unless the central remediate role is named: remediate cannot reach the account", () => {
    expect(ofType(coverageOnly, "AWS::EKS::AccessEntry")).toEqual([]);
    expect(coverageOnly.Resources).not.toHaveProperty("MemberRemediationRole");
  });

  it("lets the central remediate role in with the external id, and refuses another central role or a guessed id (STS peer enforcing the template's trust policy)", async () => {
    const sts = await startStsServer();
    try {
      const [statement] = trust();
      if (statement === undefined) throw new Error("no trust statement");
      const region = "eu-west-1";
      const arn = `arn:aws:iam::${MEMBER_ACCOUNT}:role/${substitute(role().Properties.RoleName, region)}`;
      sts.addRole({
        arn,
        trusts: (statement.Principal as { AWS: string }).AWS,
        externalId: statement.Condition?.StringEquals?.["sts:ExternalId"] as string,
      });
      const principals = {
        central: { accessKeyId: "ASIACENTRAL", secretAccessKey: "central", sessionToken: "c" },
        other: { accessKeyId: "ASIAOTHER", secretAccessKey: "other", sessionToken: "o" },
      };
      sts.addPrincipal({ roleArn: CENTRAL_ROLE, ...principals.central });
      sts.addPrincipal({
        roleArn: `arn:aws:iam::${CENTRAL_ACCOUNT}:role/ephemeral-guard-prod-DetectRole-9Z8Y`,
        ...principals.other,
      });
      const assume = (who: keyof typeof principals, externalId: string) =>
        new MemberRoleCredentials(
          new STSClient({
            endpoint: sts.endpoint,
            region: "us-east-1",
            credentials: principals[who],
            maxAttempts: 1,
          }),
          { roleName: "ephemeral-guard-remediation", externalId },
        ).credentials(memberRoleArn("aws", MEMBER_ACCOUNT, "ephemeral-guard-remediation", region));

      await expect(assume("central", EXTERNAL_ID)).resolves.toMatchObject({
        accessKeyId: expect.any(String),
      });
      await expect(assume("central", "eg-guessed-external-id")).rejects.toBeInstanceOf(MemberRoleError);
      await expect(assume("other", EXTERNAL_ID)).rejects.toBeInstanceOf(MemberRoleError);
      expect(sts.issued.map((session) => session.roleArn)).toEqual([arn]);
    } finally {
      await sts.stop();
    }
  });
});

describe("member stack parameters", () => {
  // serverless.member.yml's defaults, and the one required parameter.
  const base = {
    destinationArn: DESTINATION,
    pagingProtocol: "https",
    pagingEndpoint: "",
    pagingMinSeverity: "high",
    alarmTopicArn: "",
    logRetentionDays: "30",
    remediationRoleName: "ephemeral-guard-remediation",
  };
  const remediated = {
    ...base,
    centralRemediateRoleArn: CENTRAL_ROLE,
    remediationExternalId: EXTERNAL_ID,
    organizationId: ORGANIZATION,
  };

  it("accept a destination alone, and a full remediation set-up", () => {
    expect(checkMemberParams(base).problems).toEqual([]);
    expect(checkMemberParams(remediated).problems).toEqual([]);
  });

  it.each([
    [
      "no destination: the stack would watch clusters and deliver nowhere",
      { ...base, destinationArn: "" },
      "destinationArn: is required",
    ],
    ["a wildcard destination", { ...base, destinationArn: `${DESTINATION}*` }, "destinationArn:"],
    [
      "a Kinesis stream instead of a Logs destination",
      { ...base, destinationArn: `arn:aws:kinesis:eu-west-1:${CENTRAL_ACCOUNT}:stream/audit` },
      "destinationArn:",
    ],
    [
      "a trust policy for any role of the account",
      { ...remediated, centralRemediateRoleArn: `arn:aws:iam::${CENTRAL_ACCOUNT}:role/*` },
      "centralRemediateRoleArn:",
    ],
    [
      "a trust policy for a whole account",
      { ...remediated, centralRemediateRoleArn: `arn:aws:iam::${CENTRAL_ACCOUNT}:root` },
      "centralRemediateRoleArn:",
    ],
    ["a guessable external id", { ...remediated, remediationExternalId: "prod" }, "remediationExternalId:"],
    ["no external id", { ...remediated, remediationExternalId: "" }, "remediationExternalId:"],
    ["no organization condition", { ...remediated, organizationId: "" }, "organizationId:"],
    [
      "a role name too long for the region suffix",
      { ...remediated, remediationRoleName: "r".repeat(49) },
      "remediationRoleName:",
    ],
    [
      "an access entry for a cluster EKS could not have",
      { ...remediated, remediationClusters: "prod eu" },
      "remediationClusters:",
    ],
    [
      "a cluster both watched and excluded",
      { ...base, clusters: "a,b", excludedClusters: "b" },
      "both clusters and excludedClusters",
    ],
    ["a pager over plain http", { ...base, pagingEndpoint: "http://pager.example/x" }, "pagingEndpoint:"],
  ])("refuse %s", (_attack, given, message) => {
    expect(checkMemberParams(given).problems.join("\n")).toContain(message);
  });
});
