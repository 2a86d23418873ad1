import { describe, expect, it } from "vitest";
import { ConfigurationError } from "../../../functions/adapters/lambda/configuration.ts";
import { parseSecurityHubEnvironment } from "../../../functions/adapters/lambda/security-hub-environment.ts";

const ARN = "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default";

function problems(env: Record<string, string | undefined>): string {
  try {
    parseSecurityHubEnvironment(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as ConfigurationError).message;
  }
  throw new Error("expected a ConfigurationError");
}

describe("security-hub environment", () => {
  it("takes the account, region and partition from the default product ARN", () => {
    expect(parseSecurityHubEnvironment({ SECURITY_HUB_PRODUCT_ARN: ARN, AWS_REGION: "eu-west-1" })).toEqual({
      productArn: ARN,
      accountId: "111122223333",
      region: "eu-west-1",
      partition: "aws",
    });
    const gov = "arn:aws-us-gov:securityhub:us-gov-west-1:111122223333:product/111122223333/default";
    expect(
      parseSecurityHubEnvironment({ SECURITY_HUB_PRODUCT_ARN: gov, AWS_REGION: "us-gov-west-1" }).partition,
    ).toBe("aws-us-gov");
  });

  it.each([
    ["missing", undefined, "SECURITY_HUB_PRODUCT_ARN"],
    [
      "a partner product (imports there need an allow-listed account)",
      "arn:aws:securityhub:eu-west-1::product/vendor/tool",
      "must be arn:",
    ],
    [
      "another account's default product",
      "arn:aws:securityhub:eu-west-1:111122223333:product/444455556666/default",
      "names two accounts",
    ],
    [
      "another region",
      "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default",
      "runs in eu-west-1",
    ],
  ])("refuses a product ARN that is %s", (_what, arn, message) => {
    expect(problems({ SECURITY_HUB_PRODUCT_ARN: arn, AWS_REGION: "eu-west-1" })).toContain(message);
  });

  it("names the function and every problem at once", () => {
    expect(problems({})).toMatch(
      /^security-hub is misconfigured: SECURITY_HUB_PRODUCT_ARN: .*; AWS_REGION: /,
    );
  });
});
