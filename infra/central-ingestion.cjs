// Organization mode (`--param="ingestion=kinesis" --param="organizationId=o-…"`, docs/deploy.md and docs/scale.md):
// the resources through which the member accounts of an AWS Organization deliver their clusters' audit events to
// this stack's detect function. CloudWatch Logs subscribes a log group to a Lambda function only in the same
// account and region; across accounts it delivers only to a Logs destination backed by Kinesis (or Firehose).
//
//   member log group --subscription filter--> AuditDestination --LogsToAuditStreamRole--> AuditStream (KMS)
//     --DetectAuditStreamMapping (partial batch responses, bisect, bounded retries)--> detect
//       --after the retries: shard and sequence numbers--> DetectFailureQueue (`ephemeral-guard replay`)
//
// Nothing here is created in the default single-account mode (`ingestion=subscription`): the fragment is empty
// and the template stays as it was, byte for byte (test/infra/central-stack.test.ts). The stack's own account
// keeps its direct subscriptions (coverage function) in both modes.
//
// One central stack per region the members' clusters run in: a destination takes subscriptions only from log
// groups of its own region, and the Kinesis record does not say which region the log group was in, so the
// stream's region is the finding's region (docs/deploy.md, Organization deployment).
//
// The parameters were checked by infra/deploy-params.cjs (custom.deployParams.central); a refusal there stops
// the packaging before this runs.
"use strict";

/**
 * Stream retention: 7 days instead of Kinesis's 24 hours. The on-failure destination keeps only shard and
 * sequence numbers (14 days in the failure queue); `ephemeral-guard replay` reads the records back from the
 * stream, so this is the replay window after a weekend. Extended retention (up to 7 days) is billed per GB
 * stored (docs/scale.md: cents a month at this stream's volume).
 */
const RETENTION_HOURS = 168;

/**
 * How detect consumes the stream (docs/deploy.md, Organization deployment, and docs/scale.md):
 * - BatchSize 100: Kinesis's default and the batch `npm run bench` measures. A record is one CloudWatch Logs
 *   delivery (many audit events of one log group); detect bounds what one record may cost, and 100 of them stay
 *   far within its 60 s timeout and Lambda's 6 MB payload.
 * - MaximumBatchingWindowInSeconds 0: alerts are urgent and Lambda already reads each shard about once a
 *   second, so in a flood batches fill by themselves; a window would only add its length to every alert.
 * - ParallelizationFactor 4: up to four batches of one shard in flight at once (records of one partition key stay
 *   in order), so one flooded cluster cannot hold back the others' alerts for long; concurrency stays bounded
 *   at shards × 4 (16 on a new on-demand stream's 4 shards).
 * - FunctionResponseTypes ReportBatchItemFailures: detect names the records whose findings could not be
 *   published; Lambda retries from the first of them, not the whole batch. Corrupt records are rejected and
 *   counted, never reported, so they are not retried.
 * - BisectBatchOnFunctionError: when detect fails as a whole (a timeout, a crash), the batch is split in two
 *   and each half retried, so one record that kills the function is isolated instead of blocking its shard.
 * - MaximumRetryAttempts 5: a failed publish is retried for about as long as SNS or DynamoDB usually take to
 *   recover; the idempotency table makes retries safe (nothing is alerted twice).
 * - MaximumRecordAgeInSeconds 6 h: a shard that fell behind stops spending its time on records older than
 *   this; they go to the failure queue while the stream still has them for `replay` (6 h of the 7 days).
 * - StartingPosition TRIM_HORIZON: a new or replaced mapping starts with what the stream holds rather than
 *   losing it; what was already published is recognised by the idempotency table (14 days).
 */
const MAPPING = {
  BatchSize: 100,
  MaximumBatchingWindowInSeconds: 0,
  ParallelizationFactor: 4,
  FunctionResponseTypes: ["ReportBatchItemFailures"],
  BisectBatchOnFunctionError: true,
  MaximumRetryAttempts: 5,
  MaximumRecordAgeInSeconds: 21_600,
  StartingPosition: "TRIM_HORIZON",
};

/** An alarm when detect's stream reading lags this far behind (AWS/Lambda IteratorAge, milliseconds). */
const ITERATOR_AGE_ALARM_MS = 300_000;

const sub = (text) => ({ "Fn::Sub": text });

/** The admin statement of infra/encryption.yml: the account manages the key through IAM, but uses no data key. */
const ADMINISTER_KEY = {
  Sid: "AccountAdministersKeyThroughIam",
  Effect: "Allow",
  Principal: { AWS: sub(`arn:\${AWS::Partition}:iam::\${AWS::AccountId}:root`) },
  Action: [
    "kms:Describe*",
    "kms:Get*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Enable*",
    "kms:Disable*",
    "kms:Revoke*",
    "kms:Delete*",
    "kms:CreateAlias",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
  ],
  Resource: "*",
};

/**
 * The stream's own key, not the alerts key: the alerts key's policy allows data keys only through SNS and SQS,
 * this one only through Kinesis (CloudWatch Logs' role writing, detect and the replay operator reading), each
 * caller also needing an IAM grant of its own.
 */
function streamKey(names) {
  return {
    Type: "AWS::KMS::Key",
    Properties: {
      Description: `ephemeral-guard ${names.stage} audit stream (organization mode)`,
      EnableKeyRotation: true,
      KeyPolicy: {
        Version: "2012-10-17",
        Statement: [
          ADMINISTER_KEY,
          {
            Sid: "DataKeysOnlyThroughKinesis",
            Effect: "Allow",
            Principal: { AWS: sub(`arn:\${AWS::Partition}:iam::\${AWS::AccountId}:root`) },
            Action: ["kms:GenerateDataKey", "kms:Decrypt"],
            Resource: "*",
            Condition: {
              StringEquals: {
                "kms:CallerAccount": { Ref: "AWS::AccountId" },
                "kms:ViaService": sub(`kinesis.\${AWS::Region}.amazonaws.com`),
              },
            },
          },
        ],
      },
    },
  };
}

/**
 * Who may subscribe a log group to the destination: principals of the organization's accounts, nobody else.
 * `logs:PutAccountPolicy` lets a member account use an account-level subscription filter policy instead of a
 * filter per log group. The policy is a JSON string naming the destination's ARN, built from its fixed name
 * (a reference to the destination itself would be circular).
 */
function destinationPolicy(organizationId, names) {
  return sub(
    JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "OrganizationAccountsSubscribe",
          Effect: "Allow",
          Principal: "*",
          Action: ["logs:PutSubscriptionFilter", "logs:PutAccountPolicy"],
          Resource: `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:destination:${names.prefix}-audit`,
          Condition: { StringEquals: { "aws:PrincipalOrgID": organizationId } },
        },
      ],
    }),
  );
}

/** The longest region name (ap-southeast-7, …): the remediate role's name must fit IAM's 64 characters in all. */
const LONGEST_REGION = 14;

/**
 * Resources and outputs of the organization stack. `central` is custom.deployParams.central; `names` the
 * service, the stage and the alarm actions (custom.alarmActions), as serverless.yml resolves them.
 */
function centralIngestion(central, { service, stage, alarmActions }) {
  if (central.ingestion !== "kinesis") return {};
  const { organizationId, memberRemediationRoleName: roleName } = central;
  const names = { stage, prefix: `${service}-${stage}` };
  const remediateRoleName = `${names.prefix}-\${AWS::Region}-remediate`;
  if (names.prefix.length + 1 + LONGEST_REGION + "-remediate".length > 64) {
    throw new Error(
      `ingestion=kinesis: the remediate role is named ${remediateRoleName}, which is longer than IAM's 64 characters in some regions: use a stage name of at most ${64 - 1 - LONGEST_REGION - "-remediate".length - service.length - 1} characters`,
    );
  }
  const resources = {
    AuditStreamKey: streamKey(names),
    AuditStreamKeyAlias: {
      Type: "AWS::KMS::Alias",
      Properties: {
        AliasName: `alias/${names.prefix}-audit-stream`,
        TargetKeyId: { Ref: "AuditStreamKey" },
      },
    },
    // On-demand capacity: no shard count to size or resize; the stream scales with the organization's
    // deliveries (docs/scale.md).
    AuditStream: {
      Type: "AWS::Kinesis::Stream",
      Properties: {
        Name: `${names.prefix}-audit`,
        StreamModeDetails: { StreamMode: "ON_DEMAND" },
        RetentionPeriodHours: RETENTION_HOURS,
        StreamEncryption: { EncryptionType: "KMS", KeyId: { "Fn::GetAtt": ["AuditStreamKey", "Arn"] } },
      },
    },
    // The role CloudWatch Logs assumes to put the members' deliveries into the stream. The service is confined
    // to this organization (aws:SourceOrgID) and to log groups and destinations of this region (aws:SourceArn),
    // the confused-deputy conditions CloudWatch Logs documents: no other AWS customer's subscription can make
    // it write here.
    LogsToAuditStreamRole: {
      Type: "AWS::IAM::Role",
      Properties: {
        AssumeRolePolicyDocument: {
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { Service: "logs.amazonaws.com" },
              Action: "sts:AssumeRole",
              Condition: {
                StringEquals: { "aws:SourceOrgID": organizationId },
                StringLike: { "aws:SourceArn": sub(`arn:\${AWS::Partition}:logs:\${AWS::Region}:*:*`) },
              },
            },
          ],
        },
        Policies: [
          {
            PolicyName: "put-audit-records",
            PolicyDocument: {
              Version: "2012-10-17",
              Statement: [
                {
                  Sid: "PutDeliveries",
                  Effect: "Allow",
                  Action: "kinesis:PutRecord",
                  Resource: { "Fn::GetAtt": ["AuditStream", "Arn"] },
                },
                {
                  Sid: "EncryptedStream",
                  Effect: "Allow",
                  Action: "kms:GenerateDataKey",
                  Resource: { "Fn::GetAtt": ["AuditStreamKey", "Arn"] },
                },
              ],
            },
          },
        ],
      },
    },
    AuditDestination: {
      Type: "AWS::Logs::Destination",
      // CloudWatch Logs sends a test record when the destination is created: the role must be able to put it.
      DependsOn: ["LogsToAuditStreamRole"],
      Properties: {
        DestinationName: `${names.prefix}-audit`,
        TargetArn: { "Fn::GetAtt": ["AuditStream", "Arn"] },
        RoleArn: { "Fn::GetAtt": ["LogsToAuditStreamRole", "Arn"] },
        DestinationPolicy: destinationPolicy(organizationId, names),
      },
    },
    // What the event source mapping needs of detect's role (Lambda reads the stream with it), on this stream
    // and its key only. Attached before the mapping exists: Lambda checks the role when the mapping is created.
    DetectReadsAuditStream: {
      Type: "AWS::IAM::Policy",
      Properties: {
        PolicyName: "detect-reads-audit-stream",
        Roles: [{ Ref: "DetectRole" }],
        PolicyDocument: {
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "ReadAuditStream",
              Effect: "Allow",
              Action: [
                "kinesis:DescribeStream",
                "kinesis:DescribeStreamSummary",
                "kinesis:GetRecords",
                "kinesis:GetShardIterator",
                "kinesis:ListShards",
              ],
              Resource: { "Fn::GetAtt": ["AuditStream", "Arn"] },
            },
            {
              Sid: "EncryptedStream",
              Effect: "Allow",
              Action: "kms:Decrypt",
              Resource: { "Fn::GetAtt": ["AuditStreamKey", "Arn"] },
            },
          ],
        },
      },
    },
    // The on-failure destination is detect's failure queue (encrypted with the alerts key; detect's role may
    // send to it): after the retries it receives the batch's shard and sequence numbers, which
    // `ephemeral-guard replay` reads back from the stream.
    DetectAuditStreamMapping: {
      Type: "AWS::Lambda::EventSourceMapping",
      DependsOn: ["DetectReadsAuditStream"],
      Properties: {
        EventSourceArn: { "Fn::GetAtt": ["AuditStream", "Arn"] },
        FunctionName: { "Fn::GetAtt": ["DetectLambdaFunction", "Arn"] },
        Enabled: true,
        ...MAPPING,
        DestinationConfig: {
          OnFailure: { Destination: { "Fn::GetAtt": ["DetectFailureQueue", "Arn"] } },
        },
      },
    },
    // A batch whose records decompress past detect's per-invocation budget hands the rest back to Lambda
    // (detect-invocation.ts, RecordsDeferred): nothing is lost, but a padded, compressible write is what does
    // it, and while it lasts the other accounts' records wait behind it.
    DetectRecordsDeferredAlarm: {
      Type: "AWS::CloudWatch::Alarm",
      Properties: {
        AlarmDescription: `ephemeral-guard ${stage}: detect handed stream records back over its decompression budget (a padded write?): see its "records deferred to a later batch" log lines`,
        Namespace: "EphemeralGuard",
        MetricName: "RecordsDeferred",
        Dimensions: [{ Name: "service", Value: "detect" }],
        Statistic: "Sum",
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 0,
        ComparisonOperator: "GreaterThanThreshold",
        TreatMissingData: "notBreaching",
        AlarmActions: alarmActions,
        OKActions: alarmActions,
      },
    },
    // Alerts arrive late when the mapping falls behind (a flood, throttling, a failing batch being retried).
    DetectStreamIteratorAgeAlarm: {
      Type: "AWS::CloudWatch::Alarm",
      Properties: {
        AlarmDescription: `ephemeral-guard ${stage}: detect reads the organization's audit stream more than 5 minutes behind: alerts are late (docs/scale.md)`,
        Namespace: "AWS/Lambda",
        MetricName: "IteratorAge",
        Dimensions: [{ Name: "FunctionName", Value: { Ref: "DetectLambdaFunction" } }],
        Statistic: "Maximum",
        Period: 60,
        EvaluationPeriods: 5,
        Threshold: ITERATOR_AGE_ALARM_MS,
        ComparisonOperator: "GreaterThanThreshold",
        TreatMissingData: "notBreaching",
        AlarmActions: alarmActions,
        OKActions: alarmActions,
      },
    },
    // A member's finding names its own account: remediate tells it from the stack's (functions/core/remediation/
    // cluster-placement.ts). Merged into the function's environment (Serverless merges a resource of the same
    // name into the generated one; the Type only satisfies its schema), so the single-account template is unchanged.
    RemediateLambdaFunction: {
      Type: "AWS::Lambda::Function",
      Properties: { Environment: { Variables: { ACCOUNT_ID: { Ref: "AWS::AccountId" } } } },
    },
    // A fixed name, so that the member stacks' roles can trust this role by ARN before it exists and after it
    // is replaced: arn:<partition>:iam::<this account>:role/<service>-<stage>-<region>-remediate.
    RemediateRole: {
      Type: "AWS::IAM::Role",
      Properties: { RoleName: sub(remediateRoleName) },
    },
  };
  if (roleName !== "") {
    resources.RemediateLambdaFunction.Properties.Environment.Variables.MEMBER_ROLE_NAME = roleName;
    resources.RemediateLambdaFunction.Properties.Environment.Variables.MEMBER_ROLE_EXTERNAL_ID =
      central.memberRemediationExternalId;
    // The member stacks' role of each region (`<name>-<region>`, functions/adapters/aws/member-role-credentials.ts),
    // in this organization's accounts only; the member role's trust policy decides the rest (this role, the
    // external id).
    resources.RemediateAssumesMemberRoles = {
      Type: "AWS::IAM::Policy",
      Properties: {
        PolicyName: "remediate-assumes-member-roles",
        Roles: [{ Ref: "RemediateRole" }],
        PolicyDocument: {
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "MemberRemediationRoles",
              Effect: "Allow",
              Action: "sts:AssumeRole",
              Resource: sub(`arn:\${AWS::Partition}:iam::*:role/${roleName}-*`),
              Condition: { StringEquals: { "aws:ResourceOrgID": organizationId } },
            },
          ],
        },
      },
    };
  }
  return {
    Resources: resources,
    Outputs: {
      DestinationArn: {
        Description:
          "Logs destination for the member stacks of this region: npm run package:member -- --param=destinationArn=<this>",
        Value: { "Fn::GetAtt": ["AuditDestination", "Arn"] },
      },
      AuditStreamName: {
        Description:
          "The organization's audit stream (ephemeral-guard replay reads failed batches back from it)",
        Value: { Ref: "AuditStream" },
      },
      AuditStreamArn: { Value: { "Fn::GetAtt": ["AuditStream", "Arn"] } },
      OrganizationId: { Value: organizationId },
    },
  };
}

/** Serverless resolves this file as a function of its variable resolver. */
module.exports = async ({ resolveVariable }) =>
  centralIngestion(await resolveVariable("self:custom.deployParams.central"), {
    service: String(await resolveVariable("self:service")),
    stage: String(await resolveVariable("sls:stage")),
    alarmActions: await resolveVariable("self:custom.alarmActions"),
  });
module.exports.centralIngestion = centralIngestion;
module.exports.MAPPING = MAPPING;
module.exports.RETENTION_HOURS = RETENTION_HOURS;
