import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../../../functions/adapters/lambda/configuration.ts";
import { parseRemediateEnvironment } from "../../../functions/adapters/lambda/remediate-environment.ts";

const REQUIRED = {
  ALERTS_TOPIC_ARN: "arn:aws:sns:us-east-1:111122223333:alerts",
  RATE_LIMIT_TABLE: "rate-limit",
  IDEMPOTENCY_TABLE: "idempotency",
  AWS_REGION: "eu-west-1",
};

describe("remediate environment", () => {
  it("applies the defaults when serverless.yml passes empty strings", () => {
    const env = parseRemediateEnvironment({
      ...REQUIRED,
      REMEDIATION_MODE: "off",
      PROTECTED_NAMESPACES: "",
      BREAK_GLASS_USERS: "",
      RECREATING_CONTROLLERS: "",
    });
    expect(env).toEqual({
      topicArn: REQUIRED.ALERTS_TOPIC_ARN,
      tableName: "rate-limit",
      // 14 days, as detect: a finding replayed from a failure queue is still recognised.
      idempotency: { tableName: "idempotency", expiresAfterSeconds: 14 * 24 * 60 * 60 },
      region: "eu-west-1",
      policy: {
        mode: "off",
        severityThreshold: "critical",
        clusters: [],
        protectedNamespaces: ["kube-system", "kube-public", "kube-node-lease"],
        allowBarePods: false,
        recreatingControllers: ["ReplicaSet", "StatefulSet", "DaemonSet", "Job"],
        breakGlassUsers: [],
        breakGlassGroups: [],
        rateLimit: 3,
        rateWindowSeconds: 600,
        gracePeriodSeconds: 10,
      },
    });
  });

  it("reads every setting", () => {
    const { policy } = parseRemediateEnvironment({
      ...REQUIRED,
      REMEDIATION_MODE: "enforce",
      REMEDIATION_MIN_SEVERITY: "high",
      REMEDIATION_CLUSTERS: "prod-eu, prod-us",
      PROTECTED_NAMESPACES: "kube-system,payments-*",
      ALLOW_BARE_PODS: "true",
      BREAK_GLASS_USERS: "breakglass-*",
      BREAK_GLASS_GROUPS: "incident-responders",
      DELETION_RATE_LIMIT: "5",
      DELETION_RATE_WINDOW_SECONDS: "3600",
      GRACE_PERIOD_SECONDS: "30",
    });
    expect(policy).toMatchObject({
      mode: "enforce",
      severityThreshold: "high",
      clusters: ["prod-eu", "prod-us"],
      protectedNamespaces: ["kube-system", "payments-*"],
      allowBarePods: true,
      breakGlassUsers: ["breakglass-*"],
      breakGlassGroups: ["incident-responders"],
      rateLimit: 5,
      rateWindowSeconds: 3600,
      gracePeriodSeconds: 30,
    });
  });

  it.each([
    [{ REMEDIATION_MODE: "delete" }, "mode"],
    [{ REMEDIATION_MIN_SEVERITY: "severe" }, "severityThreshold"],
    [{ ALLOW_BARE_PODS: "yes" }, "ALLOW_BARE_PODS"],
    [{ DELETION_RATE_LIMIT: "lots" }, "DELETION_RATE_LIMIT"],
    [{ DELETION_RATE_LIMIT: "0" }, "rateLimit"],
    [{ GRACE_PERIOD_SECONDS: "0" }, "gracePeriodSeconds"],
    [{ ALERTS_TOPIC_ARN: "" }, "ALERTS_TOPIC_ARN"],
    [{ IDEMPOTENCY_TABLE: "" }, "IDEMPOTENCY_TABLE"],
    [{ IDEMPOTENCY_TTL_SECONDS: "10" }, "IDEMPOTENCY_TTL_SECONDS"],
  ])("rejects %o naming %s", (override, field) => {
    expect(() => parseRemediateEnvironment({ ...REQUIRED, ...override })).toThrow(ConfigurationError);
    expect(() => parseRemediateEnvironment({ ...REQUIRED, ...override })).toThrow(field);
  });

  it("reaches member accounts only with a role name, an external id and its own account", () => {
    expect(
      parseRemediateEnvironment({
        ...REQUIRED,
        ACCOUNT_ID: "111122223333",
        MEMBER_ROLE_NAME: "ephemeral-guard-remediator",
        MEMBER_ROLE_EXTERNAL_ID: "eg-7d1f3c9a0b2e4f68",
      }),
    ).toMatchObject({
      account: "111122223333",
      members: { roleName: "ephemeral-guard-remediator", externalId: "eg-7d1f3c9a0b2e4f68" },
    });
    // The shortest the member stacks accept.
    expect(
      parseRemediateEnvironment({
        ...REQUIRED,
        ACCOUNT_ID: "111122223333",
        MEMBER_ROLE_NAME: "ephemeral-guard-remediator",
        MEMBER_ROLE_EXTERNAL_ID: "eg-7d1f3c9a0b2e4",
      }).members?.externalId,
    ).toBe("eg-7d1f3c9a0b2e4");
    const single = parseRemediateEnvironment({
      ...REQUIRED,
      ACCOUNT_ID: "111122223333",
      MEMBER_ROLE_NAME: "",
      MEMBER_ROLE_EXTERNAL_ID: "",
    });
    expect(single.members).toBeUndefined();
  });

  it.each([
    [
      { MEMBER_ROLE_NAME: "ephemeral-guard-remediator", ACCOUNT_ID: "111122223333" },
      "MEMBER_ROLE_EXTERNAL_ID",
    ],
    [
      { MEMBER_ROLE_NAME: "ephemeral-guard-remediator", MEMBER_ROLE_EXTERNAL_ID: "eg-7d1f3c9a0b2e4f68" },
      "ACCOUNT_ID",
    ],
    [{ MEMBER_ROLE_NAME: "role/with/slashes" }, "MEMBER_ROLE_NAME"],
    [{ MEMBER_ROLE_NAME: "r".repeat(49) }, "MEMBER_ROLE_NAME"],
    [{ MEMBER_ROLE_EXTERNAL_ID: "x" }, "MEMBER_ROLE_EXTERNAL_ID"],
    // 15 characters: every member stack refuses it (remediationExternalId), so no member role would match.
    [
      {
        MEMBER_ROLE_NAME: "ephemeral-guard-remediator",
        ACCOUNT_ID: "111122223333",
        MEMBER_ROLE_EXTERNAL_ID: "eg-7d1f3c9a0b2e",
      },
      "MEMBER_ROLE_EXTERNAL_ID must be 16-1224",
    ],
    [{ MEMBER_ROLE_EXTERNAL_ID: "eg-7d1f3c9a0b2e4f68*" }, "MEMBER_ROLE_EXTERNAL_ID"],
    [{ ACCOUNT_ID: "1111-2222-3333" }, "ACCOUNT_ID"],
  ])("refuses a member setting that cannot work: %o naming %s", (override, field) => {
    expect(() => parseRemediateEnvironment({ ...REQUIRED, ...override })).toThrow(ConfigurationError);
    expect(() => parseRemediateEnvironment({ ...REQUIRED, ...override })).toThrow(field);
  });
});
