// Who may publish to the alerts topic: the stack's own publishing roles and the operator roles listed in the
// optional `alertPublishers` parameter (comma-separated IAM role ARNs, for `npm run replay` and test alerts),
// and nobody else. remediate deletes pods on what it reads there, so a message from anyone else must never
// reach it. The Allow names the publishers; the explicit Deny of sns:Publish for every other principal is
// what holds against account-wide IAM grants (an administrator's `sns:*` on `*`), since an explicit Deny
// wins over any Allow. Only sns:Publish is denied: subscribing, delivery to subscribers and topic
// administration keep working through IAM as before. Generated because YAML cannot append a parameter's
// list to the stack's roles. The KMS key policy (infra/encryption.yml) agrees.
"use strict";

/** Roles of this stack that publish: detect (findings), remediate (its outcomes), coverage (coverage alerts). */
const STACK_PUBLISHERS = ["DetectRole", "RemediateRole", "CoverageRole"];

/** An IAM role ARN, path allowed (SSO roles live under aws-reserved/…); no wildcards. */
const ROLE_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;

/** `alertPublishers` as given: a comma-separated string or a YAML list; blanks and repeats dropped. */
function publisherList(value) {
  const items = Array.isArray(value) ? value : String(value ?? "").split(",");
  const arns = [...new Set(items.map((item) => String(item).trim()).filter((item) => item !== ""))];
  for (const arn of arns) {
    if (!ROLE_ARN.test(arn)) {
      throw new Error(
        `alertPublishers: "${arn}" is not an IAM role ARN (arn:aws:iam::<account>:role/<name>); the topic ` +
          "policy matches the caller's role ARN, so users, assumed-role sessions and wildcards cannot be listed",
      );
    }
  }
  return arns;
}

function alertsTopicPolicy(operatorRoles) {
  const publishers = [...STACK_PUBLISHERS.map((role) => ({ "Fn::GetAtt": [role, "Arn"] })), ...operatorRoles];
  return {
    Type: "AWS::SNS::TopicPolicy",
    Properties: {
      Topics: [{ Ref: "AlertsTopic" }],
      PolicyDocument: {
        Version: "2012-10-17",
        Statement: [
          {
            Sid: "StackAndOperatorPublishers",
            Effect: "Allow",
            Principal: { AWS: publishers },
            Action: "sns:Publish",
            Resource: { Ref: "AlertsTopic" },
          },
          {
            Sid: "NobodyElsePublishes",
            Effect: "Deny",
            Principal: "*",
            Action: "sns:Publish",
            Resource: { Ref: "AlertsTopic" },
            // A role session's aws:PrincipalArn is its role's ARN. AWS services publishing on their own have
            // none, so they are denied too.
            Condition: { ArnNotEquals: { "aws:PrincipalArn": publishers } },
          },
        ],
      },
    },
  };
}

module.exports = async ({ resolveVariable }) => {
  // Not caught: serverless signals "not resolved yet, call me again" by throwing, and serverless.yml gives the
  // parameter a default, so it always resolves in the end.
  const operatorRoles = publisherList(await resolveVariable("param:alertPublishers"));
  return {
    Resources: { AlertsTopicPolicy: alertsTopicPolicy(operatorRoles) },
    Outputs: {
      AlertPublishers: {
        Description: "Operator roles allowed to publish to the alerts topic (alertPublishers)",
        Value: operatorRoles.length === 0 ? "(none)" : operatorRoles.join(","),
      },
    },
  };
};

module.exports.STACK_PUBLISHERS = STACK_PUBLISHERS;
