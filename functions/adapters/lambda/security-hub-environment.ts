import * as z from "zod";
import { parseEnvironment } from "./configuration.ts";

/**
 * The account's default Security Hub product, the only product a custom integration may import into:
 * `arn:<partition>:securityhub:<region>:<account>:product/<account>/default` (same account twice).
 */
const PRODUCT_ARN =
  /^arn:(aws|aws-cn|aws-us-gov):securityhub:([a-z]{2}(?:-[a-z]+)+-\d+):(\d{12}):product\/(\d{12})\/default$/;

const EnvironmentSchema = z
  .object({
    SECURITY_HUB_PRODUCT_ARN: z
      .string()
      .trim()
      .regex(PRODUCT_ARN, "must be arn:<partition>:securityhub:<region>:<account>:product/<account>/default"),
    AWS_REGION: z.string().trim().min(1, "AWS_REGION is required"),
  })
  .superRefine((env, context) => {
    const [, , region, account, productAccount] = PRODUCT_ARN.exec(env.SECURITY_HUB_PRODUCT_ARN) ?? [];
    if (account !== productAccount) {
      context.addIssue({
        code: "custom",
        path: ["SECURITY_HUB_PRODUCT_ARN"],
        message: "names two accounts: the default product is the importing account's own",
      });
    }
    if (region !== undefined && region !== env.AWS_REGION) {
      context.addIssue({
        code: "custom",
        path: ["SECURITY_HUB_PRODUCT_ARN"],
        message: `is in ${region}, but the function runs in ${env.AWS_REGION}: Security Hub imports per region`,
      });
    }
  });

export interface SecurityHubEnvironment {
  productArn: string;
  accountId: string;
  region: string;
  partition: string;
}

/** Parses security-hub's environment once per container; throws ConfigurationError naming every problem. */
export function parseSecurityHubEnvironment(env: Record<string, string | undefined>): SecurityHubEnvironment {
  const vars = parseEnvironment("security-hub", EnvironmentSchema, env);
  const [, partition = "aws", , accountId = ""] = PRODUCT_ARN.exec(vars.SECURITY_HUB_PRODUCT_ARN) ?? [];
  return { productArn: vars.SECURITY_HUB_PRODUCT_ARN, accountId, region: vars.AWS_REGION, partition };
}
