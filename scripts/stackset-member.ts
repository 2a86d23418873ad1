// Turns a packaged member stack (npm run package:member -- --package DIR …) into a template CloudFormation
// StackSets can deploy to every account and region of the organization (docs/deploy.md, Member accounts).
//
//   npm run stackset:member -- DIR BUCKET_PREFIX
//
// osls packages for `serverless deploy`: the template creates its own deployment bucket and expects the code
// there, uploaded by the framework. A StackSet instance has no such upload, and Lambda reads code only from a
// bucket in the function's own region. So the code goes to one bucket per target region, named
// <BUCKET_PREFIX>-<region> (the organization's accounts may read it: docs/deploy.md), under a key derived
// from the zip's SHA-256, so that a new build never overwrites what running stacks were created from.
// Writes DIR/stackset-template.json and prints the uploads to make.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** What the prefix may be so that `<prefix>-<region>` is a valid S3 bucket name (at most 63 characters). */
const BUCKET_PREFIX = /^[a-z0-9][a-z0-9-]{1,40}[a-z0-9]$/;

/** The framework's deployment bucket and what refers to it, none of which a StackSet instance can use. */
const DEPLOYMENT_BUCKET = "ServerlessDeploymentBucket";

/** The parts of a template this changes; every other section is copied as it is. */
export interface Template {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  Outputs?: Record<string, unknown>;
}

export interface StackSetTemplate<T extends Template = Template> {
  template: T;
  /** The S3 key every region's bucket must hold the zip under. */
  key: string;
}

export function stacksetTemplate<T extends Template>(
  packaged: T,
  zip: Buffer,
  bucketPrefix: string,
): StackSetTemplate<T> {
  if (!BUCKET_PREFIX.test(bucketPrefix)) {
    throw new Error(
      `bucket prefix "${bucketPrefix}" must be 3-42 lower-case letters, digits and hyphens (the region is appended to make an S3 bucket name)`,
    );
  }
  const digest = createHash("sha256").update(zip).digest("hex");
  const key = `ephemeral-guard-member/${digest}/coverage.zip`;
  const template = structuredClone(packaged);
  delete template.Resources[DEPLOYMENT_BUCKET];
  delete template.Resources[`${DEPLOYMENT_BUCKET}Policy`];
  delete template.Outputs?.[`${DEPLOYMENT_BUCKET}Name`];
  const functions = Object.values(template.Resources).filter(
    (resource) => resource.Type === "AWS::Lambda::Function",
  );
  if (functions.length !== 1) {
    throw new Error(`expected the member stack's one function (coverage), found ${functions.length}`);
  }
  for (const resource of functions) {
    resource.Properties = {
      ...resource.Properties,
      Code: { S3Bucket: { "Fn::Sub": `${bucketPrefix}-\${AWS::Region}` }, S3Key: key },
    };
  }
  if (JSON.stringify(template).includes(DEPLOYMENT_BUCKET)) {
    throw new Error(
      `the template still refers to ${DEPLOYMENT_BUCKET}: was it packaged from serverless.member.yml?`,
    );
  }
  return { template, key };
}

function main(args: string[]): number {
  const [dir, prefix] = args;
  if (dir === undefined || prefix === undefined) {
    console.error("usage: npm run stackset:member -- PACKAGE_DIR BUCKET_PREFIX");
    return 2;
  }
  const packaged = JSON.parse(
    readFileSync(join(dir, "cloudformation-template-update-stack.json"), "utf8"),
  ) as Template;
  const zip = readFileSync(join(dir, "coverage.zip"));
  const { template, key } = stacksetTemplate(packaged, zip, prefix);
  const out = join(dir, "stackset-template.json");
  writeFileSync(out, `${JSON.stringify(template, null, 2)}\n`);
  console.log(`wrote ${out}`);
  console.log(
    `upload ${join(dir, "coverage.zip")} to s3://${prefix}-<region>/${key} for every target region, e.g.`,
  );
  console.log(`  aws s3 cp ${join(dir, "coverage.zip")} s3://${prefix}-eu-west-1/${key} --region eu-west-1`);
  return 0;
}

const invokedPath = process.argv[1];
if (invokedPath !== undefined && import.meta.url === pathToFileURL(resolve(invokedPath)).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
