import { describe, expect, it } from "vitest";
import { SUBSCRIPTION_FILTER_PATTERN } from "../../functions/adapters/aws/subscription-filter.ts";
import { readEventText } from "../helpers/events.ts";
import { sampleAuditEvents } from "../helpers/mutate-json.ts";

/**
 * The subscription filter must pass every event on pods/ephemeralcontainers as CloudWatch Logs carries it,
 * including one cut mid-JSON by its size limit: a JSON pattern never matches invalid JSON, so a padded write
 * would never reach detect. A CloudWatch term pattern matches its term as a whole word, delimited by
 * non-alphanumeric characters, case-sensitively (shared/reference/aws-scale-and-standards.md); termMatches
 * stands in for CloudWatch here.
 */
function termMatches(term: string, message: string): boolean {
  return new RegExp(`(^|[^A-Za-z0-9])${term}([^A-Za-z0-9]|$)`).test(message);
}

const onTheSubresource = sampleAuditEvents()
  .filter(
    (event) =>
      (event as { objectRef?: { subresource?: string } }).objectRef?.subresource === "ephemeralcontainers",
  )
  .map((event) => JSON.stringify(event));

describe("the subscription filter pattern", () => {
  it("is a single term, not a JSON pattern, which no cut event could match", () => {
    expect(SUBSCRIPTION_FILTER_PATTERN).toBe("ephemeralcontainers");
  });

  it("passes every sample event on the subresource, as the one-line JSON CloudWatch carries", () => {
    expect(onTheSubresource.length).toBeGreaterThan(40);
    for (const message of onTheSubresource)
      expect(termMatches(SUBSCRIPTION_FILTER_PATTERN, message)).toBe(true);
  });

  it("passes a padded write cut mid-JSON at CloudWatch's event limit", () => {
    const cut = readEventText("jsonl/cut-privileged-write.jsonl").split("\n")[1] ?? "";
    expect(cut.length).toBe(262_118);
    expect(() => JSON.parse(cut)).toThrow();
    expect(termMatches(SUBSCRIPTION_FILTER_PATTERN, cut)).toBe(true);
  });

  it("passes every sample cut anywhere after its requestURI", () => {
    for (const message of onTheSubresource) {
      const afterURI = message.indexOf('"verb"');
      for (let cut = afterURI; cut < message.length; cut += 97) {
        expect(termMatches(SUBSCRIPTION_FILTER_PATTERN, message.slice(0, cut))).toBe(true);
      }
    }
  });

  it("does not pass ordinary traffic: leases, pod lists, the GET of the pod kubectl debug makes first", () => {
    const lines = readEventText("jsonl/mixed-cluster-traffic.jsonl").split("\n").filter(Boolean);
    const ordinary = lines.filter((line) => !line.includes('"subresource":"ephemeralcontainers"'));
    expect(ordinary.length).toBeGreaterThan(3);
    for (const line of ordinary) expect(termMatches(SUBSCRIPTION_FILTER_PATTERN, line)).toBe(false);
  });
});
