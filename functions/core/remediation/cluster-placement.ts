import type { Finding } from "../finding.ts";

/**
 * Where the cluster a finding names is, seen from the remediate function: in its own account and region
 * (`home`: a single-account deployment, or a finding that names no account), in another account or region of
 * the organization (`remote`: reached through the member stack's role there), or not decidable because the
 * finding contradicts itself (its ARN names another cluster, account or region than its other fields).
 */
export type Placement =
  | { kind: "home" }
  | { kind: "remote"; account: string; region: string; partition: string; arn: string }
  | { kind: "inconsistent"; detail: string };

/** The remediate function's own account (when known) and region. */
export interface Home {
  account?: string | undefined;
  region: string;
}

const CLUSTER_ARN =
  /^arn:(aws(?:-[a-z]+)*):eks:([a-z]{2}(?:-[a-z]+)+-\d{1,2}):(\d{12}):cluster\/([0-9A-Za-z][A-Za-z0-9_-]{0,99})$/;

/** Partitions by region prefix; every other region is in `aws`. */
const PARTITIONS: readonly { prefix: string; partition: string }[] = [
  { prefix: "cn-", partition: "aws-cn" },
  { prefix: "us-gov-", partition: "aws-us-gov" },
];

export function partitionOf(region: string): string {
  return PARTITIONS.find(({ prefix }) => region.startsWith(prefix))?.partition ?? "aws";
}

export function clusterArn(partition: string, region: string, account: string, name: string): string {
  return `arn:${partition}:eks:${region}:${account}:cluster/${name}`;
}

interface Parsed {
  partition: string;
  region: string;
  account: string;
  name: string;
}

function parseArn(arn: string): Parsed | undefined {
  const match = CLUSTER_ARN.exec(arn);
  if (!match) return undefined;
  const [, partition = "", region = "", account = "", name = ""] = match;
  return { partition, region, account, name };
}

/** Each field the finding states more than once must agree with itself: the first disagreement, if any. */
function contradiction(name: string, finding: Finding, arn: Parsed | undefined): string | undefined {
  if (finding.clusterArn !== undefined && arn === undefined)
    return `its clusterArn is not an EKS cluster ARN`;
  if (arn === undefined) return undefined;
  const checks: [string, string | undefined, string][] = [
    ["cluster", name, arn.name],
    ["account", finding.account, arn.account],
    ["region", finding.region, arn.region],
  ];
  const clash = checks.find(([, stated, inArn]) => stated !== undefined && stated !== inArn);
  return clash ? `its ${clash[0]} is ${clash[1]} but its clusterArn names ${clash[2]}` : undefined;
}

/**
 * Where the cluster `name` (the finding's cluster) is. A finding that names neither an account nor a region
 * other than the function's own is `home`, as in a single-account deployment; so is every finding when the
 * function does not know its account (only outside Lambda: serverless.yml always sets it).
 */
export function placeCluster(finding: Finding, name: string, home: Home): Placement {
  const arn = finding.clusterArn === undefined ? undefined : parseArn(finding.clusterArn);
  const problem = contradiction(name, finding, arn);
  if (problem !== undefined) return { kind: "inconsistent", detail: problem };
  const account = finding.account ?? arn?.account;
  const region = finding.region ?? arn?.region ?? home.region;
  if (home.account === undefined || account === undefined) {
    return region === home.region
      ? { kind: "home" }
      : { kind: "inconsistent", detail: `it names region ${region} but no account` };
  }
  if (account === home.account && region === home.region) return { kind: "home" };
  const partition = arn?.partition ?? partitionOf(region);
  return { kind: "remote", account, region, partition, arn: clusterArn(partition, region, account, name) };
}

/**
 * What the per-cluster deletion budget counts under: the name at home (as before organizations existed), the
 * ARN elsewhere, so that two accounts' clusters of one name never share a budget.
 */
export function budgetKey(name: string, placement: Placement): string {
  return placement.kind === "remote" ? placement.arn : name;
}

/**
 * The cluster part of a finding's exactly-once key: its ARN when it has one, else account, region and name when
 * it names an account, else the name alone (a single-account finding keeps the key it always had).
 */
export function clusterIdentity(finding: Finding, name: string | undefined): string | undefined {
  if (finding.clusterArn !== undefined) return finding.clusterArn;
  if (finding.account === undefined) return name;
  return `${finding.account}:${finding.region ?? ""}:${name ?? "unknown"}`;
}
