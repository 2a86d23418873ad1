import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Finding, FindingSchema } from "../../functions/core/finding.ts";
import { findingJson, MIN_FINDING_JSON_BYTES } from "../../functions/core/finding-json.ts";
import { FINDING_LIMITS } from "../../functions/core/finding-limits.ts";
import { SEVERITIES } from "../../functions/core/severity.ts";
import { detectFile, onlyFinding } from "../helpers/events.ts";

/**
 * A finding that does not fit one SNS message is refused on every retry, so the alert is never delivered:
 * findingJson makes every finding fit its budget, whatever its strings hold, and never throws.
 */

const SNS_BUDGET = 240 * 1024;

/** Any UTF-16 unit: controls, lone surrogates, U+FFFE/U+FFFF, the characters a hostile audit event can hold. */
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));

/**
 * Text of any length up to `maxLength` (uniformly, so that long ones are common: fast-check's own strings stay
 * short inside nested records), made of a short random pattern of any units repeated.
 */
const anyText = (maxLength: number) =>
  fc
    .tuple(fc.string({ unit: anyUnit, minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: maxLength }))
    .map(([pattern, length]) => pattern.repeat(Math.ceil(length / pattern.length)).slice(0, length));

const containerArb = fc.record({
  name: anyText(300),
  image: anyText(600),
  targetContainerName: anyText(300),
  command: fc.array(anyText(1_000), { maxLength: 20, size: "max" }),
  securityContext: fc.dictionary(anyText(20), anyText(300), { maxKeys: 20, size: "large" }),
  volumeMounts: fc.array(anyText(300), { maxLength: 20 }),
  profile: fc.constant("none" as const),
  riskyFields: fc.array(anyText(300), { maxLength: 20 }),
});

/** Findings as large as buildFinding can make them, and then some (more containers, longer strings). */
const findingArb: fc.Arbitrary<Finding> = fc.record({
  schemaVersion: fc.constant(1 as const),
  auditID: anyText(FINDING_LIMITS.name),
  cluster: anyText(300),
  time: anyText(300),
  severity: fc.constantFrom(...SEVERITIES),
  score: fc.integer({ min: 0, max: 100 }),
  outcome: fc.constantFrom("created", "forbidden", "denied", "failed"),
  verb: anyText(300),
  requestURI: anyText(2_000),
  responseMessage: anyText(2_000),
  bodyLogged: fc.boolean(),
  actor: fc.record({
    username: anyText(300),
    groups: fc.array(anyText(300), { maxLength: 30 }),
    kind: fc.constant("user" as const),
    sourceIPs: fc.array(anyText(300), { maxLength: 30 }),
    userAgent: anyText(2_000),
    arn: anyText(2_000),
  }),
  pod: fc.record({ namespace: anyText(300), name: anyText(300), uid: anyText(300) }),
  // Sizes from none to far more than buildFinding makes, so that every shrink step is taken.
  containers: fc.array(containerArb, { maxLength: 40, size: "max" }),
  reasons: fc.array(
    fc.record({
      id: fc.constantFrom("container.privileged", "write.ephemeral-container"),
      severity: fc.constantFrom(...SEVERITIES),
      effect: fc.constant("floor" as const),
      text: anyText(2_000),
    }),
    { minLength: 1, maxLength: 60, size: "large" },
  ),
});

describe("findingJson: every finding fits its message", () => {
  it("whatever a finding's strings hold, its JSON fits the budget, parses as a finding and keeps the verdict", () => {
    fc.assert(
      fc.property(
        findingArb,
        fc.integer({ min: MIN_FINDING_JSON_BYTES, max: SNS_BUDGET }),
        (finding, budget) => {
          const json = findingJson(finding, budget);
          expect(json.bytes).toBe(Buffer.byteLength(json.text));
          expect(json.bytes).toBeLessThanOrEqual(budget);
          expect(json.text).not.toMatch(/[\ufffe\uffff]/);
          const parsed = FindingSchema.parse(JSON.parse(json.text));
          expect(parsed).toEqual(FindingSchema.parse(json.finding));
          expect(parsed.auditID).toBe(finding.auditID);
          expect([parsed.severity, parsed.score, parsed.outcome]).toEqual([
            finding.severity,
            finding.score,
            finding.outcome,
          ]);
          expect(parsed.reasons[0]?.id).toBe(finding.reasons[0]?.id);
          if (json.finding !== finding)
            expect(parsed.omitted?.why.join(" ")).toMatch(/had to fit one message/);
        },
      ),
      { numRuns: 40, seed: 20_261_201 },
    );
  });

  it("a finding that fits is published as it is, with nothing omitted", () => {
    const finding = onlyFinding(detectFile("privileged-sysadmin-profile.json"));
    const json = findingJson(finding, SNS_BUDGET);
    expect(json.finding).toBe(finding);
    expect(JSON.parse(json.text)).toEqual(finding);
    expect(finding.omitted).toBeUndefined();
  });

  it("twenty containers with long commands and full securityContexts are shrunk step by step, not dropped", () => {
    const finding = onlyFinding(detectFile("privileged-sysadmin-profile.json"));
    const container = finding.containers[0];
    if (!container) throw new Error("sample has a container");
    const big: Finding = {
      ...finding,
      containers: Array.from({ length: 20 }, (_, i) => ({
        ...container,
        name: `c${i}`,
        command: Array.from({ length: 20 }, () => "\u0001".repeat(256)),
        securityContext: Object.fromEntries(
          Array.from({ length: 20 }, (_, k) => [`k${k}`, "\u0002".repeat(256)]),
        ),
      })),
    };
    expect(JSON.stringify(big).length).toBeGreaterThan(SNS_BUDGET);
    const json = findingJson(big, SNS_BUDGET);
    expect(json.bytes).toBeLessThanOrEqual(SNS_BUDGET);
    // The first step (containers without command and securityContext) was enough: all twenty are still there.
    expect(json.finding.containers).toHaveLength(20);
    expect(json.finding.containers[0]).not.toHaveProperty("command");
    expect(json.finding.omitted?.paths).toEqual(
      expect.arrayContaining(["containers[].command", "containers[].securityContext"]),
    );
  });

  it("U+FFFE and U+FFFF, which SNS refuses, are escaped and read back the same", () => {
    const finding = onlyFinding(detectFile("privileged-sysadmin-profile.json"));
    const hostile = { ...finding, actor: { ...finding.actor, username: "jane\uffff\ufffe" } };
    const json = findingJson(hostile, SNS_BUDGET);
    expect(json.text).toContain("jane\\uffff\\ufffe");
    expect((JSON.parse(json.text) as Finding).actor.username).toBe("jane\uffff\ufffe");
  });

  it("a finding JSON.stringify cannot write (a cycle) is shrunk past the cycle instead of throwing", () => {
    const finding = onlyFinding(detectFile("privileged-sysadmin-profile.json"));
    const cyclic = { ...finding, containers: finding.containers.map((c) => ({ ...c })) };
    const first = cyclic.containers[0] as unknown as Record<string, unknown>;
    first.securityContext = { self: first };
    const json = findingJson(cyclic as Finding, SNS_BUDGET);
    expect(json.finding.severity).toBe("critical");
    expect(json.finding.containers.map((c) => c.name)).toEqual(["debugger-z5h1d"]);
    expect(json.finding.containers[0]).not.toHaveProperty("securityContext");
    expect(json.finding.omitted?.paths).toContain("containers[].securityContext");
  });

  it("when no shrink step can be written (a cycle in the actor), the minimal finding still carries the alert", () => {
    const finding = onlyFinding(detectFile("privileged-sysadmin-profile.json"));
    const actor: Record<string, unknown> = { ...finding.actor };
    actor.self = actor;
    const json = findingJson({ ...finding, actor } as Finding, SNS_BUDGET);
    expect(FindingSchema.parse(JSON.parse(json.text))).toMatchObject({
      auditID: finding.auditID,
      severity: "critical",
      score: finding.score,
      actor: { username: "jane.doe" },
      pod: { namespace: finding.pod.namespace, name: finding.pod.name, uid: finding.pod.uid },
      containers: [],
      omitted: { containers: 1 },
    });
    expect(json.finding.reasons.map((r) => r.id)).toEqual(finding.reasons.slice(0, 3).map((r) => r.id));
    expect(json.finding.omitted?.paths).toEqual(
      expect.arrayContaining(["pod.owner", "pod.serviceAccountName"]),
    );
  });
});
