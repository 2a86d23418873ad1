import { describe, expect, it } from "vitest";
import { logged, policyLevel } from "../../bench/eks-audit-policy.ts";
import { clusterModel, PATTERN_REQUESTS, paddedEphemeralWrite, REQUESTS } from "../../bench/make-events.ts";
import { RandomSource } from "../../bench/random-source.ts";
import { CUT_AT_CHARS, goJson } from "../../bench/traffic.ts";

/**
 * The bench's traffic must look like what EKS logs, or its ratios measure the wrong thing (issue 12: the old
 * bench logged reads with response bodies and kept core Events, twice the real size).
 */
describe("bench traffic follows EKS's audit policy", () => {
  const random = new RandomSource(7);
  const model = clusterModel(random);
  const level = (make: (m: typeof model, r: RandomSource) => Record<string, unknown>) =>
    policyLevel(make(model, random) as Parameters<typeof policyLevel>[0]);

  it("drops core Events and kubelets' node reads, which would double the bench's volume", () => {
    expect(level(REQUESTS.eventCreate)).toBe("None");
    expect(logged(REQUESTS.eventCreate(model, random))).toBeUndefined();
  });

  it("logs reads and kubelet status patches without the response body that inflated the old bench", () => {
    for (const make of [REQUESTS.podGet, REQUESTS.podStatusPatch, REQUESTS.nodeStatusPatch]) {
      expect(level(make)).toBe("Request");
      expect(logged(make(model, random))).not.toHaveProperty("responseObject");
    }
  });

  it("logs Secrets and leases as metadata only", () => {
    for (const make of [REQUESTS.secretGet, REQUESTS.leaseUpdate]) {
      const event = logged(make(model, random));
      expect(event?.level).toBe("Metadata");
      expect(event).not.toHaveProperty("requestObject");
    }
  });

  it("logs a kubectl debug write in full, the stored pod included", () => {
    const event = logged(PATTERN_REQUESTS.ephemeralWrite(model, random));
    expect(event?.level).toBe("RequestResponse");
    expect(event).toHaveProperty("requestObject");
    expect(event).toHaveProperty("responseObject");
  });

  it("a padded write is cut at the event size limit mid-JSON, still naming the subresource the pattern matches", () => {
    const text = goJson(paddedEphemeralWrite(model, random, CUT_AT_CHARS)).slice(0, CUT_AT_CHARS);
    expect(text).toHaveLength(CUT_AT_CHARS);
    expect(text.slice(0, 2_000)).toContain("ephemeralcontainers");
    expect(() => JSON.parse(text)).toThrow();
  });
});
