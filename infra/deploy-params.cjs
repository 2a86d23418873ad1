// Deploy-time checks of the serverless.yml parameters, and the template values derived from them.
// Serverless (osls, v3, v4) calls this with its variable resolver while it resolves serverless.yml, so a wrong
// value stops `package`/`deploy` offline, before anything is built, with a message that names the parameter
// (instead of "Value not found at self source", or a template CloudFormation accepts and the functions then
// fail on). Consumers may rely on what is checked here: levels are lower case, the paging endpoint is https
// (or an address for email), the webhook name builds the right IAM ARN. docs/deploy.md lists the checks.
"use strict";

/** Ordered like functions/core/severity.ts: the index is the severityRank the SNS filter policies compare. */
const SEVERITIES = ["info", "low", "medium", "high", "critical"];

/** CloudWatch Logs retention periods (days) that PutRetentionPolicy accepts. */
const RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

// SSM parameter names: letters, digits and _.-/ only, at most 1011 characters. A name used with this stack
// starts with "/": the policy ARN is `…:parameter` followed by the name, which is only right with the slash.
const SSM_NAME = /^\/[A-Za-z0-9_.\-/]{1,1010}$/;
// Secrets Manager names: letters, digits and /_+=.@- only, at most 512 characters.
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SNS_TOPIC_ARN = /^arn:aws(-[a-z]+)*:sns:[a-z]{2}(-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;
// Deliberately loose: SNS sends a confirmation, which fails loudly on a mistyped address.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// AWS Organizations organization ids: "o-" and 10 to 32 lower-case letters or digits.
const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
// An IAM role name short enough for "-<region>" to be appended (remediate's environment check), and an external
// id of the characters STS accepts, at least 16 of them as the member stack requires (infra/member-params.cjs):
// a shorter one here would only fail later, in every member.
const MEMBER_ROLE_NAME = /^[\w+=,.@-]{1,48}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{16,1224}$/;

const oneOf =
  (...allowed) =>
  (value) =>
    allowed.includes(value) ? undefined : `"${value}" is not one of ${allowed.join(", ")}`;

function level(value, _values, param) {
  if (SEVERITIES.includes(value)) return undefined;
  const lower = value.toLowerCase();
  const hint = SEVERITIES.includes(lower) ? ` (levels are lower case: --param="${param}=${lower}")` : "";
  return `"${value}" is not a severity level: use one of ${SEVERITIES.join(", ")}${hint}`;
}

function pagingEndpoint(value, values) {
  if (value === "") return undefined;
  if (values.pagingProtocol === "email") {
    return EMAIL.test(value) ? undefined : `"${value}" is not an e-mail address (pagingProtocol is email)`;
  }
  if (values.pagingProtocol !== "https") return undefined; // pagingProtocol's own check reports it
  let url;
  try {
    url = new URL(value);
  } catch {
    const hint = EMAIL.test(value) ? ': for an e-mail address set --param="pagingProtocol=email"' : "";
    return `"${value}" is not a URL${hint}`;
  }
  if (url.protocol !== "https:") {
    return `"${value}" is not an https:// URL: SNS would send findings to it unencrypted (pagingProtocol is https)`;
  }
  return undefined;
}

function slackWebhookName(value, values) {
  if (value.startsWith("arn:")) {
    return `"${value}" is an ARN: give the ${values.slackWebhookSource === "ssm" ? "parameter" : "secret"} name (the stack builds the ARN from it)`;
  }
  if (values.slackWebhookSource === "ssm") {
    if (!value.startsWith("/")) {
      return `"${value}" must start with "/" when slackWebhookSource is ssm: without it notify-slack would be granted arn:…:parameter${value}, not the parameter, and get AccessDenied; use "/${value}"`;
    }
    if (!SSM_NAME.test(value) || value.includes("//") || value.endsWith("/")) {
      return `"${value}" is not an SSM parameter name (letters, digits, _ . - and / between levels)`;
    }
  }
  if (values.slackWebhookSource === "secretsmanager" && !SECRET_NAME.test(value)) {
    return `"${value}" is not a Secrets Manager secret name (letters, digits and / _ + = . @ -)`;
  }
  return undefined;
}

function alarmTopicArn(value) {
  if (value === "" || SNS_TOPIC_ARN.test(value)) return undefined;
  return `"${value}" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)`;
}

function logRetentionDays(value) {
  if (RETENTION_DAYS.includes(Number(value)) && /^\d+$/.test(value)) return undefined;
  return `"${value}" is not a CloudWatch Logs retention: use one of ${RETENTION_DAYS.join(", ")}`;
}

/** Organization-only parameters: refused in a single-account stack, where nothing would use them. */
function centralOnly(check) {
  return (value, values, param) => {
    if (value === "") return undefined;
    if (values.ingestion !== "kinesis") {
      return `is only used with --param="ingestion=kinesis" (the organization stack); ingestion is ${values.ingestion}`;
    }
    return check(value, values, param);
  };
}

function organizationId(value, values) {
  if (value === "") {
    return values.ingestion === "kinesis"
      ? 'is required with ingestion=kinesis: the Logs destination lets only the accounts of this organization subscribe (--param="organizationId=o-…", from `aws organizations describe-organization`)'
      : undefined;
  }
  return centralOnly((given) =>
    ORGANIZATION_ID.test(given)
      ? undefined
      : `"${given}" is not an AWS Organizations id ("o-" and 10 to 32 lower-case letters or digits)`,
  )(value, values);
}

const memberRemediationRoleName = centralOnly((value) =>
  MEMBER_ROLE_NAME.test(value)
    ? undefined
    : `"${value}" is not an IAM role name of at most 48 characters (the member stack appends "-<region>")`,
);

function memberRemediationExternalId(value, values) {
  if (value === "") {
    return values.memberRemediationRoleName !== ""
      ? "is required with memberRemediationRoleName: the member roles trust the central remediate role only with it"
      : undefined;
  }
  return centralOnly((given) =>
    EXTERNAL_ID.test(given)
      ? undefined
      : "is not 16 to 1224 of the characters STS accepts as an external id (the member stacks require 16)",
  )(value, values);
}

/**
 * ruleOverrides is checked by detect's own schema (functions/core/rule-overrides.ts, loaded through tsx only
 * when the parameter is set), so a typo in a rule id or a pinned rule lowered stops packaging with the
 * message detect would otherwise fail its every invocation on.
 */
function ruleOverrides(value) {
  if (value.trim() === "") return undefined;
  let json;
  try {
    json = JSON.parse(value);
  } catch (error) {
    return `is not JSON (${error.message}): give an object such as {"actor.non-kubectl-client":{"enabled":false}}`;
  }
  const { RuleOverridesSchema } = require("tsx/cjs/api").require(
    "../functions/core/rule-overrides.ts",
    __filename,
  );
  const parsed = RuleOverridesSchema.safeParse(json);
  if (parsed.success) return undefined;
  return parsed.error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message))
    .join("; ");
}

/**
 * The checked parameters, in the order they are read (a check may look at those before it). `fallback` is
 * the value of a parameter that serverless.yml `params` does not define. Add a row for each new parameter
 * whose wrong value would otherwise reach the template or the functions.
 */
const CHECKS = [
  { param: "pagingProtocol", check: oneOf("https", "email") },
  { param: "pagingEndpoint", check: pagingEndpoint },
  { param: "pagingMinSeverity", check: level },
  { param: "remediationMinSeverity", fallback: "critical", check: level },
  { param: "slackWebhookSource", check: oneOf("ssm", "secretsmanager") },
  { param: "slackWebhookName", check: slackWebhookName },
  { param: "alarmTopicArn", check: alarmTopicArn },
  { param: "logRetentionDays", check: logRetentionDays },
  { param: "local", check: oneOf("true", "false") },
  { param: "ruleOverrides", fallback: "", check: ruleOverrides },
  // Organization mode (infra/central-ingestion.cjs); ingestion first, the others depend on it.
  { param: "ingestion", fallback: "subscription", check: oneOf("subscription", "kinesis") },
  { param: "organizationId", fallback: "", check: organizationId },
  { param: "memberRemediationRoleName", fallback: "", check: memberRemediationRoleName },
  { param: "memberRemediationExternalId", fallback: "", check: memberRemediationExternalId },
];

/**
 * Problems with the given parameter values (strings), each naming its parameter; empty when all is well.
 * `checks` defaults to this stack's rows; the member stack (infra/member-params.cjs) passes its own.
 */
function checkParams(given, checks = CHECKS) {
  const values = {};
  const problems = [];
  for (const { param, fallback, check } of checks) {
    const raw = given[param];
    const value = raw === undefined || raw === null || (raw === "" && fallback) ? fallback : String(raw);
    values[param] = value;
    const problem = value === undefined ? "is not set" : check(value, values, param);
    if (problem) problems.push(`${param}: ${problem}`);
  }
  return { values, problems };
}

/**
 * What a template packaged with local=true carries so that CloudFormation refuses to create or update a stack
 * from it: a parameter whose default is not among its allowed values. CloudFormation rejects such a template
 * (on validation, or on the parameter's value) before it touches any resource, naming the parameter; the
 * name says why. osls accepts no `Rules` section under `resources`; cfn-lint reports the default as E2015.
 */
const LOCAL_GUARD = {
  Parameters: {
    PackagedWithLocalTrueNotDeployable: {
      Type: "String",
      Description: "Set by --param=local=true, which is for `serverless invoke local` only",
      Default: "true",
      AllowedValues: ["false"],
      ConstraintDescription:
        "is there because this template was packaged with local=true (serverless invoke local only: its functions print findings instead of publishing them). Package and deploy without --param=local=true.",
    },
  },
};

/** An Error that Serverless prints as its message alone (it prints `stack` when there is one). */
function refusal(lines) {
  const error = new Error(lines.join("\n"));
  error.stack = error.message;
  return error;
}

/** The Serverless command being run (`deploy`, `package`, `invoke` …), as esbuild-work-folder.cjs reads it. */
function command(argv) {
  return argv.slice(2).find((arg) => !arg.startsWith("-")) ?? "";
}

/** Reads every checked parameter through Serverless, refuses wrong ones, and derives the template values. */
async function resolve(
  { resolveVariable },
  argv = process.argv,
  warn = (text) => process.stderr.write(text),
) {
  const given = {};
  for (const { param } of CHECKS) given[param] = await resolveVariable(`param:${param}, ''`);
  const { values, problems } = checkParams(given);
  const running = command(argv);
  if (values.local === "true" && running === "deploy") {
    problems.push(
      'local: "true" is for `serverless invoke local` only (functions print instead of publishing): deploy without --param=local=true',
    );
  }
  if (problems.length > 0) {
    throw refusal([
      "Deploy parameters refused (docs/deploy.md, Deploy-time checks):",
      ...problems.map((problem) => `    * ${problem}`),
    ]);
  }
  if (values.local === "true" && running === "package") {
    warn(
      "Warning: packaged with local=true, for `serverless invoke local` only: CloudFormation will refuse to deploy this template.\n",
    );
  }
  return {
    severityRank: Object.fromEntries(SEVERITIES.map((severity, rank) => [severity, rank])),
    // An empty list, not Fn::If with "": cfn-lint (E3033) and CloudWatch reject an empty topic ARN.
    alarmActions: values.alarmTopicArn === "" ? [] : [values.alarmTopicArn],
    localGuard: values.local === "true" ? LOCAL_GUARD : {},
    // What infra/central-ingestion.cjs builds the organization stack from (checked above).
    central: {
      ingestion: values.ingestion,
      organizationId: values.organizationId,
      memberRemediationRoleName: values.memberRemediationRoleName,
      memberRemediationExternalId: values.memberRemediationExternalId,
    },
  };
}

// Serverless calls the module itself; the tests also call checkParams and resolve by name.
module.exports = resolve;
module.exports.checkParams = checkParams;
module.exports.resolve = resolve;
// Shared with the member stack's checks (infra/member-params.cjs), so both refuse a value the same way.
module.exports.CHECKS = CHECKS;
module.exports.SEVERITIES = SEVERITIES;
module.exports.refusal = refusal;
