import type { Finding } from "./finding.ts";
import { clusterIdentity } from "./remediation/cluster-placement.ts";

/**
 * Where a delivery came from in AWS: the account that owns the cluster's log group, and the region. In central
 * mode (docs/scale.md) one detector reads the clusters of every account of an organization, and cluster names
 * repeat across accounts (every team has a `prod`): the cluster ARN, made of partition, region, account and
 * name, is what tells them apart in findings, exactly-once keys and storm budgets.
 *
 * What sets these is trusted as far as AWS sets it: `owner` of a CloudWatch Logs delivery is the account that
 * owns the log group (CloudWatch Logs writes it, a sender cannot choose it); a Kinesis record's `awsRegion` and
 * `eventSourceARN` are written by Lambda. The cluster name comes from the log group's name, which the member
 * account chooses: it can only ever name a cluster of its own account.
 */

export interface AwsOrigin {
  /** 12-digit AWS account id. */
  account?: string;
  /** e.g. `eu-west-1`. */
  region?: string;
  /** `aws`, `aws-cn`, `aws-us-gov`, … */
  partition?: string;
}

const ACCOUNT_ID = /^\d{12}$/;
/** Region names: `us-east-1`, `us-gov-west-1`, `cn-north-1`, `eu-isoe-west-1`. */
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const PARTITION = /^aws(-[a-z]+)*$/;

/** Region prefixes of the partitions other than `aws` (checked longest first). */
const PARTITIONS_BY_REGION_PREFIX: ReadonlyArray<readonly [string, string]> = [
  ["us-isob-", "aws-iso-b"],
  ["us-isof-", "aws-iso-f"],
  ["eu-isoe-", "aws-iso-e"],
  ["us-iso-", "aws-iso"],
  ["us-gov-", "aws-us-gov"],
  ["cn-", "aws-cn"],
];

export function isAccountId(value: unknown): value is string {
  return typeof value === "string" && ACCOUNT_ID.test(value);
}

export function isRegion(value: unknown): value is string {
  return typeof value === "string" && value.length <= 32 && REGION.test(value);
}

/** The partition a region belongs to; `aws` for every commercial region. */
export function partitionOfRegion(region: string): string {
  return PARTITIONS_BY_REGION_PREFIX.find(([prefix]) => region.startsWith(prefix))?.[1] ?? "aws";
}

/**
 * Partition, region and account of an ARN (`arn:aws:kinesis:eu-west-1:111122223333:stream/x`); each only when
 * well formed.
 */
export function originOfArn(arn: unknown): AwsOrigin {
  if (typeof arn !== "string" || arn.length > 2048) return {};
  const [prefix, partition, , region, account] = arn.split(":", 5);
  if (prefix !== "arn") return {};
  const origin: AwsOrigin = {};
  if (partition !== undefined && PARTITION.test(partition)) origin.partition = partition;
  if (isRegion(region)) origin.region = region;
  if (isAccountId(account)) origin.account = account;
  return origin;
}

/**
 * EKS cluster names: 1 to 100 characters, a letter or digit first. A log group can name anything else
 * (`/aws/eks/a.b/cluster`); such a name is no EKS cluster, so it gets no ARN rather than one that is not an ARN.
 */
const EKS_CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/;

/**
 * `arn:<partition>:eks:<region>:<account>:cluster/<name>` when account, region and an EKS cluster name are
 * known. The name cannot hold a `:` or `/`, so it cannot forge the account part.
 */
export function clusterArn(origin: AwsOrigin, cluster: string | undefined): string | undefined {
  const { account, region } = origin;
  if (!cluster || !EKS_CLUSTER_NAME.test(cluster) || !isAccountId(account) || !isRegion(region))
    return undefined;
  const partition = origin.partition ?? partitionOfRegion(region);
  return `arn:${partition}:eks:${region}:${account}:cluster/${cluster}`;
}

/**
 * The cluster a finding is about, as exactly-once keys, storm budgets and digests count it: its ARN in an
 * organization deployment (two accounts' `prod` are two clusters), its name alone in a single-account one, so
 * that keys written before findings named accounts stay valid (cluster-placement.ts's clusterIdentity).
 */
export function clusterKeyOf(finding: Finding): string {
  return clusterIdentity(finding, finding.cluster) ?? "unknown";
}
