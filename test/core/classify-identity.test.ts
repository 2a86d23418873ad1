import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isKubectlUserAgent, matchesPattern } from "../../functions/core/classify-identity.ts";

/** The meaning of a `*` glob, written the obvious way, to check the in-place matcher against. */
function matchesByRegExp(value: string, pattern: string): boolean {
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("[\\s\\S]*");
  return new RegExp(`^${source}$`).test(value);
}

describe("matchesPattern", () => {
  it.each([
    ["system:node:ip-10-0-1-2.ec2.internal", "system:node:*", true],
    ["system:nodes", "system:node:*", false],
    ["system:serviceaccount:kube-system:coredns", "system:serviceaccount:kube-system:*", true],
    ["system:serviceaccount:default:coredns", "system:serviceaccount:kube-system:*", false],
    ["alice", "alice", true],
    ["alice", "alic", false],
    ["arn:aws:sts::1:assumed-role/Admin/alice", "arn:aws:sts::*:assumed-role/Admin/*", true],
    ["arn:aws:sts::1:assumed-role/Reader/alice", "arn:aws:sts::*:assumed-role/Admin/*", false],
    ["ab", "a*b*c", false],
    ["abc", "a*b*c", true],
    ["aXbYc", "a**b*c", true],
    // The prefix and suffix may not overlap: "aba" is not "ab" followed by "ba".
    ["aba", "ab*ba", false],
    ["abba", "ab*ba", true],
    ["anything", "*", true],
    ["", "*", true],
  ])("%s against %s is %s", (value, pattern, expected) => {
    expect(matchesPattern(value, pattern)).toBe(expected);
  });

  it("agrees with a regular-expression reading of the glob on arbitrary values and patterns", () => {
    const text = fc.string({ unit: fc.constantFrom("a", "b", ":", "*"), maxLength: 8 });
    fc.assert(
      fc.property(text, text, (value, pattern) => {
        const plainValue = value.replaceAll("*", "x");
        expect(matchesPattern(plainValue, pattern)).toBe(matchesByRegExp(plainValue, pattern));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("isKubectlUserAgent", () => {
  it.each([
    ["kubectl/v1.31.4 (darwin/arm64) kubernetes/67f2295", true],
    ["kubectl.exe/v1.30.2 (windows/amd64) kubernetes/abc1234", true],
    ["kubectl-debug-plugin/v0.1", false],
    ["Kubectl/v1.31.4", false],
    ["kubectl", false],
    ["client-go/v0.31.0 (linux/amd64) kubernetes/abc1234", false],
    [undefined, false],
  ])("%s is kubectl: %s", (userAgent, expected) => {
    expect(isKubectlUserAgent(userAgent)).toBe(expected);
  });
});
