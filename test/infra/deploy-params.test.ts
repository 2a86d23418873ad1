import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEVERITIES } from "../../functions/core/severity.ts";
import { privateServiceDir } from "../../scripts/private-service-dir.ts";

/**
 * Deploy-time checks (infra/deploy-params.cjs): the module on its own for every rule, then osls itself, offline,
 * for what users see: the refusal naming each parameter, the local=true guard, `invoke local` still working.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const OSLS = join(ROOT, "node_modules", "osls", "bin", "serverless.js");

type Params = Record<string, string | number | undefined>;
interface Derived {
  severityRank: Record<string, number>;
  alarmActions: string[];
  localGuard: { Parameters?: Record<string, { Default: string; AllowedValues: string[] }> };
}
interface DeployParams {
  checkParams(given: Params): { values: Record<string, string>; problems: string[] };
  resolve(
    serverless: { resolveVariable(variable: string): Promise<unknown> },
    argv?: string[],
    warn?: (text: string) => void,
  ): Promise<Derived>;
}
const deployParams = createRequire(import.meta.url)(join(ROOT, "infra", "deploy-params.cjs")) as DeployParams;

/** serverless.yml `params.default`, as Serverless resolves them (logRetentionDays is a YAML number). */
const DEFAULTS: Params = {
  pagingEndpoint: "",
  pagingProtocol: "https",
  pagingMinSeverity: "high",
  slackWebhookSource: "ssm",
  slackWebhookName: "/ephemeral-guard/slack-webhook",
  alarmTopicArn: "",
  logRetentionDays: 30,
  local: "false",
};
const PAGER = "https://events.pagerduty.example/integration/abc/enqueue";
const TOPIC = "arn:aws:sns:eu-west-1:111122223333:platform-alarms";
const RULE_OVERRIDES =
  '{"actor.non-kubectl-client":{"enabled":false},"container.run-as-root":{"level":"high"}}';

function problems(overrides: Params): string[] {
  return deployParams.checkParams({ ...DEFAULTS, ...overrides }).problems;
}

/** Serverless's resolver as the module sees it: `param:<name>, ''` falls back to "" when the name is unset. */
function resolverFor(params: Params) {
  return {
    resolveVariable: async (variable: string) => {
      const match = /^param:(\w+), ''$/.exec(variable);
      if (!match?.[1]) throw new Error(`unexpected variable ${variable}`);
      return params[match[1]] ?? "";
    },
  };
}

describe("deploy parameter checks", () => {
  it("accepts the defaults and derives the severity ranks of functions/core/severity.ts", async () => {
    expect(problems({})).toEqual([]);
    const derived = await deployParams.resolve(resolverFor(DEFAULTS), ["node", "osls", "package"]);
    expect(Object.entries(derived.severityRank)).toEqual(SEVERITIES.map((level, rank) => [level, rank]));
  });

  it("refuses an upper-case level by name with the lower-case fix, instead of 'Value not found'", () => {
    expect(problems({ pagingMinSeverity: "HIGH" })).toEqual([
      'pagingMinSeverity: "HIGH" is not a severity level: use one of info, low, medium, high, critical (levels are lower case: --param="pagingMinSeverity=high")',
    ]);
    expect(problems({ remediationMinSeverity: "Critical" })).toEqual([
      expect.stringContaining('--param="remediationMinSeverity=critical"'),
    ]);
    expect(problems({ remediationMinSeverity: "urgent" })).toEqual([
      'remediationMinSeverity: "urgent" is not a severity level: use one of info, low, medium, high, critical',
    ]);
    for (const level of SEVERITIES) {
      expect(problems({ pagingMinSeverity: level, remediationMinSeverity: level })).toEqual([]);
    }
    // Unset: the stack's default, critical.
    expect(deployParams.checkParams(DEFAULTS).values.remediationMinSeverity).toBe("critical");
  });

  it("refuses a pager endpoint that would receive findings unencrypted (http://) or is no URL at all", () => {
    expect(problems({ pagingEndpoint: "http://events.pagerduty.example/integration/abc/enqueue" })).toEqual([
      'pagingEndpoint: "http://events.pagerduty.example/integration/abc/enqueue" is not an https:// URL: SNS would send findings to it unencrypted (pagingProtocol is https)',
    ]);
    expect(problems({ pagingEndpoint: "oncall@example.com" })).toEqual([
      'pagingEndpoint: "oncall@example.com" is not a URL: for an e-mail address set --param="pagingProtocol=email"',
    ]);
    expect(problems({ pagingProtocol: "email", pagingEndpoint: PAGER })).toEqual([
      `pagingEndpoint: "${PAGER}" is not an e-mail address (pagingProtocol is email)`,
    ]);
    expect(problems({ pagingProtocol: "sms", pagingEndpoint: "+15550100" })).toEqual([
      'pagingProtocol: "sms" is not one of https, email',
    ]);
    expect(problems({ pagingEndpoint: PAGER })).toEqual([]);
    expect(problems({ pagingProtocol: "email", pagingEndpoint: "oncall@example.com" })).toEqual([]);
  });

  it("refuses an SSM webhook name that would grant arn:…:parameterephemeral-guard/… (no leading slash)", () => {
    expect(problems({ slackWebhookName: "ephemeral-guard/slack-webhook" })).toEqual([
      'slackWebhookName: "ephemeral-guard/slack-webhook" must start with "/" when slackWebhookSource is ssm: without it notify-slack would be granted arn:…:parameterephemeral-guard/slack-webhook, not the parameter, and get AccessDenied; use "/ephemeral-guard/slack-webhook"',
    ]);
    for (const name of [
      "/ephemeral-guard//slack",
      "/ephemeral-guard/slack/",
      "/ephemeral guard/slack",
      "/",
    ]) {
      expect(problems({ slackWebhookName: name }), name).toEqual([
        `slackWebhookName: "${name}" is not an SSM parameter name (letters, digits, _ . - and / between levels)`,
      ]);
    }
    expect(problems({ slackWebhookName: "/ephemeral-guard/prod_eu.slack-webhook" })).toEqual([]);
  });

  it("refuses a webhook ARN where the stack builds the ARN from a name (the grant would match nothing)", () => {
    const secretArn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:ephemeral-guard/slack-AbCdEf";
    expect(problems({ slackWebhookSource: "secretsmanager", slackWebhookName: secretArn })).toEqual([
      `slackWebhookName: "${secretArn}" is an ARN: give the secret name (the stack builds the ARN from it)`,
    ]);
    expect(
      problems({ slackWebhookName: "arn:aws:ssm:eu-west-1:111122223333:parameter/ephemeral-guard/slack" }),
    ).toEqual([expect.stringContaining("is an ARN: give the parameter name")]);
    expect(problems({ slackWebhookSource: "secretsmanager", slackWebhookName: "slack webhook" })).toEqual([
      'slackWebhookName: "slack webhook" is not a Secrets Manager secret name (letters, digits and / _ + = . @ -)',
    ]);
    // Secret names need no slash.
    expect(
      problems({ slackWebhookSource: "secretsmanager", slackWebhookName: "ephemeral-guard/slack" }),
    ).toEqual([]);
    expect(problems({ slackWebhookSource: "vault" })).toEqual([
      'slackWebhookSource: "vault" is not one of ssm, secretsmanager',
    ]);
  });

  it("refuses an alarm topic that is not an SNS topic ARN, and gives alarms no empty action", async () => {
    expect(problems({ alarmTopicArn: "platform-alarms" })).toEqual([
      'alarmTopicArn: "platform-alarms" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)',
    ]);
    expect(problems({ alarmTopicArn: "arn:aws:sqs:eu-west-1:111122223333:platform-alarms" })).toHaveLength(1);
    expect(problems({ alarmTopicArn: "arn:aws-us-gov:sns:us-gov-west-1:111122223333:alarms" })).toEqual([]);
    const argv = ["node", "osls", "package"];
    expect((await deployParams.resolve(resolverFor(DEFAULTS), argv)).alarmActions).toEqual([]);
    const withTopic = await deployParams.resolve(resolverFor({ ...DEFAULTS, alarmTopicArn: TOPIC }), argv);
    expect(withTopic.alarmActions).toEqual([TOPIC]);
  });

  it("refuses a log retention CloudWatch Logs does not offer, and a local that is not true or false", () => {
    expect(problems({ logRetentionDays: "10" })).toEqual([
      expect.stringMatching(/^logRetentionDays: "10" is not a CloudWatch Logs retention: use one of 1, 3, 5/),
    ]);
    expect(problems({ logRetentionDays: "30.0" })).toHaveLength(1);
    expect(problems({ logRetentionDays: "365" })).toEqual([]);
    expect(problems({ local: "yes" })).toEqual(['local: "yes" is not one of true, false']);
  });

  it("refuses rule overrides detect would fail on: no JSON, a typo in a rule id, a pinned rule lowered", () => {
    expect(problems({ ruleOverrides: "" })).toEqual([]);
    expect(problems({ ruleOverrides: '{"container.run-as-root":{"level":"high"}}' })).toEqual([]);
    expect(problems({ ruleOverrides: "{actor.non-kubectl-client: off}" })).toEqual([
      expect.stringMatching(/^ruleOverrides: is not JSON \(.+\): give an object such as /),
    ]);
    expect(problems({ ruleOverrides: '{"actor.non-kubect-client":{"enabled":false}}' })).toEqual([
      'ruleOverrides: actor.non-kubect-client: unknown rule "actor.non-kubect-client": did you mean "actor.non-kubectl-client"? (`ephemeral-guard rules` lists them)',
    ]);
    expect(problems({ ruleOverrides: '{"container.privileged":{"level":"high"}}' })).toEqual([
      expect.stringContaining(
        "ruleOverrides: container.privileged.level: container.privileged is pinned at critical: it cannot be lowered to high",
      ),
    ]);
  });

  it("reports every wrong parameter at once, each by name", async () => {
    const given = { ...DEFAULTS, pagingMinSeverity: "HIGH", pagingEndpoint: "http://pager.example/x" };
    const refused = deployParams.resolve(resolverFor(given), ["node", "osls", "package"]);
    await expect(refused).rejects.toThrow(
      /^Deploy parameters refused \(docs\/deploy.md, Deploy-time checks\):\n {4}\* pagingEndpoint: .*\n {4}\* pagingMinSeverity: /,
    );
    // Printed as a message, not a stack trace.
    await expect(refused).rejects.toHaveProperty("stack", expect.not.stringContaining("    at "));
  });

  it("refuses to deploy with local=true, warns when packaging it and guards the template", async () => {
    const local = resolverFor({ ...DEFAULTS, local: "true" });
    await expect(deployParams.resolve(local, ["node", "osls", "deploy", "--stage", "prod"])).rejects.toThrow(
      'local: "true" is for `serverless invoke local` only',
    );
    const warnings: string[] = [];
    const packaged = await deployParams.resolve(local, ["node", "osls", "package"], (text) => {
      warnings.push(text);
    });
    expect(warnings).toEqual([expect.stringContaining("CloudFormation will refuse to deploy this template")]);
    const guard = packaged.localGuard.Parameters?.PackagedWithLocalTrueNotDeployable;
    // CloudFormation checks every parameter's value against AllowedValues before touching a resource.
    expect(guard?.AllowedValues).not.toContain(guard?.Default);
    const invoked = await deployParams.resolve(
      local,
      ["node", "osls", "invoke", "local", "-f", "detect"],
      () => {
        throw new Error("invoke local must not warn");
      },
    );
    expect(invoked.localGuard).toEqual(packaged.localGuard);
    const normal = await deployParams.resolve(resolverFor(DEFAULTS), ["node", "osls", "deploy"]);
    expect(normal.localGuard).toEqual({});
  });
});

// ---- osls itself, offline ----

interface Run {
  code: number;
  /** stdout then stderr, with the output folder shown as <out>. */
  output: string;
  stdout: string;
  /** The --package folder `<out>` stands for. */
  dir: string;
}

const workDirs: string[] = [];

/**
 * Runs osls in a private service folder (packagings elsewhere in the suite must not share .serverless/), with
 * no credentials and every AWS endpoint on a closed loopback port: nothing can leave.
 */
function osls(args: string[]): Promise<Run> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SLS_TELEMETRY_DISABLED: "1",
    SLS_NOTIFICATIONS_MODE: "off",
    AWS_ENDPOINT_URL: "http://127.0.0.1:9",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    AWS_CONFIG_FILE: "/dev/null",
  };
  for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"]) {
    delete env[name];
  }
  const service = privateServiceDir(ROOT, "ephemeral-guard-deploy-params-test-");
  const out = mkdtempSync(join(tmpdir(), "ephemeral-guard-deploy-params-"));
  workDirs.push(service, out);
  return new Promise((done) => {
    execFile(
      process.execPath,
      [OSLS, ...args.map((arg) => arg.replace("<out>", out))],
      { cwd: service, env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        done({ code, output: `${stdout}${stderr}`.replaceAll(out, "<out>"), stdout, dir: out });
      },
    );
  });
}

interface Template {
  Parameters?: Record<string, { Default: string; AllowedValues: string[]; ConstraintDescription: string }>;
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
}

let refused: Run;
let deployLocal: Run;
let packagedLocal: Run;
let localTemplate: Template;
let invokedLocal: Run;
let printed: Run;

beforeAll(async () => {
  // Each in its own service folder, so all at once; the refusals stop before any bundling.
  [refused, deployLocal, packagedLocal, invokedLocal, printed] = await Promise.all([
    osls([
      "package",
      "--stage",
      "ci",
      "--package",
      "<out>",
      "--param=pagingMinSeverity=HIGH",
      "--param=pagingEndpoint=http://events.pagerduty.example/integration/abc/enqueue",
      "--param=slackWebhookName=ephemeral-guard/slack-webhook",
      '--param=ruleOverrides={"body.truncated":{"enabled":false}}',
    ]),
    osls(["deploy", "--stage", "ci", "--param=local=true"]),
    osls(["package", "--stage", "ci", "--package", "<out>", "--param=local=true"]),
    osls([
      "invoke",
      "local",
      "-f",
      "detect",
      "--stage",
      "ci",
      "--param=local=true",
      "-p",
      "events/cloudwatch/subscription-batch-with-broken-record.json",
    ]),
    osls([
      "print",
      "--stage",
      "ci",
      "--format",
      "json",
      `--param=alarmTopicArn=${TOPIC}`,
      `--param=ruleOverrides=${RULE_OVERRIDES}`,
    ]),
  ]);
  if (packagedLocal.code === 0) {
    const file = join(packagedLocal.dir, "cloudformation-template-update-stack.json");
    localTemplate = JSON.parse(readFileSync(file, "utf8")) as Template;
  }
}, 240_000);

afterAll(() => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

describe("osls with the deploy checks", () => {
  it("stops packaging on wrong parameters with one message naming each, not 'Value not found'", () => {
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain("Deploy parameters refused");
    for (const line of [
      '* pagingMinSeverity: "HIGH" is not a severity level',
      '* pagingEndpoint: "http://events.pagerduty.example/integration/abc/enqueue" is not an https:// URL',
      '* slackWebhookName: "ephemeral-guard/slack-webhook" must start with "/"',
      "* ruleOverrides: body.truncated.enabled: body.truncated is pinned at medium: it cannot be switched off",
    ]) {
      expect(refused.output).toContain(line);
    }
    expect(refused.output).not.toContain("Value not found");
    expect(refused.output).not.toMatch(/\n\s+at /);
  });

  it("refuses `deploy --param=local=true` before asking AWS for anything", () => {
    expect(deployLocal.code).not.toBe(0);
    expect(deployLocal.output).toContain('local: "true" is for `serverless invoke local` only');
    expect(deployLocal.output).not.toMatch(/credentials/i);
  });

  it("packages local=true with a warning, into a template CloudFormation refuses", () => {
    expect(packagedLocal.code, packagedLocal.output).toBe(0);
    expect(packagedLocal.output).toContain(
      "Warning: packaged with local=true, for `serverless invoke local` only: CloudFormation will refuse to deploy this template.",
    );
    const guard = localTemplate.Parameters?.PackagedWithLocalTrueNotDeployable;
    expect(guard?.AllowedValues).toEqual(["false"]);
    expect(guard?.Default).toBe("true");
    expect(guard?.ConstraintDescription).toContain("without --param=local=true");
  });

  it("keeps `invoke local --param=local=true` working: detect prints what it would publish", () => {
    expect(invokedLocal.code, invokedLocal.output).toBe(0);
    // The sample batch holds two findings and one broken record.
    expect(invokedLocal.output.match(/\{"localMode":"not published"/g)).toHaveLength(2);
    expect(invokedLocal.output).toMatch(/"published": ?0/);
    expect(invokedLocal.output).not.toContain("Warning: packaged with local=true");
  });

  it("sends every alarm to alarmTopicArn when it is set", () => {
    expect(printed.code, printed.output).toBe(0);
    const config = JSON.parse(printed.stdout) as { resources: Template };
    const alarms = Object.entries(config.resources.Resources).filter(
      ([, resource]) => resource.Type === "AWS::CloudWatch::Alarm",
    );
    expect(alarms.length).toBeGreaterThan(5);
    for (const [name, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions, name).toEqual([TOPIC]);
      expect(alarm.Properties.OKActions, name).toEqual([TOPIC]);
    }
    expect(config.resources.Parameters).toBeUndefined();
  });

  it("hands ruleOverrides to detect as the JSON text it was given", () => {
    expect(printed.code, printed.output).toBe(0);
    const config = JSON.parse(printed.stdout) as {
      functions: Record<string, { environment?: Record<string, unknown> }>;
    };
    expect(config.functions.detect?.environment?.RULE_OVERRIDES).toBe(RULE_OVERRIDES);
  });
});
