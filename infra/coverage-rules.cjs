// What runs the coverage function: a schedule (every `coverageScheduleMinutes`, default 10) and one EventBridge
// rule per CloudTrail call that changes coverage (infra/coverage-triggers.json), each with the permission to
// invoke it. EventBridge sees those calls only if a CloudTrail trail records management events in the account
// (docs/deploy.md); the schedule is what still finds every change without one. Generated because the schedule
// expression and the rule list come from parameters and a table, and so that the parameters fail the packaging
// when they are out of range rather than the function at run time.
"use strict";

const { detailType, triggers } = require("./coverage-triggers.json");

/** A parameter that must be a whole number in [min, max]. */
function wholeNumber(name, value, min, max) {
  const text = String(value ?? "").trim();
  const number = Number(text);
  if (!/^\d+$/.test(text) || number < min || number > max) {
    throw new Error(`${name}: "${text}" must be a whole number of minutes from ${min} to ${max}`);
  }
  return number;
}

/** `rate(1 minute)`, `rate(10 minutes)`: EventBridge refuses the plural for 1. */
function rate(minutes) {
  return `rate(${minutes} minute${minutes === 1 ? "" : "s"})`;
}

const TARGET = [{ Arn: { "Fn::GetAtt": ["CoverageLambdaFunction", "Arn"] }, Id: "coverage" }];

function permission(rule) {
  return {
    Type: "AWS::Lambda::Permission",
    Properties: {
      Action: "lambda:InvokeFunction",
      FunctionName: { "Fn::GetAtt": ["CoverageLambdaFunction", "Arn"] },
      Principal: "events.amazonaws.com",
      SourceArn: { "Fn::GetAtt": [rule, "Arn"] },
    },
  };
}

/**
 * The rule's event pattern. Log-group calls are matched only on EKS control-plane log groups; the coverage
 * role's own PutSubscriptionFilter calls are left out, so that putting a filter back never triggers another run.
 */
function eventPattern(trigger) {
  const detail = { eventSource: [trigger.eventSource], eventName: [trigger.eventName] };
  if (trigger.source === "aws.logs") {
    detail.requestParameters = { logGroupName: [{ prefix: "/aws/eks/" }] };
  }
  if (trigger.eventName === "PutSubscriptionFilter") {
    detail.userIdentity = {
      arn: [
        {
          "anything-but": {
            prefix: {
              "Fn::Sub": `arn:\${AWS::Partition}:sts::\${AWS::AccountId}:assumed-role/\${CoverageRole}/`,
            },
          },
        },
      ],
    };
  }
  return { source: [trigger.source], "detail-type": [detailType], detail };
}

module.exports = async ({ resolveVariable }) => {
  const schedule = wholeNumber(
    "coverageScheduleMinutes",
    await resolveVariable("param:coverageScheduleMinutes"),
    1,
    60,
  );
  // Read here only to fail the packaging on a bad value; the function gets it as SILENCE_MINUTES.
  wholeNumber("coverageSilenceMinutes", await resolveVariable("param:coverageSilenceMinutes"), 5, 1440);
  const resources = {
    CoverageSchedule: {
      Type: "AWS::Events::Rule",
      Properties: {
        Description: `ephemeral-guard coverage check of every watched cluster, ${rate(schedule)}`,
        ScheduleExpression: rate(schedule),
        State: "ENABLED",
        Targets: TARGET,
      },
    },
    CoverageSchedulePermission: permission("CoverageSchedule"),
  };
  for (const trigger of triggers) {
    resources[trigger.rule] = {
      Type: "AWS::Events::Rule",
      Properties: {
        Description: `ephemeral-guard coverage check of the cluster a ${trigger.eventName} call names`,
        EventPattern: eventPattern(trigger),
        State: "ENABLED",
        Targets: TARGET,
      },
    };
    resources[`${trigger.rule}Permission`] = permission(trigger.rule);
  }
  return { Resources: resources };
};
