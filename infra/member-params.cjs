// Deploy-time checks of the member stack's parameters (serverless.member.yml), and the template values derived
// from them. Like infra/deploy-params.cjs (whose rows it reuses for the parameters both stacks have), a wrong
// value stops `npm run package:member` offline with a message naming the parameter, instead of a StackSet
// rolling a broken stack out to every account of the organization.
"use strict";

const { CHECKS, SEVERITIES, checkParams, refusal } = require("./deploy-params.cjs");
const { CLUSTER_NAME, clusterList, clusterScope } = require("./cluster-names.cjs");

/**
 * `arn:<partition>:logs:<region>:<account>:destination:<name>`: the central stack's CloudWatch Logs destination
 * (its output for `ingestion=kinesis`). Destination names exclude `:` and `*`; the coverage function checks the
 * same shape (functions/adapters/lambda/coverage-environment.ts).
 */
const DESTINATION_ARN =
  /^arn:(aws|aws-cn|aws-us-gov):logs:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):destination:([^:*\s${}]{1,512})$/;

/** An IAM role ARN, path allowed, no wildcards: the trust policy names exactly this principal. */
const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role\/[\w+=,.@/-]{1,512}$/;

/**
 * The member role is `<remediationRoleName>-<region>` (IAM names are global to an account; a StackSet deploys one
 * stack per region): 48 characters leave room for the longest region name within IAM's 64.
 * remediate checks MEMBER_ROLE_NAME the same way (functions/adapters/lambda/remediate-environment.ts).
 */
const ROLE_NAME = /^[\w+=,.@-]{1,48}$/;

/** AWS Organizations ids: `o-` and 10 to 32 lower-case letters or digits. */
const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;

/**
 * sts:ExternalId: the characters STS accepts. At least 16 of them: the external id is what a confused deputy in
 * the central account would have to guess, so "prod" or "1234" is refused (it is not a secret: it sits in the
 * member template and in remediate's environment).
 */
const EXTERNAL_ID = /^[\w+=,.@:/-]{16,1224}$/;

/** The rows of infra/deploy-params.cjs that mean the same in a member stack. */
const SHARED = ["pagingProtocol", "pagingEndpoint", "pagingMinSeverity", "alarmTopicArn", "logRetentionDays"];

function destinationArn(value) {
  if (value === "") {
    return 'is required: the central stack\'s Logs destination ARN (its DestinationArn output), e.g. --param="destinationArn=arn:aws:logs:eu-west-1:111122223333:destination:ephemeral-guard-prod-audit"';
  }
  return DESTINATION_ARN.test(value)
    ? undefined
    : `"${value}" is not a CloudWatch Logs destination ARN (arn:aws:logs:<region>:<account>:destination:<name>)`;
}

function centralRemediateRoleArn(value) {
  if (value === "" || ROLE_ARN.test(value)) return undefined;
  return `"${value}" is not an IAM role ARN (the central stack's RemediateRoleArn output): the trust policy names exactly that role`;
}

/** Needed only when the role is made (centralRemediateRoleArn set). */
const whenRemediated = (check) => (value, values) =>
  values.centralRemediateRoleArn === "" ? undefined : check(value, values);

const MEMBER_CHECKS = [
  { param: "destinationArn", fallback: "", check: destinationArn },
  ...CHECKS.filter((row) => SHARED.includes(row.param)),
  { param: "centralRemediateRoleArn", fallback: "", check: centralRemediateRoleArn },
  {
    param: "remediationRoleName",
    check: (value) =>
      ROLE_NAME.test(value)
        ? undefined
        : `"${value}" is not an IAM role name of at most 48 characters (the region is appended)`,
  },
  {
    param: "remediationExternalId",
    fallback: "",
    check: whenRemediated((value) =>
      EXTERNAL_ID.test(value)
        ? undefined
        : "must be 16 to 1224 of the characters STS accepts (letters, digits, + = , . @ : / - _) when centralRemediateRoleArn is set: the member role trusts the central role only with it",
    ),
  },
  {
    param: "organizationId",
    fallback: "",
    check: whenRemediated((value) =>
      ORGANIZATION_ID.test(value)
        ? undefined
        : `"${value}" is not an AWS Organizations id (o-…), which the member role's trust policy requires of its caller (aws:PrincipalOrgID) when centralRemediateRoleArn is set`,
    ),
  },
];

/** Problems and values of the member parameters (strings). */
function checkMemberParams(given) {
  const { values, problems } = checkParams(given, MEMBER_CHECKS);
  try {
    clusterScope(given.clusters ?? "", given.excludedClusters ?? "");
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  for (const name of clusterList(given.remediationClusters ?? "")) {
    if (!CLUSTER_NAME.test(name)) problems.push(`remediationClusters: "${name}" is not an EKS cluster name`);
  }
  return { values, problems };
}

/** The destination's parts, and the ARN in the region the stack is deployed to (see serverless.member.yml). */
function destination(arn) {
  const [, partition, region, account, name] = DESTINATION_ARN.exec(arn) ?? [];
  return {
    account,
    name,
    packagedRegion: region,
    partition,
    arn: { "Fn::Sub": `arn:\${AWS::Partition}:logs:\${AWS::Region}:${account}:destination:${name}` },
    centralAccountRoot: { "Fn::Sub": `arn:\${AWS::Partition}:iam::${account}:root` },
  };
}

async function resolve({ resolveVariable }) {
  const given = {};
  for (const param of [
    ...MEMBER_CHECKS.map((row) => row.param),
    "clusters",
    "excludedClusters",
    "remediationClusters",
  ]) {
    given[param] = await resolveVariable(`param:${param}, ''`);
  }
  const { values, problems } = checkMemberParams(given);
  if (problems.length > 0) {
    throw refusal([
      "Member stack parameters refused (docs/deploy.md, Member accounts):",
      ...problems.map((problem) => `    * ${problem}`),
    ]);
  }
  return {
    severityRank: Object.fromEntries(SEVERITIES.map((severity, rank) => [severity, rank])),
    alarmActions: values.alarmTopicArn === "" ? [] : [values.alarmTopicArn],
    destination: destination(values.destinationArn),
  };
}

module.exports = resolve;
module.exports.resolve = resolve;
module.exports.checkMemberParams = checkMemberParams;
module.exports.DESTINATION_ARN = DESTINATION_ARN;
