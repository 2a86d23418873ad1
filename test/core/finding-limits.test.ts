import { describe, expect, it } from "vitest";
import { MAX_FINDING_MESSAGE_BYTES } from "../../functions/adapters/aws/sns-message.ts";
import { type Finding, FindingSchema } from "../../functions/core/finding.ts";
import { findingJson } from "../../functions/core/finding-json.ts";
import { FINDING_LIMITS } from "../../functions/core/finding-limits.ts";
import { MAX_LISTED_HITS_PER_RULE } from "../../functions/core/rule-hits.ts";
import { detectEvent, detectText, onlyFinding } from "../helpers/events.ts";
import { type SampleContainer, variant, withContainer } from "../helpers/sample-variants.ts";

/**
 * Amplification: whoever writes ephemeral containers decides how many there are and how long every string
 * is. The finding is scored over all of it, then copies only a bounded part and says what it left out.
 */

const SAMPLE = "privileged-sysadmin-profile";

/** The sample's patch with `containers` instead of its own (its stored pod is dropped: it names the old one). */
function withContainers(containers: readonly SampleContainer[]): Finding {
  return onlyFinding(
    detectEvent(
      variant(SAMPLE, (event) => {
        event.requestObject = { spec: { ephemeralContainers: containers } };
        delete event.responseObject;
      }),
    ),
  );
}

function harmless(index: number): SampleContainer {
  return { name: `debugger-${index}`, image: "busybox:1.36" };
}

function privileged(index: number): SampleContainer {
  return {
    name: `root-${index}`,
    image: "busybox:1.36",
    securityContext: { privileged: true, runAsUser: 0 },
  };
}

function bodyBytes(finding: Finding): number {
  return findingJson(finding, MAX_FINDING_MESSAGE_BYTES).bytes;
}

/** Every string anywhere in a value. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const item of value) strings(item, out);
  else if (typeof value === "object" && value !== null)
    for (const item of Object.values(value)) strings(item, out);
  return out;
}

describe("amplification: many containers", () => {
  it("a ~40 KB patch of 400 privileged containers: critical, 20 listed, the rest counted, under 240 KB", () => {
    const containers = Array.from({ length: 400 }, (_, i) => privileged(i));
    expect(JSON.stringify(containers).length).toBeGreaterThan(30_000);
    const finding = withContainers(containers);

    expect(finding.severity).toBe("critical");
    expect(finding.containers).toHaveLength(FINDING_LIMITS.containers);
    expect(finding.omitted?.containers).toBe(400 - FINDING_LIMITS.containers);
    const privilegedReasons = finding.reasons.filter((r) => r.id === "container.privileged");
    expect(privilegedReasons).toHaveLength(MAX_LISTED_HITS_PER_RULE + 1);
    expect(privilegedReasons.at(-1)?.text).toContain("and 390 more containers the same way");
    // privileged and run-as-root each list 10 and count 390; container.debug-profile lists 10 and counts 390.
    expect(finding.omitted?.reasons).toBe(3 * 390);
    expect(finding.omitted?.why.join(" ")).toMatch(/more added containers than a finding lists/);
    expect(bodyBytes(finding)).toBeLessThan(60 * 1024);
    expect(FindingSchema.parse(finding)).toEqual(finding);
  });

  it("a privileged container hidden behind 5,000 harmless ones is scored critical and is one of those listed", () => {
    const containers = [...Array.from({ length: 5_000 }, (_, i) => harmless(i)), privileged(5_000)];
    const finding = withContainers(containers);

    expect(finding.severity).toBe("critical");
    expect(finding.containers.map((c) => c.name)).toContain("root-5000");
    expect(finding.containers.find((c) => c.name === "root-5000")?.riskyFields).toEqual([
      "privileged: true",
      "runAsUser: 0",
    ]);
    expect(finding.reasons[0]?.text).toContain('container "root-5000" sets securityContext.privileged');
    expect(finding.omitted?.containers).toBe(5_001 - FINDING_LIMITS.containers);
    // The write reason names the first containers and counts the others instead of naming 5,001.
    const write = finding.reasons.find((r) => r.id === "write.ephemeral-container");
    expect(write?.text).toContain("and 4,991 more");
    expect(write?.text.length).toBeLessThan(400);
  });

  it("100,000 containers: the level is decided over all of them, and the finding stays a few KB", () => {
    const containers = Array.from({ length: 100_000 }, (_, i) =>
      i === 99_999
        ? { name: "last", securityContext: { capabilities: { add: ["SYS_ADMIN"] } } }
        : harmless(i),
    );
    const finding = withContainers(containers);

    expect(finding.severity).toBe("high");
    expect(finding.reasons[0]?.id).toBe("container.node-level-capability");
    expect(finding.containers.map((c) => c.name)).toContain("last");
    expect(finding.omitted?.containers).toBe(100_000 - FINDING_LIMITS.containers);
    expect(finding.reasons.length).toBeLessThanOrEqual(FINDING_LIMITS.reasons);
    expect(bodyBytes(finding)).toBeLessThan(20 * 1024);
  });
});

describe("amplification: long strings", () => {
  const huge = (c: string) => c.repeat(1024 * 1024);

  it("every string the audit event supplies is cut to its bound, and omitted names the fields", () => {
    const event = withContainer(SAMPLE, (container) => {
      container.name = huge("n");
      container.image = huge("i");
      container.command = Array.from({ length: 10_000 }, () => "c".repeat(2_000));
      container.targetContainerName = huge("t");
      container.volumeMounts = Array.from({ length: 1_000 }, (_, i) => ({ name: `v${i}`, mountPath: "/x" }));
    });
    event.user.username = huge("u");
    event.user.groups = Array.from({ length: 5_000 }, (_, i) => `group-${i}-${"g".repeat(500)}`);
    event.userAgent = huge("a");
    event.sourceIPs = Array.from({ length: 1_000 }, () => "203.0.113.9");
    event.requestURI = `/api/v1/namespaces/shop/pods/x/ephemeralcontainers?${huge("q")}`;
    event.annotations = {
      ...event.annotations,
      "pod-security.kubernetes.io/audit-violations": huge("p"),
      "authorization.k8s.io/reason": huge("r"),
    };
    event.responseStatus = { code: 200, message: huge("m") };

    const finding = onlyFinding(detectEvent(event));
    expect(finding.severity).toBe("critical");
    for (const text of strings(finding)) expect(text.length).toBeLessThanOrEqual(FINDING_LIMITS.text);
    expect(finding.actor.groups).toHaveLength(FINDING_LIMITS.items);
    expect(finding.containers[0]?.command).toHaveLength(FINDING_LIMITS.items);
    expect(finding.actor.username.endsWith("…")).toBe(true);
    expect(finding.omitted?.paths).toEqual(
      expect.arrayContaining([
        "actor.username",
        "actor.userAgent",
        "actor.groups",
        "containers[].name",
        "containers[].image",
        "containers[].command",
        "requestURI",
        "responseMessage",
        "authorizationReason",
        "podSecurity.auditViolations",
        "reasons[].text",
      ]),
    );
    expect(bodyBytes(finding)).toBeLessThanOrEqual(MAX_FINDING_MESSAGE_BYTES);
  });

  it("an Audit-ID header of a megabyte: the auditID is cut, and two such IDs sharing a prefix stay distinct", () => {
    const ids = [`${huge("a")}1`, `${huge("a")}2`];
    const findings = ids.map((auditID) =>
      onlyFinding(detectEvent(variant(SAMPLE, (event) => Object.assign(event, { auditID })))),
    );
    for (const finding of findings) expect(finding.auditID.length).toBeLessThanOrEqual(FINDING_LIMITS.name);
    expect(findings[0]?.auditID).not.toBe(findings[1]?.auditID);
    expect(findings[0]?.omitted?.paths).toContain("auditID");
  });
});

describe("deep nesting", () => {
  /** JSON nested `depth` levels, as text: JSON.stringify itself cannot write it. */
  function nested(depth: number): string {
    return `${'{"x":'.repeat(depth)}{}${"}".repeat(depth)}`;
  }

  it("a securityContext nested 10,000 levels (the API server's limit): scored, copied 4 levels deep, serialised", () => {
    const text = JSON.stringify(withContainer(SAMPLE, () => undefined)).replace(
      '"securityContext":{"privileged":true}',
      `"securityContext":{"privileged":true,"seLinuxOptions":${nested(10_000)}}`,
    );
    const finding = onlyFinding(detectText(text, "deep.json"));
    expect(finding.severity).toBe("critical");
    const copy = JSON.stringify(finding.containers[0]?.securityContext);
    // Four levels of objects, securityContext itself the first: what lies deeper is left out.
    expect(copy).toBe('{"privileged":true,"seLinuxOptions":{"x":{"x":{}}}}');
    expect(finding.omitted?.paths).toContain("containers[].securityContext");
    expect(finding.omitted?.why.join(" ")).toMatch(/deeper than 4 levels/);
    expect(findingJson(finding, MAX_FINDING_MESSAGE_BYTES).finding).toBe(finding);
  });

  it("a securityContext of 10,000 keys or list items is copied in part", () => {
    const wide = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]));
    const finding = onlyFinding(
      detectEvent(
        withContainer(SAMPLE, (container) => {
          container.securityContext = {
            privileged: true,
            ...wide,
            capabilities: { add: Array(10_000).fill("NET_RAW") },
          };
        }),
      ),
    );
    const copy = finding.containers[0]?.securityContext ?? {};
    expect(Object.keys(copy).length).toBeLessThanOrEqual(FINDING_LIMITS.items);
    expect(JSON.stringify(copy).length).toBeLessThan(4 * 1024);
  });

  it("a securityContext key __proto__ is copied as data, not as the copy's prototype", () => {
    const event = JSON.parse(
      JSON.stringify(withContainer(SAMPLE, () => undefined)).replace(
        '"securityContext":{"privileged":true}',
        '"securityContext":{"privileged":true,"__proto__":{"polluted":true}}',
      ),
    ) as unknown;
    const finding = onlyFinding(detectEvent(event));
    const copy = finding.containers[0]?.securityContext ?? {};
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.hasOwn(copy, "__proto__")).toBe(true);
    expect(JSON.stringify(copy)).toBe('{"privileged":true,"__proto__":{"polluted":true}}');
  });
});
