import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCoverageRequest } from "../../functions/core/cluster-coverage/coverage-trigger.ts";
import { EVENTS_DIR, readEventText } from "../helpers/events.ts";

function sample(name: string): Record<string, unknown> {
  return JSON.parse(readEventText(`cloudtrail/${name}`)) as Record<string, unknown>;
}

function detailOf(event: Record<string, unknown>): Record<string, unknown> {
  return event.detail as Record<string, unknown>;
}

const MALLORY = "arn:aws:sts::111122223333:assumed-role/eks-admin/mallory";

describe("what a coverage run is asked to check", () => {
  it("has one sample per CloudTrail call the stack routes to coverage, each naming the cluster prod-eu", () => {
    const files = readdirSync(join(EVENTS_DIR, "cloudtrail")).sort();
    expect(files).toEqual([
      "create-cluster-with-audit-logging.json",
      "delete-cluster.json",
      "delete-log-group-of-cluster.json",
      "delete-subscription-filter-of-detect.json",
      "put-subscription-filter-redirecting-detect.json",
      "update-cluster-config-audit-logging-off.json",
    ]);
    for (const file of files) {
      expect(readCoverageRequest(sample(file)), file).toMatchObject({ kind: "cluster", cluster: "prod-eu" });
    }
  });

  it("names the caller, the call, its time and source address for the alert", () => {
    expect(readCoverageRequest(sample("delete-subscription-filter-of-detect"))).toEqual({
      kind: "cluster",
      cluster: "prod-eu",
      trigger: {
        eventName: "DeleteSubscriptionFilter",
        eventTime: "2026-11-20T10:07:19Z",
        actor: MALLORY,
        sourceIPAddress: "203.0.113.45",
      },
    });
  });

  it("reads what UpdateClusterConfig asks for the audit log type, so the switch-off is seen before it completes", () => {
    expect(readCoverageRequest(sample("update-cluster-config-audit-logging-off"))).toMatchObject({
      requestedAuditLogging: false,
    });
    const on = sample("update-cluster-config-audit-logging-off");
    (detailOf(on).requestParameters as Record<string, unknown>).logging = {
      clusterLogging: [{ types: ["api", "audit"], enabled: true }],
    };
    expect(readCoverageRequest(on)).toMatchObject({ requestedAuditLogging: true });
    const otherTypes = sample("update-cluster-config-audit-logging-off");
    (detailOf(otherTypes).requestParameters as Record<string, unknown>).logging = {
      clusterLogging: [{ types: ["scheduler"], enabled: false }],
    };
    expect(readCoverageRequest(otherTypes)).not.toHaveProperty("requestedAuditLogging");
  });

  it("takes nothing from a call that failed: it changed nothing", () => {
    const denied = sample("update-cluster-config-audit-logging-off");
    detailOf(denied).errorCode = "AccessDeniedException";
    const request = readCoverageRequest(denied);
    expect(request).toMatchObject({ kind: "cluster", failedWith: "AccessDeniedException" });
    expect(request).not.toHaveProperty("requestedAuditLogging");
  });

  it("finds the cluster in either shape EKS has logged CreateCluster with (name, clusterName, the response)", () => {
    const old = sample("create-cluster-with-audit-logging");
    const parameters = detailOf(old).requestParameters as Record<string, unknown>;
    parameters.clusterName = parameters.name;
    delete parameters.name;
    expect(readCoverageRequest(old)).toMatchObject({ cluster: "prod-eu" });
    delete parameters.clusterName;
    expect(readCoverageRequest(old)).toMatchObject({ cluster: "prod-eu" });
  });

  it("ignores log groups that are not an EKS cluster's and names that are not cluster names", () => {
    const lambda = sample("delete-log-group-of-cluster");
    (detailOf(lambda).requestParameters as Record<string, unknown>).logGroupName = "/aws/lambda/x";
    expect(readCoverageRequest(lambda)).toMatchObject({ kind: "ignore" });
    const forged = sample("delete-cluster");
    (detailOf(forged).requestParameters as Record<string, unknown>).name = "prod-eu/../x";
    detailOf(forged).responseElements = null;
    expect(readCoverageRequest(forged)).toMatchObject({ kind: "ignore" });
  });

  it("checks every cluster on the schedule, and on anything it does not recognise rather than nothing", () => {
    expect(
      readCoverageRequest({ "detail-type": "Scheduled Event", source: "aws.events", detail: {} }),
    ).toEqual({ kind: "sweep", reason: "schedule" });
    for (const other of [{}, null, "x", { "detail-type": "AWS API Call via CloudTrail", source: "aws.s3" }]) {
      expect(readCoverageRequest(other)).toEqual({ kind: "sweep", reason: "not-a-coverage-event" });
    }
    const oversized = sample("delete-cluster");
    detailOf(oversized).eventName = "x".repeat(10_000);
    expect(readCoverageRequest(oversized)).toEqual({ kind: "sweep", reason: "not-a-coverage-event" });
  });
});
