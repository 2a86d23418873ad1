import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeDocument } from "../../functions/core/decode-input.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { Detector } from "../../functions/core/detector.ts";
import type { Finding } from "../../functions/core/finding.ts";
import {
  budgetKey,
  clusterIdentity,
  type Placement,
  partitionOf,
  placeCluster,
} from "../../functions/core/remediation/cluster-placement.ts";
import { checkFinding } from "../../functions/core/remediation/guard-rails.ts";
import { remediationPolicy } from "../../functions/core/remediation/policy.ts";

/** Which account and region remediate acts in for a finding, and the rules that hold it back. */

const path = "events/audit/privileged-sysadmin-profile.json";
const [critical] = new Detector(detectionConfig({ cluster: "prod" })).ingest(
  decodeDocument(JSON.parse(readFileSync(path, "utf8")), path),
);
if (!critical) throw new Error("no finding");

const HOME = { account: "111122223333", region: "us-east-1" };
const MEMBER = { account: "444455556666", region: "eu-west-1" };
const MEMBER_ARN = "arn:aws:eks:eu-west-1:444455556666:cluster/prod";

const CASES: {
  name: string;
  finding: Partial<Finding>;
  home?: typeof HOME | { region: string };
  expected: Placement;
}[] = [
  { name: "no account: home, as in one account", finding: {}, expected: { kind: "home" } },
  { name: "the home account and region", finding: { ...HOME }, expected: { kind: "home" } },
  {
    name: "a member account and region",
    finding: { ...MEMBER },
    expected: { kind: "remote", ...MEMBER, partition: "aws", arn: MEMBER_ARN },
  },
  {
    name: "a member named by its cluster ARN alone",
    finding: { clusterArn: MEMBER_ARN },
    expected: { kind: "remote", ...MEMBER, partition: "aws", arn: MEMBER_ARN },
  },
  {
    name: "the home account in another region: through that region's member role",
    finding: { account: HOME.account, region: "eu-west-1" },
    expected: {
      kind: "remote",
      account: HOME.account,
      region: "eu-west-1",
      partition: "aws",
      arn: "arn:aws:eks:eu-west-1:111122223333:cluster/prod",
    },
  },
  {
    name: "an ARN naming another account than the account field (a forged or garbled finding)",
    finding: { ...MEMBER, clusterArn: "arn:aws:eks:eu-west-1:999988887777:cluster/prod" },
    expected: {
      kind: "inconsistent",
      detail: "its account is 444455556666 but its clusterArn names 999988887777",
    },
  },
  {
    name: "an ARN naming another cluster",
    finding: { ...MEMBER, clusterArn: "arn:aws:eks:eu-west-1:444455556666:cluster/payments" },
    expected: { kind: "inconsistent", detail: "its cluster is prod but its clusterArn names payments" },
  },
  {
    name: "another region but no account to assume a role in",
    finding: { region: "eu-west-1" },
    expected: { kind: "inconsistent", detail: "it names region eu-west-1 but no account" },
  },
  {
    name: "an account, when the function does not know its own: home, as before",
    finding: { ...MEMBER, region: HOME.region },
    home: { region: HOME.region },
    expected: { kind: "home" },
  },
  {
    name: "a China region: the aws-cn partition",
    finding: { account: MEMBER.account, region: "cn-north-1" },
    expected: {
      kind: "remote",
      account: MEMBER.account,
      region: "cn-north-1",
      partition: "aws-cn",
      arn: "arn:aws-cn:eks:cn-north-1:444455556666:cluster/prod",
    },
  },
];

describe("cluster placement", () => {
  it.each(CASES)("$name", ({ finding, home, expected }) => {
    expect(placeCluster({ ...critical, ...finding }, "prod", home ?? HOME)).toEqual(expected);
  });

  it("partitions by region prefix", () => {
    expect([partitionOf("us-gov-west-1"), partitionOf("cn-northwest-1"), partitionOf("ap-south-2")]).toEqual([
      "aws-us-gov",
      "aws-cn",
      "aws",
    ]);
  });

  it("two accounts' clusters of one name never share a deletion budget or an exactly-once key", () => {
    const member = placeCluster({ ...critical, ...MEMBER }, "prod", HOME);
    expect(budgetKey("prod", member)).toBe(MEMBER_ARN);
    expect(budgetKey("prod", { kind: "home" })).toBe("prod");
    expect(clusterIdentity({ ...critical, ...MEMBER }, "prod")).toBe("444455556666:eu-west-1:prod");
    expect(clusterIdentity({ ...critical, clusterArn: MEMBER_ARN }, "prod")).toBe(MEMBER_ARN);
    expect(clusterIdentity(critical, "prod")).toBe("prod");
  });
});

describe("guard-rails for other accounts", () => {
  const policy = remediationPolicy({ mode: "enforce", clusters: ["central-*"] });
  const remote = placeCluster({ ...critical, ...MEMBER }, "prod", HOME);

  it("skips a member's finding when remediate cannot reach members, rather than acting at home", () => {
    const verdict = checkFinding({
      finding: critical,
      cluster: "prod",
      policy,
      placement: remote,
      reachesMembers: false,
    });
    expect(verdict).toMatchObject({ action: "skip", reason: "account-not-configured" });
  });

  it("does not apply the home cluster list to a member's cluster", () => {
    expect(
      checkFinding({ finding: critical, cluster: "prod", policy, placement: remote, reachesMembers: true }),
    ).toEqual({ action: "proceed" });
    expect(
      checkFinding({ finding: critical, cluster: "prod", policy, placement: { kind: "home" } }),
    ).toMatchObject({
      reason: "cluster-not-configured",
    });
  });

  it("never acts on a finding that contradicts itself about its cluster", () => {
    const placement = placeCluster(
      { ...critical, ...MEMBER, clusterArn: "arn:aws:eks:eu-west-1:999988887777:cluster/prod" },
      "prod",
      HOME,
    );
    expect(
      checkFinding({
        finding: critical,
        cluster: "prod",
        policy: remediationPolicy({ mode: "enforce" }),
        placement,
        reachesMembers: true,
      }),
    ).toMatchObject({ action: "skip", reason: "unknown-cluster" });
  });
});
