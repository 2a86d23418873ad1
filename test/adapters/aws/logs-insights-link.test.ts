import { describe, expect, it } from "vitest";
import {
  jsurlString,
  logsInsightsQuery,
  logsInsightsUrl,
} from "../../../functions/adapters/aws/logs-insights-link.ts";

const AUDIT_ID = "1d3f5b7a-9c2e-4d6a-8b0c-7e9a1c3e5f64";
const base = {
  region: "eu-west-1",
  logGroup: "/aws/eks/prod-eu/cluster",
  auditID: AUDIT_ID,
  time: "2026-11-20T09:33:47.621276Z",
};

/** Reverses the console's encoding: `$` → `%` in the fragment, then JSURL `*hh`/`**hhhh`/`!` in strings. */
function decodeJsurlString(encoded: string): string {
  return encoded
    .replace(/\*\*([0-9a-f]{4})|\*([0-9a-f]{2})/g, (_, four: string | undefined, two: string | undefined) =>
      String.fromCharCode(Number.parseInt(four ?? two ?? "0", 16)),
    )
    .replace(/!/g, "$");
}

function queryDetail(url: string): string {
  const fragment = new URL(url).hash;
  const prefix = "#logsV2:logs-insights";
  expect(fragment.startsWith(prefix)).toBe(true);
  const decoded = decodeURIComponent(fragment.slice(prefix.length).replace(/\$/g, "%"));
  expect(decoded.startsWith("?queryDetail=~(")).toBe(true);
  return decoded.slice("?queryDetail=".length);
}

describe("logsInsightsUrl", () => {
  it("builds the console's queryDetail fragment exactly as the console writes it", () => {
    expect(logsInsightsUrl(base)).toBe(
      "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:logs-insights" +
        "$3FqueryDetail$3D~(end~'2026-11-20T10*3a33*3a47.000Z~start~'2026-11-20T08*3a33*3a47.000Z" +
        "~timeType~'ABSOLUTE~tz~'UTC" +
        "~editorString~'fields*20*40timestamp*2c*20*40message*20*7c*20filter*20auditID*20*3d*20*22" +
        `${AUDIT_ID}*22~source~(~'*2faws*2feks*2fprod-eu*2fcluster))`,
    );
  });

  it("round-trips: the decoded fragment holds the query and the log group", () => {
    const detail = queryDetail(logsInsightsUrl(base) ?? "");
    const editor = /~editorString~'([^~]*)~/.exec(detail)?.[1] ?? "";
    const source = /~source~\(~'([^)]*)\)/.exec(detail)?.[1] ?? "";
    expect(decodeJsurlString(editor)).toBe(`fields @timestamp, @message | filter auditID = "${AUDIT_ID}"`);
    expect(decodeJsurlString(editor)).toBe(logsInsightsQuery(AUDIT_ID));
    expect(decodeJsurlString(source)).toBe("/aws/eks/prod-eu/cluster");
  });

  it("is a URL with no characters that would break a Slack link", () => {
    const url = logsInsightsUrl(base) ?? "";
    expect(url).not.toMatch(/[<>|&\s"]/);
  });

  it("uses the partition's console host", () => {
    expect(logsInsightsUrl({ ...base, region: "cn-north-1" })).toMatch(
      /^https:\/\/cn-north-1\.console\.amazonaws\.cn\/cloudwatch\/home\?region=cn-north-1#/,
    );
    expect(logsInsightsUrl({ ...base, region: "us-gov-west-1" })).toMatch(
      /^https:\/\/us-gov-west-1\.console\.amazonaws-us-gov\.com\//,
    );
  });

  it("falls back to a relative week when the event time is unreadable", () => {
    expect(logsInsightsUrl({ ...base, time: "yesterday" })).toContain(
      "~(end~0~start~-604800~timeType~'RELATIVE~unit~'seconds~editorString~",
    );
  });

  it("gives no link rather than a wrong or unsafe one", () => {
    expect(logsInsightsUrl({ ...base, region: undefined })).toBeUndefined();
    expect(logsInsightsUrl({ ...base, logGroup: undefined })).toBeUndefined();
    expect(
      logsInsightsUrl({ ...base, auditID: 'x" or auditID like /./ | display @message' }),
    ).toBeUndefined();
    expect(logsInsightsUrl({ ...base, region: "eu-west-1.evil.example/x" })).toBeUndefined();
  });
});

describe("jsurlString", () => {
  it("encodes like the console: lower-case hex, `$` as `!`, wide characters as four digits", () => {
    expect(jsurlString("a_b.c-d")).toBe("'a_b.c-d");
    expect(jsurlString("/ :$")).toBe("'*2f*20*3a!");
    expect(jsurlString("é✓")).toBe("'*e9**2713");
  });
});
