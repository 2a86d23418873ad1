import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../../../functions/adapters/lambda/configuration.ts";
import { parseCoverageEnvironment } from "../../../functions/adapters/lambda/coverage-environment.ts";

const BASE = {
  ALERTS_TOPIC_ARN: "arn:aws:sns:eu-west-1:444455556666:ephemeral-guard-member-prod-alerts",
  COVERAGE_TABLE: "coverage",
  IDEMPOTENCY_TABLE: "idempotency",
  STACK_NAME: "ephemeral-guard-member-prod",
  AWS_REGION: "eu-west-1",
};
const DETECT = "arn:aws:lambda:eu-west-1:444455556666:function:ephemeral-guard-prod-detect";
const DESTINATION = "arn:aws:logs:eu-west-1:111122223333:destination:ephemeral-guard-prod-audit";
const SUBSCRIPTION_ROLE =
  "arn:aws:iam::444455556666:role/StackSet-ephemeral-guard-m-CentralSubscriptionRole-1A2B3C4D";

describe("coverage environment: where the filters deliver", () => {
  it("delivers to detect in a single-account stack, with no role (a Lambda destination takes none)", () => {
    const { desiredFilter } = parseCoverageEnvironment({ ...BASE, DETECT_FUNCTION_ARN: DETECT });
    expect(desiredFilter).toMatchObject({
      destinationArn: DETECT,
      filterName: "ephemeral-guard-member-prod-ephemeral-containers",
    });
    expect(desiredFilter).not.toHaveProperty("roleArn");
  });

  it("delivers to the central Logs destination in a member stack with the member's role, and names its account", () => {
    const env = parseCoverageEnvironment({
      ...BASE,
      DETECT_FUNCTION_ARN: "",
      SUBSCRIPTION_DESTINATION_ARN: DESTINATION,
      SUBSCRIPTION_ROLE_ARN: SUBSCRIPTION_ROLE,
      ACCOUNT_ID: "444455556666",
    });
    expect(env.desiredFilter.destinationArn).toBe(DESTINATION);
    expect(env.desiredFilter.roleArn).toBe(SUBSCRIPTION_ROLE);
    expect(env.account).toBe("444455556666");
  });

  it.each([
    [{}, "exactly one of DETECT_FUNCTION_ARN and SUBSCRIPTION_DESTINATION_ARN"],
    [{ DETECT_FUNCTION_ARN: DETECT, SUBSCRIPTION_DESTINATION_ARN: DESTINATION }, "exactly one"],
    [
      { SUBSCRIPTION_DESTINATION_ARN: DESTINATION.replace("eu-west-1", "us-east-1") },
      "SUBSCRIPTION_DESTINATION_ARN: is in us-east-1, but coverage runs in eu-west-1",
    ],
    [{ SUBSCRIPTION_DESTINATION_ARN: `${DESTINATION}*` }, "CloudWatch Logs destination ARN"],
    [
      { SUBSCRIPTION_DESTINATION_ARN: "arn:aws:kinesis:eu-west-1:111122223333:stream/audit" },
      "destination ARN",
    ],
    [{ DETECT_FUNCTION_ARN: DETECT, ACCOUNT_ID: "4444" }, "ACCOUNT_ID"],
    [
      { SUBSCRIPTION_DESTINATION_ARN: DESTINATION },
      "SUBSCRIPTION_ROLE_ARN: is required with SUBSCRIPTION_DESTINATION_ARN",
    ],
    [
      { DETECT_FUNCTION_ARN: DETECT, SUBSCRIPTION_ROLE_ARN: SUBSCRIPTION_ROLE },
      "SUBSCRIPTION_ROLE_ARN: must not be set with DETECT_FUNCTION_ARN",
    ],
    [
      {
        SUBSCRIPTION_DESTINATION_ARN: DESTINATION,
        SUBSCRIPTION_ROLE_ARN: "arn:aws:iam::444455556666:role/*",
      },
      "SUBSCRIPTION_ROLE_ARN: must be an IAM role ARN",
    ],
    [
      {
        SUBSCRIPTION_DESTINATION_ARN: DESTINATION,
        SUBSCRIPTION_ROLE_ARN: SUBSCRIPTION_ROLE.replace("444455556666", "111122223333"),
        ACCOUNT_ID: "444455556666",
      },
      "SUBSCRIPTION_ROLE_ARN: is a role of account 111122223333",
    ],
  ])("refuses a destination it could not subscribe to: %o", (override, message) => {
    expect(() => parseCoverageEnvironment({ ...BASE, ...override })).toThrow(ConfigurationError);
    expect(() => parseCoverageEnvironment({ ...BASE, ...override })).toThrow(message);
  });
});
