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

describe("coverage environment: where the filters deliver", () => {
  it("delivers to detect in a single-account stack", () => {
    expect(parseCoverageEnvironment({ ...BASE, DETECT_FUNCTION_ARN: DETECT }).desiredFilter).toMatchObject({
      destinationArn: DETECT,
      filterName: "ephemeral-guard-member-prod-ephemeral-containers",
    });
  });

  it("delivers to the central Logs destination in a member stack, and names its account", () => {
    const env = parseCoverageEnvironment({
      ...BASE,
      DETECT_FUNCTION_ARN: "",
      SUBSCRIPTION_DESTINATION_ARN: DESTINATION,
      ACCOUNT_ID: "444455556666",
    });
    expect(env.desiredFilter.destinationArn).toBe(DESTINATION);
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
  ])("refuses a destination it could not subscribe to: %o", (override, message) => {
    expect(() => parseCoverageEnvironment({ ...BASE, ...override })).toThrow(ConfigurationError);
    expect(() => parseCoverageEnvironment({ ...BASE, ...override })).toThrow(message);
  });
});
