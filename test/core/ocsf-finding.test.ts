import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type Finding, FindingSchema } from "../../functions/core/finding.ts";
import { MAX_READABLE_UID } from "../../functions/core/finding-uid.ts";
import { OCSF_SCHEMA_VERSION, toOcsfDetectionFinding } from "../../functions/core/ocsf-finding.ts";
import { PRODUCT } from "../../functions/core/product-info.ts";
import {
  detectEvent,
  detectFile,
  EVENTS_DIR,
  loadAuditJson,
  onlyFinding,
  readEventText,
} from "../helpers/events.ts";
import { loadOcsfSchema, validateOcsfEvent } from "../helpers/ocsf-validator.ts";

const schema = loadOcsfSchema(OCSF_SCHEMA_VERSION);
const validate = (event: unknown) => validateOcsfEvent(schema, "detection_finding", event);
const LAMBDA_CONTEXT = { region: "eu-west-1", accountId: "111122223333" };

/** Every finding the samples in events/ make, as the scanner reads them, plus the SNS sample's finding. */
function sampleFindings(): { source: string; finding: Finding }[] {
  const fromFiles = ["audit", "jsonl", "cloudwatch"].flatMap((folder) =>
    readdirSync(join(EVENTS_DIR, folder))
      .filter((file) => file.endsWith(".json") || file.endsWith(".jsonl"))
      .sort()
      .flatMap((file) =>
        detectFile(`${folder}/${file}`).findings.map((finding) => ({ source: `${folder}/${file}`, finding })),
      ),
  );
  const sns = JSON.parse(readEventText("sns/critical-finding-privileged-debug.json")) as {
    Records: { Sns: { Message: string } }[];
  };
  const fromSns = sns.Records.map((record) => ({
    source: "sns/critical-finding-privileged-debug.json",
    finding: FindingSchema.parse(JSON.parse(record.Sns.Message)),
  }));
  return [...fromFiles, ...fromSns];
}

function ocsf(name: string, context = {}) {
  return toOcsfDetectionFinding(onlyFinding(detectFile(name)), context);
}

function techniqueIds(event: ReturnType<typeof toOcsfDetectionFinding>): string[] {
  return event.finding_info.attacks.map((attack) => attack.sub_technique?.uid ?? attack.technique.uid);
}

describe(`OCSF ${OCSF_SCHEMA_VERSION} Detection Finding`, () => {
  const samples = sampleFindings();

  it("covers every sample that makes findings", () => {
    expect(samples.length).toBeGreaterThan(40);
    expect(new Set(samples.map((sample) => sample.finding.severity))).toEqual(
      new Set(["info", "low", "medium", "high", "critical"]),
    );
  });

  it.each(samples.map((sample, index) => [`${sample.source} #${index}`, sample.finding] as const))(
    "%s is a valid Detection Finding, for the scanner and for the Lambda",
    (_source, finding) => {
      expect(validate(toOcsfDetectionFinding(finding))).toEqual([]);
      expect(validate(toOcsfDetectionFinding(finding, LAMBDA_CONTEXT))).toEqual([]);
    },
  );

  it("says what it is: class 2004 in Findings, created, new, the schema version and the product", () => {
    const event = ocsf("privileged-sysadmin-profile");
    expect(event).toMatchObject({
      class_uid: 2004,
      category_uid: 2,
      activity_id: 1,
      type_uid: 200401,
      status_id: 1,
      metadata: {
        version: OCSF_SCHEMA_VERSION,
        product: { name: "ephemeral-guard", vendor_name: "ephemeral-guard", version: PRODUCT.version },
      },
    });
  });

  it.each([
    ["privileged-sysadmin-profile", "critical", 5, "Critical"],
    ["host-path-mount", "high", 4, "High"],
    ["kubectl-debug-general-profile", "medium", 3, "Medium"],
    ["rbac-forbidden", "low", 2, "Low"],
    ["validation-failed-422", "info", 1, "Informational"],
  ] as const)("%s: severity %s becomes severity_id %i (%s)", (name, severity, id, caption) => {
    const finding = onlyFinding(detectFile(name));
    expect(finding.severity).toBe(severity);
    const event = toOcsfDetectionFinding(finding);
    expect([event.severity_id, event.severity]).toEqual([id, caption]);
  });

  it("names the finding by cluster and auditID, the same every time, and keeps the audit event's time", () => {
    const finding = { ...onlyFinding(detectFile("run-as-root")), cluster: "prod-eu" };
    const first = toOcsfDetectionFinding(finding);
    // The auditID and when the API server received the request: a client can reuse an auditID (Audit-ID header).
    expect(first.finding_info.uid).toBe(`prod-eu/${finding.auditID}@${finding.occurrence}`);
    expect(finding.occurrence).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(first.metadata.uid).toBe(first.finding_info.uid);
    expect(first.metadata.correlation_uid).toBe(finding.auditID);
    expect(first.time).toBe(Date.parse(finding.time));
    expect(toOcsfDetectionFinding(finding)).toEqual(first);
    const otherCluster = toOcsfDetectionFinding({ ...finding, cluster: "prod-us" });
    expect(otherCluster.finding_info.uid).not.toBe(first.finding_info.uid);
  });

  it("tags every write T1609, host access T1611 and secrets or tokens T1552.007", () => {
    expect(techniqueIds(ocsf("kubectl-debug-general-profile"))).toEqual(["T1609"]);
    expect(techniqueIds(ocsf("metadata-level-no-body"))).toEqual(["T1609"]);
    // An attempt RBAC refused is tagged with what it tried: SYS_PTRACE on a target container reads its /proc.
    expect(techniqueIds(ocsf("rbac-forbidden"))).toEqual(["T1609", "T1003.007"]);
    for (const name of [
      "privileged-sysadmin-profile",
      "host-path-mount",
      "host-namespaces-pod",
      "sys-admin-capability",
    ]) {
      expect(techniqueIds(ocsf(name)), name).toEqual(["T1609", "T1611"]);
    }
    for (const name of ["secret-volume-mount", "token-volume-mount", "secret-env", "irsa-token-mount"]) {
      expect(techniqueIds(ocsf(name)), name).toEqual(["T1609", "T1552.007"]);
    }
    const [execution, credentials] = ocsf("secret-volume-mount").finding_info.attacks;
    expect(execution).toEqual({
      technique: {
        uid: "T1609",
        name: "Container Administration Command",
        src_url: "https://attack.mitre.org/techniques/T1609/",
      },
      tactic: { uid: "TA0002", name: "Execution" },
    });
    expect(credentials).toMatchObject({
      technique: { uid: "T1552", name: "Unsecured Credentials" },
      sub_technique: { uid: "T1552.007", name: "Container API" },
      tactic: { uid: "TA0006", name: "Credential Access" },
    });
  });

  it("lists the rules that fired as analytics and keeps the scoring inputs in unmapped", () => {
    const finding = onlyFinding(detectFile("privileged-sysadmin-profile"));
    const event = toOcsfDetectionFinding(finding);
    expect(event.finding_info.related_analytics.map((analytic) => analytic.uid)).toEqual([
      ...new Set(finding.reasons.map((reason) => reason.id)),
    ]);
    expect(event.finding_info.related_analytics).toContainEqual(
      expect.objectContaining({ uid: "container.privileged", type: "Rule", category: "floor" }),
    );
    expect(event.finding_info.desc).toContain("(container.privileged)");
    const [container] = finding.containers;
    expect(container?.securityContext).toMatchObject({ privileged: true });
    expect(event.unmapped).toMatchObject({
      outcome: "created",
      score: finding.score,
      reasons: finding.reasons,
      containers: [
        {
          name: container?.name,
          profile: "sysadmin",
          securityContext: container?.securityContext,
          riskyFields: expect.arrayContaining(["privileged: true"]),
        },
      ],
    });
  });

  it("maps the pod and cluster to resources, the requester to actor, the verb and response to api", () => {
    const finding = { ...onlyFinding(detectFile("pod-security-denied")), cluster: "prod-eu" };
    const event = toOcsfDetectionFinding(finding, LAMBDA_CONTEXT);
    expect(event.resources).toEqual([
      expect.objectContaining({
        type: "Kubernetes Pod",
        name: finding.pod.name,
        namespace: finding.pod.namespace,
      }),
      { type: "Kubernetes Cluster", name: "prod-eu", region: "eu-west-1" },
    ]);
    expect(event.actor.user.name).toBe(finding.actor.username);
    expect(event.actor.user.groups).toEqual(finding.actor.groups.map((name) => ({ name })));
    expect(event.api).toMatchObject({
      operation: finding.verb,
      request: { uid: finding.auditID },
      response: { code: 403 },
    });
    expect(event.cloud).toEqual({ provider: "AWS", region: "eu-west-1", account: { uid: "111122223333" } });
    expect(event.evidences?.[0]?.src_endpoint.ip).toBe(finding.actor.sourceIPs[0]);
  });

  it("a forged X-Forwarded-For cannot put text into an ip_t field: only real addresses are endpoints", () => {
    const event = loadAuditJson("run-as-root");
    event.sourceIPs = [
      "198.51.100.7, 10.0.0.1",
      "<img src=x onerror=alert(1)>",
      "203.0.113.9",
      "2001:db8::5",
    ];
    const finding = onlyFinding(detectEvent(event));
    const ocsfEvent = toOcsfDetectionFinding(finding);
    expect(validate(ocsfEvent)).toEqual([]);
    expect(ocsfEvent.evidences).toEqual([
      { uid: finding.auditID, src_endpoint: { ip: "203.0.113.9", intermediate_ips: ["2001:db8::5"] } },
    ]);
    expect(
      ocsfEvent.observables.filter((observable) => observable.type_id === 2).map((o) => o.value),
    ).toEqual(["203.0.113.9", "2001:db8::5"]);
    // Nothing is dropped: the addresses as sent stay with the finding's own fields.
    expect(ocsfEvent.unmapped.actor).toMatchObject({ sourceIPs: event.sourceIPs });
  });

  it("an audit event without usable time still gets an event time (the fallback) and keeps the original", () => {
    const finding = { ...onlyFinding(detectFile("run-as-root")), time: "not a time" };
    const event = toOcsfDetectionFinding(finding, { fallbackTime: 1_795_000_000_000 });
    expect(event.time).toBe(1_795_000_000_000);
    expect(event.metadata.original_time).toBe("not a time");
    expect(validate(event)).toEqual([]);
  });

  it("an overlong auditID in a scanned file gives a bounded, stable uid instead of a padded one", () => {
    const finding = { ...onlyFinding(detectFile("run-as-root")), auditID: "a".repeat(100_000) };
    const event = toOcsfDetectionFinding(finding);
    expect(event.finding_info.uid.length).toBeLessThanOrEqual(MAX_READABLE_UID);
    expect(toOcsfDetectionFinding(finding).finding_info.uid).toBe(event.finding_info.uid);
    expect(toOcsfDetectionFinding({ ...finding, auditID: "b".repeat(100_000) }).finding_info.uid).not.toBe(
      event.finding_info.uid,
    );
    expect(validate(event)).toEqual([]);
  });
});

describe("the OCSF validator used above can fail", () => {
  const DELETE = Symbol("delete");
  /** Sets (or deletes) the attribute at a dotted path of a copy of a valid event. */
  function mutated(path: string, value: unknown): Record<string, unknown> {
    const event = JSON.parse(JSON.stringify(ocsf("privileged-sysadmin-profile"))) as Record<string, unknown>;
    const keys = path.split(".");
    const last = keys.pop() ?? "";
    let target = event;
    for (const key of keys) target = target[key] as Record<string, unknown>;
    if (value === DELETE) delete target[last];
    else target[last] = value;
    return event;
  }

  it("accepts the unchanged event", () => {
    expect(validate(mutated("message", "unchanged"))).toEqual([]);
  });

  it.each([
    ["a missing required attribute", "finding_info.uid", DELETE, "finding_info.uid: required"],
    ["an unknown attribute", "src_endpoint", { ip: "203.0.113.9" }, "src_endpoint: not an attribute"],
    ["an unknown enum value", "severity_id", 7, "severity_id: 7 is not a value"],
    ["a sibling that disagrees", "severity", "Low", "sibling severity"],
    [
      "a profile attribute without its profile",
      "metadata.profiles",
      ["host"],
      "api: belongs to profile cloud",
    ],
    ["a wrong type", "time", "2026-11-20T09:34:00Z", "time: timestamp_t must be an integer"],
    ["a scalar where an array belongs", "finding_info.types", "x", "finding_info.types: must be an array"],
    ["text in an ip_t field", "evidences", [{ src_endpoint: { ip: "evil" } }], "is not an IP address"],
    ["a wrong type_uid", "type_uid", 200402, "type_uid"],
    ["an enum whose values were not vendored", "actor.user.type_id", 1, "not vendored"],
    [
      "an object below its at-least-one constraint",
      "finding_info.attacks",
      [{ version: "16" }],
      "needs at least one of tactic",
    ],
    ["another schema version", "metadata.version", "1.3.0", "metadata.version"],
  ] as const)("refuses %s", (_what, path, value, expected) => {
    expect(validate(mutated(path, value)).join("\n")).toContain(expected);
  });
});
