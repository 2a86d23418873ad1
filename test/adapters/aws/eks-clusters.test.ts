import { EKSClient, type LogType } from "@aws-sdk/client-eks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  auditLoggingEnabled,
  EksClusterError,
  EksClusters,
} from "../../../functions/adapters/aws/eks-clusters.ts";
import { TEST_CREDENTIALS } from "../../peers/dynalite.ts";
import { type EksServer, startEksServer } from "../../peers/eks-server.ts";

let eks: EksServer;
let clusters: EksClusters;

beforeAll(async () => {
  // Two names per ListClusters page, so that a region of five clusters takes three pages.
  eks = await startEksServer({ region: "eu-west-1", listPageSize: 2 });
  clusters = new EksClusters(
    new EKSClient({
      endpoint: eks.endpoint,
      region: "eu-west-1",
      credentials: TEST_CREDENTIALS,
      maxAttempts: 1,
    }),
  );
});

afterAll(async () => {
  await eks.stop();
});

describe("EKS clusters for coverage", () => {
  it("lists every cluster of the region, every page, so a cluster on page three is not left unwatched", async () => {
    for (const name of ["a", "b", "c", "d", "e"]) eks.putCluster({ name });
    expect((await clusters.list()).sort()).toEqual(["a", "b", "c", "d", "e"]);
    expect(eks.requests.filter((request) => request.path === "/clusters")).toHaveLength(3);
  });

  it("says NOT_FOUND for a cluster EKS does not know, and throws (with the cluster) on anything else", async () => {
    expect(await clusters.describe("gone")).toEqual({
      name: "gone",
      status: "NOT_FOUND",
      auditLogging: false,
    });
    const broken = new EksClusters(
      new EKSClient({
        endpoint: "http://127.0.0.1:9",
        region: "eu-west-1",
        credentials: TEST_CREDENTIALS,
        maxAttempts: 1,
      }),
    );
    const error = await broken.describe("a").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EksClusterError);
    expect(error).toMatchObject({ operation: "DescribeCluster", cluster: "a" });
  });

  it("reads status, audit logging and creation time from DescribeCluster", async () => {
    eks.putCluster({
      name: "prod-eu",
      status: "UPDATING",
      logTypes: ["api"],
      createdAt: new Date("2026-10-01T00:00:00Z"),
    });
    expect(await clusters.describe("prod-eu")).toEqual({
      name: "prod-eu",
      status: "UPDATING",
      auditLogging: false,
      createdAt: Date.parse("2026-10-01T00:00:00Z"),
    });
  });

  it("counts audit logging as on only when enabled and not also disabled", () => {
    const logging = (...entries: { types: LogType[]; enabled: boolean }[]) => ({
      logging: { clusterLogging: entries },
    });
    expect(auditLoggingEnabled(logging({ types: ["api", "audit"], enabled: true }))).toBe(true);
    expect(
      auditLoggingEnabled(logging({ types: ["api"], enabled: true }, { types: ["audit"], enabled: false })),
    ).toBe(false);
    expect(
      auditLoggingEnabled(logging({ types: ["audit"], enabled: true }, { types: ["audit"], enabled: false })),
    ).toBe(false);
    expect(auditLoggingEnabled(undefined)).toBe(false);
  });
});
