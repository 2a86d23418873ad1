import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeText } from "../../functions/core/decode-input.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { type DetectionStats, Detector } from "../../functions/core/detector.ts";
import { type Finding, FindingSchema } from "../../functions/core/finding.ts";
import type { InputProblem } from "../../functions/core/log-record.ts";
import type { SkipReason } from "../../functions/core/select-write.ts";
import {
  detectEvent,
  detectFile,
  detectText,
  EVENTS_DIR,
  loadConfig,
  onlyFinding,
  readEventText,
} from "../helpers/events.ts";
import { variant } from "../helpers/sample-variants.ts";

function skippedOnly(stats: DetectionStats): Partial<Record<SkipReason, number>> {
  return Object.fromEntries(Object.entries(stats.skipped).filter(([, count]) => count > 0));
}

function allSampleFiles(): string[] {
  return ["audit", "jsonl", "cloudwatch"].flatMap((folder) =>
    readdirSync(join(EVENTS_DIR, folder))
      .filter((file) => file.endsWith(".json") || file.endsWith(".jsonl"))
      .sort()
      .map((file) => `${folder}/${file}`),
  );
}

describe("selection: what becomes a finding and why the rest is skipped", () => {
  it.each([
    ["audit/read-get-pod-ephemeralcontainers", "read-verb"],
    ["audit/delete-verb-method-not-allowed", "other-verb"],
    ["audit/request-received-stage", "earlier-stage"],
    ["audit/node-identity-excluded", "excluded-identity"],
    ["audit/kube-system-controller-excluded", "excluded-identity"],
  ] as const)("%s is skipped as %s", (file, reason) => {
    const { findings, stats } = detectFile(file);
    expect(findings).toEqual([]);
    expect(stats.records).toBe(1);
    expect(skippedOnly(stats)).toEqual({ [reason]: 1 });
  });

  it("other resources and subresources are skipped as other-resource", () => {
    for (const objectRef of [
      { resource: "pods", namespace: "shop", name: "p", apiVersion: "v1", subresource: "exec" },
      { resource: "pods", namespace: "shop", name: "p", apiVersion: "v1" },
      // A CRD that happens to be called pods/ephemeralcontainers in another API group.
      {
        resource: "pods",
        namespace: "shop",
        name: "p",
        apiGroup: "example.com",
        subresource: "ephemeralcontainers",
      },
    ]) {
      const event = variant("kubectl-debug-legacy-profile", (e) => {
        e.objectRef = objectRef;
      });
      const { findings, stats } = detectEvent(event);
      expect(findings).toEqual([]);
      expect(skippedOnly(stats)).toEqual({ "other-resource": 1 });
    }
  });

  it("raw lines that cannot be an ephemeral-container write are skipped without parsing them", () => {
    const lease = readEventText("jsonl/mixed-cluster-traffic.jsonl").split("\n")[0] ?? "";
    expect(lease).toContain('"resource":"leases"');
    const { stats } = detectText(
      `${lease}\n${lease.replace("kube-controller-manager", "x")}`,
      "leases.jsonl",
    );
    expect(skippedOnly(stats)).toEqual({ "other-resource": 2 });
  });

  describe("excluded identities", () => {
    it("by default: system:node:* and system:serviceaccount:kube-system:*, nothing else", () => {
      const config = detectionConfig();
      expect(config.excludedUsers).toEqual([]);
      expect(config.excludedGroups).toEqual([]);
      expect(detectFile("audit/node-identity-excluded").findings).toEqual([]);
      expect(detectFile("audit/kube-system-controller-excluded").findings).toEqual([]);
      // Another namespace's service account is not excluded.
      const ci = variant("kube-system-controller-excluded", (e) => {
        e.user = {
          username: "system:serviceaccount:kube-systemx:operator",
          groups: ["system:serviceaccounts"],
        };
      });
      expect(detectEvent(ci).findings).toHaveLength(1);
    });

    it("configured groups and users are excluded on top of the defaults", () => {
      const config = loadConfig("excluded-users-and-groups");
      expect(skippedOnly(detectFile("audit/kubectl-debug-legacy-profile", config).stats)).toEqual({
        "excluded-identity": 1,
      });
      const breakGlass = variant("json-patch-spec-path", (e) => {
        e.user = { username: "break-glass-admin", groups: ["system:authenticated"] };
      });
      expect(skippedOnly(detectEvent(breakGlass, config).stats)).toEqual({ "excluded-identity": 1 });
      // The defaults still apply with a configuration.
      expect(detectFile("audit/node-identity-excluded", config).findings).toEqual([]);
      // Someone outside both lists is still reported.
      expect(detectFile("audit/trusted-debugger", config).findings).toHaveLength(1);
    });

    it("an excluded identity impersonating someone who is not excluded is still reported", () => {
      const config = loadConfig("excluded-users-and-groups");
      const finding = onlyFinding(detectFile("audit/impersonation", config));
      expect(finding.actor.username).toBe("jane.doe");
      expect(finding.actor.impersonatedUser?.username).toBe("dev.alice");
    });

    it("someone impersonating a node is not hidden by the node exclusion", () => {
      const event = variant("kubectl-debug-legacy-profile", (e) => {
        e.impersonatedUser = {
          username: "system:node:ip-10-0-12-34.eu-west-1.compute.internal",
          groups: ["system:nodes", "system:authenticated"],
        };
      });
      expect(detectEvent(event).findings).toHaveLength(1);
    });
  });

  it("a write delivered twice is reported once, the second counted as duplicate", () => {
    const detector = new Detector(detectionConfig());
    const text = readEventText("audit/kubectl-debug-general-target");
    const first = detector.ingest(decodeText(text, "first"));
    const second = detector.ingest(decodeText(text, "second"));
    expect(first).toHaveLength(1);
    expect(second).toEqual([]);
    expect(detector.stats.findings).toBe(1);
    expect(skippedOnly(detector.stats)).toEqual({ duplicate: 1 });
  });

  it("a record that is JSON but not an audit event is unparseable, reported with its position", () => {
    const problems: InputProblem[] = [];
    const detector = new Detector(detectionConfig(), (problem) => problems.push(problem));
    const good = readEventText("jsonl/two-stages-same-request.jsonl").split("\n")[1] ?? "";
    const text = [
      '{"kind":"Event","objectRef":{"subresource":"ephemeralcontainers"},"verb":"patch"}',
      good,
    ].join("\n");
    const findings = detector.ingest(decodeText(text, "odd.jsonl"));
    expect(findings).toHaveLength(1);
    expect(skippedOnly(detector.stats)).toEqual({ unparseable: 1 });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ position: "odd.jsonl:1", kind: "invalid-event" });
    expect(problems[0]?.message).toContain("auditID");
    expect(detector.problems).toEqual(problems);
  });
});

describe("batches", () => {
  it("two stages of one request give one finding", () => {
    const { findings, stats } = detectFile("jsonl/two-stages-same-request.jsonl");
    expect(findings.map((f) => f.auditID)).toEqual(["3d5f7b9d-1a3c-4e5f-9a7b-3c5e7a9b1d22"]);
    expect(findings[0]?.time).toBe("2026-11-20T11:10:04.333862Z");
    expect(findings[0]?.severity).toBe("high");
    expect(skippedOnly(stats)).toEqual({ "earlier-stage": 1 });
  });

  it("one broken line costs only itself: every other finding comes out and the problem has its line", () => {
    const problems: InputProblem[] = [];
    const detector = new Detector(detectionConfig(), (problem) => problems.push(problem));
    const findings = detector.ingest(
      decodeText(readEventText("jsonl/batch-with-broken-line.jsonl"), "batch-with-broken-line.jsonl"),
    );
    expect(findings.map((f) => [f.auditID, f.severity])).toEqual([
      ["5f7b9d1f-3c5e-4a7b-8c9d-5e7a9b1d3f33", "high"],
      ["9d1f3b5d-7a9c-4e1f-8a3b-9b1d3f5b7d55", "critical"],
    ]);
    expect(problems).toEqual([
      {
        position: "batch-with-broken-line.jsonl:5",
        kind: "invalid-json",
        message: "not a JSON object (truncated or not an audit event)",
      },
    ]);
    expect(detector.stats).toMatchObject({ records: 9, findings: 2, problems: 1 });
    expect(skippedOnly(detector.stats)).toEqual({ "other-resource": 6, unparseable: 1 });
  });

  it("one delivery's counts never leak into the next delivery's detector (the zeroed stats are copies)", () => {
    const text = readEventText("jsonl/mixed-cluster-traffic.jsonl");
    const first = new Detector(detectionConfig());
    first.ingest(decodeText(text, "first.jsonl"));
    expect(first.stats.findings).toBeGreaterThan(0);
    expect(Object.values(first.stats.skipped).some((count) => count > 0)).toBe(true);
    const second = new Detector(detectionConfig());
    expect(second.stats).toEqual({
      records: 0,
      findings: 0,
      findingsBySeverity: { info: 0, low: 0, medium: 0, high: 0, critical: 0 },
      skipped: {
        "other-resource": 0,
        "read-verb": 0,
        "other-verb": 0,
        "earlier-stage": 0,
        "excluded-identity": 0,
        duplicate: 0,
        unparseable: 0,
      },
      controlMessages: 0,
      problems: 0,
    });
    // Same keys in the same order as before the copies: stats are printed and sent as metrics in this order.
    expect(Object.keys(second.stats.skipped)).toEqual(Object.keys(first.stats.skipped));
    second.ingest(decodeText(text, "second.jsonl"));
    expect(second.stats).toEqual(first.stats);
  });

  it("mixed cluster traffic: each record is a finding or counted under one skip reason", () => {
    const { findings, stats } = detectFile("jsonl/mixed-cluster-traffic.jsonl");
    expect(findings.map((f) => [f.actor.username, f.outcome, f.severity])).toEqual([
      ["jane.doe", "created", "high"],
      ["dev.alice", "forbidden", "low"],
      ["system:serviceaccount:ci:deploy-bot", "created", "high"],
    ]);
    expect(stats.records).toBe(15);
    expect(stats.findingsBySeverity).toEqual({ info: 0, low: 1, medium: 0, high: 2, critical: 0 });
    expect(skippedOnly(stats)).toEqual({
      "other-resource": 6,
      "read-verb": 1,
      "other-verb": 1,
      "earlier-stage": 1,
      "excluded-identity": 2,
      duplicate: 1,
    });
  });

  it("JSON Lines carry no log group: the configured cluster name goes into findings", () => {
    const { findings } = detectFile(
      "jsonl/two-stages-same-request.jsonl",
      loadConfig("cluster-name-for-json-lines"),
    );
    expect(findings[0]?.cluster).toBe("prod-eu1");
    expect(findings[0]?.logGroup).toBeUndefined();
  });

  it.each(allSampleFiles())("%s: every record is accounted for exactly once", (file) => {
    const { findings, stats } = detectFile(file);
    const skipped = Object.values(stats.skipped).reduce((sum, count) => sum + count, 0);
    expect(stats.records).toBe(stats.findings + skipped);
    expect(stats.findings).toBe(findings.length);
    const bySeverity = Object.values(stats.findingsBySeverity).reduce((sum, count) => sum + count, 0);
    expect(bySeverity).toBe(findings.length);
  });
});

describe("ingest and ingestTraced", () => {
  it("every sample, the cut, broken and duplicate ones too: ingest gives exactly ingestTraced's findings, stats and problems", () => {
    const files = allSampleFiles();
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) {
      const text = readEventText(file);
      const plain = new Detector(detectionConfig());
      const traced = new Detector(detectionConfig());
      // Twice each: the second delivery's records are duplicates.
      const findings = [plain.ingest(decodeText(text, file)), plain.ingest(decodeText(text, file))].flat();
      const tracedFindings = [
        traced.ingestTraced(decodeText(text, file)),
        traced.ingestTraced(decodeText(text, file)),
      ]
        .flat()
        .map((detected) => detected.finding);
      expect(findings, file).toEqual(tracedFindings);
      expect(plain.stats, file).toEqual(traced.stats);
      expect(plain.problems, file).toEqual(traced.problems);
    }
  });
});

describe("deep nesting", () => {
  it("a securityContext nested 9,000 levels deep (kube-apiserver accepts 10,000) does not throw out of detection", () => {
    let deep = "{}";
    for (let level = 0; level < 9_000; level++) deep = `{"x":${deep}}`;
    const text = JSON.stringify(JSON.parse(readEventText("audit/kubectl-debug-general-profile"))).replace(
      '"securityContext":{',
      `"securityContext":{"nest":${deep},`,
    );
    const withValue = text.replace(`"nest":${deep}`, `"nest":${deep.replace('{"x":{}}', '{"x":{"y":1}}')}`);
    // Objects all the way down stand for an absent field; one value at the bottom is a field kubectl never sends.
    for (const [variant, profile] of [
      [text, "general"],
      [withValue, "none"],
    ] as const) {
      const finding = onlyFinding(detectText(variant, "deep.jsonl"));
      expect(finding.severity).toBe("medium");
      expect(finding.containers[0]?.profile).toBe(profile);
    }
  });
});

describe("CloudWatch Logs deliveries", () => {
  it("the subscription payload with every write case gives the same findings as the single files", () => {
    const { findings, stats, problems } = detectFile("cloudwatch/subscription-all-write-cases.json");
    const singles = readdirSync(join(EVENTS_DIR, "audit"))
      .sort()
      .flatMap((file) => detectFile(`audit/${file}`).findings);
    expect(problems).toEqual([]);
    expect(findings.map((f) => f.auditID).sort()).toEqual(singles.map((f) => f.auditID).sort());
    expect(findings.length).toBeGreaterThan(35);
    for (const finding of findings) {
      expect(finding.cluster).toBe("prod-eu1");
      expect(finding.logGroup).toBe("/aws/eks/prod-eu1/cluster");
    }
    expect(stats.skipped["excluded-identity"]).toBe(2);
    expect(stats.skipped["earlier-stage"]).toBe(1);
  });

  it("a control message is counted, not read as records", () => {
    const { findings, stats, problems } = detectFile("cloudwatch/control-message.json");
    expect(findings).toEqual([]);
    expect(problems).toEqual([]);
    expect(stats).toMatchObject({ records: 0, controlMessages: 1 });
  });

  it("a broken record among good ones costs only itself", () => {
    const { findings, stats, problems } = detectFile("cloudwatch/subscription-batch-with-broken-record.json");
    expect(findings.map((f) => f.severity)).toEqual(["high", "critical"]);
    expect(problems).toEqual([
      {
        position: "cloudwatch/subscription-batch-with-broken-record.json logEvents[1]",
        kind: "invalid-json",
        message: "not a JSON object (truncated or not an audit event)",
      },
    ]);
    expect(skippedOnly(stats)).toEqual({ unparseable: 1 });
  });

  it("the decoded data message form", () => {
    const { findings } = detectFile("cloudwatch/data-message-kubectl-debug-session.json");
    expect(findings.map((f) => [f.outcome, f.severity, f.cluster])).toEqual([
      ["created", "high", "prod-eu1"],
      ["created", "low", "prod-eu1"],
      ["forbidden", "low", "prod-eu1"],
    ]);
  });

  it("filter-log-events output names no log group: the configured cluster is used", () => {
    const { findings } = detectFile(
      "cloudwatch/filter-log-events-secret-access.json",
      loadConfig("cluster-name-for-json-lines"),
    );
    expect(findings.map((f) => [f.containers[0]?.name, f.severity, f.cluster])).toEqual([
      ["debugger-z5h1d", "critical", "prod-eu1"],
      ["debugger-a4x7h", "high", "prod-eu1"],
      ["debugger-v1z6g", "high", "prod-eu1"],
    ]);
  });
});

describe("outcomes", () => {
  it("created: the container exists now", () => {
    const finding = onlyFinding(detectFile("audit/kubectl-debug-general-target"));
    expect(finding).toMatchObject({ outcome: "created", responseCode: 200, verb: "patch", bodyLogged: true });
    expect(finding.responseMessage).toBeUndefined();
    expect(finding.authorizationReason).toContain("platform-engineers-admin");
  });

  it("forbidden: RBAC said no", () => {
    const finding = onlyFinding(detectFile("audit/rbac-forbidden"));
    expect(finding).toMatchObject({ outcome: "forbidden", responseCode: 403, severity: "low" });
    expect(finding.responseMessage).toContain(
      'User "dev.alice" cannot patch resource "pods/ephemeralcontainers"',
    );
    expect(finding.podSecurity).toBeUndefined();
  });

  it("denied: Pod Security admission refused it", () => {
    const finding = onlyFinding(detectFile("audit/pod-security-denied"));
    expect(finding).toMatchObject({
      outcome: "denied",
      responseCode: 403,
      severity: "medium",
      podSecurity: { enforcePolicy: "baseline:latest" },
    });
    expect(finding.pod).toEqual({ namespace: "payments", name: "ledger-5c7b9d8f6-h2m4j" });
  });

  it("failed: validation error", () => {
    const finding = onlyFinding(detectFile("audit/validation-failed-422"));
    expect(finding).toMatchObject({ outcome: "failed", responseCode: 422, severity: "info" });
    expect(finding.responseMessage).toContain("cannot be set for an Ephemeral Container");
  });
});

describe("the finding contract", () => {
  function everyFinding(): Array<[string, Finding]> {
    return allSampleFiles().flatMap((file) =>
      detectFile(file).findings.map((finding): [string, Finding] => [`${file} ${finding.auditID}`, finding]),
    );
  }

  it.each(everyFinding())("%s validates against FindingSchema and survives JSON", (_, finding) => {
    expect(FindingSchema.safeParse(finding).success).toBe(true);
    const copy: unknown = JSON.parse(JSON.stringify(finding));
    expect(copy).toStrictEqual(finding);
    expect(FindingSchema.parse(copy)).toEqual(finding);
  });

  it("a finding tells who, where, what and why", () => {
    const finding = onlyFinding(detectFile("audit/kubectl-debug-general-target"));
    expect(finding).toMatchObject({
      schemaVersion: 1,
      auditID: "4f8b2d6e-1c3a-4b7d-9e5f-6a0c2e4b8d31",
      time: "2026-11-20T09:24:55.048460Z",
      requestURI: "/api/v1/namespaces/shop/pods/checkout-api-7d9f8b6c5d-x2kqp/ephemeralcontainers",
      actor: {
        username: "jane.doe",
        kind: "user",
        sourceIPs: ["203.0.113.24"],
        userAgent: "kubectl/v1.36.0 (darwin/arm64) kubernetes/9f1e3c7",
        sessionName: "jane.doe@example.com",
      },
      pod: {
        namespace: "shop",
        name: "checkout-api-7d9f8b6c5d-x2kqp",
        uid: "5f0c2a1e-8b7d-4c3a-9e21-6d4f8a0b9c11",
        owner: { kind: "ReplicaSet", name: "checkout-api-7d9f8b6c5d" },
        serviceAccountName: "checkout-api",
      },
      containers: [
        {
          name: "debugger-x7k2p",
          image: "busybox:1.36",
          targetContainerName: "app",
          securityContext: { capabilities: { add: ["SYS_PTRACE"] } },
          profile: "general",
          riskyFields: ["capabilities.add: SYS_PTRACE", "targetContainerName: app"],
        },
      ],
    });
  });
});
