import { describe, expect, it } from "vitest";
import { classifyOutcome } from "../../functions/core/outcome.ts";
import { detectFile, onlyFinding } from "../helpers/events.ts";

const KYVERNO_DENIAL =
  'admission webhook "validate.kyverno.svc-fail" denied the request: resource Pod/payments/ledger was blocked';

describe("outcome: what the API server did with the write", () => {
  it("a Kyverno denial logged as 400 is denied, not failed (events/audit/admission-webhook-denied-400.json)", () => {
    const finding = onlyFinding(detectFile("audit/admission-webhook-denied-400"));
    expect(finding).toMatchObject({ outcome: "denied", responseCode: 400, severity: "medium" });
    expect(finding.reasons.find((r) => r.id === "outcome.denied")?.text).toContain(
      "admission rejected the request (HTTP 400",
    );
  });

  it.each([400, 403, 409, 422, 429, 500])(
    "an admission webhook denying with HTTP %i is denied whether or not the decision was logged",
    (code) => {
      expect(classifyOutcome({ code, decision: "allow", message: KYVERNO_DENIAL })).toBe("denied");
      expect(classifyOutcome({ code, decision: undefined, message: KYVERNO_DENIAL })).toBe("denied");
    },
  );

  it("a webhook denial without explanation is still denied", () => {
    const message = 'admission webhook "deny.example.com" denied the request without explanation';
    expect(classifyOutcome({ code: 400, decision: "allow", message })).toBe("denied");
  });

  it("a webhook that could not be called is a failure, not a denial", () => {
    const message =
      'Internal error occurred: failed calling webhook "validate.kyverno.svc-fail": context deadline exceeded';
    expect(classifyOutcome({ code: 500, decision: "allow", message })).toBe("failed");
  });

  it("a denial message cannot turn a success into a refusal, nor an RBAC refusal into a denial", () => {
    expect(classifyOutcome({ code: 200, decision: "allow", message: KYVERNO_DENIAL })).toBe("created");
    expect(classifyOutcome({ code: 403, decision: "forbid", message: KYVERNO_DENIAL })).toBe("forbidden");
  });

  it("validation errors and other codes without an admission message stay failed", () => {
    expect(classifyOutcome({ code: 422, decision: "allow", message: "Pod is invalid" })).toBe("failed");
    expect(classifyOutcome({ code: 400, decision: "allow", message: "bad request" })).toBe("failed");
    expect(classifyOutcome({ code: undefined, decision: undefined })).toBe("failed");
  });

  it("Pod Security and RBAC refusals are classified as before", () => {
    const psa = 'pods "p" is forbidden: violates PodSecurity "baseline:latest": privileged';
    expect(classifyOutcome({ code: 403, decision: "allow", message: psa })).toBe("denied");
    expect(classifyOutcome({ code: 403, decision: undefined, message: psa })).toBe("denied");
    expect(classifyOutcome({ code: 403, decision: undefined, message: "cannot patch" })).toBe("forbidden");
  });
});
