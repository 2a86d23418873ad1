import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { EksTokenProvider, TOKEN_PREFIX } from "../../../functions/adapters/aws/eks-token.ts";

const CREDENTIALS = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "IQoJb3JpZ2luX2VjEXAMPLE/session+token=",
};
const REGION = "eu-west-1";
const CLUSTER = "prod-eu";
const SIGNING_TIME = new Date("2026-11-20T09:14:03.561Z");

function decode(token: string): URL {
  expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
  const body = token.slice(TOKEN_PREFIX.length);
  expect(body).toMatch(/^[A-Za-z0-9_-]+$/); // base64url, no padding
  return new URL(Buffer.from(body, "base64url").toString("utf8"));
}

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");
const hmac = (key: Buffer | string, text: string) => createHmac("sha256", key).update(text, "utf8").digest();

/** SigV4 query-string signing done by hand, from the AWS documentation, for the fixed inputs above. */
function expectedPresign(cluster: string, at: Date) {
  const amzDate = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${REGION}/sts/aws4_request`;
  const host = `sts.${REGION}.amazonaws.com`;
  const query: Record<string, string> = {
    Action: "GetCallerIdentity",
    Version: "2011-06-15",
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": `${CREDENTIALS.accessKeyId}/${scope}`,
    "X-Amz-Date": amzDate,
    "X-Amz-Expires": "60",
    "X-Amz-Security-Token": CREDENTIALS.sessionToken,
    "X-Amz-SignedHeaders": "host;x-k8s-aws-id",
  };
  const canonicalQuery = Object.keys(query)
    .map((name) => [rfc3986(name), rfc3986(query[name] ?? "")] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
  const canonicalRequest = [
    "GET",
    "/",
    canonicalQuery,
    `host:${host}\nx-k8s-aws-id:${cluster}\n`,
    "host;x-k8s-aws-id",
    sha256(""),
  ].join("\n");
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonicalRequest)].join("\n");
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${CREDENTIALS.secretAccessKey}`, day), REGION), "sts"),
    "aws4_request",
  );
  return { host, query, signature: createHmac("sha256", signingKey).update(stringToSign).digest("hex") };
}

function provider(clock: { now: Date }) {
  return new EksTokenProvider({ region: REGION, credentials: async () => CREDENTIALS, now: () => clock.now });
}

describe("EKS bearer token", () => {
  it("is a presigned STS GetCallerIdentity URL whose signature matches an independent SigV4 computation", async () => {
    const token = await provider({ now: SIGNING_TIME }).token(CLUSTER);
    const url = decode(token);
    const expected = expectedPresign(CLUSTER, SIGNING_TIME);

    expect(url.protocol).toBe("https:");
    expect(url.host).toBe(expected.host);
    expect(url.pathname).toBe("/");
    const { "X-Amz-Signature": signature, ...rest } = Object.fromEntries(url.searchParams);
    expect(rest).toEqual(expected.query);
    expect(signature).toBe(expected.signature);
    expect(Buffer.byteLength(token)).toBeLessThanOrEqual(4096);
  });

  it("binds the signature to the cluster name", async () => {
    const clock = { now: SIGNING_TIME };
    const tokens = provider(clock);
    const other = decode(await tokens.token("staging"));
    expect(other.searchParams.get("X-Amz-Signature")).toBe(
      expectedPresign("staging", SIGNING_TIME).signature,
    );
    expect(other.searchParams.get("X-Amz-Signature")).not.toBe(
      expectedPresign(CLUSTER, SIGNING_TIME).signature,
    );
  });

  it("is reused for 14 minutes, then renewed with a new date and signature", async () => {
    const clock = { now: SIGNING_TIME };
    const tokens = provider(clock);
    const first = await tokens.token(CLUSTER);

    clock.now = new Date(SIGNING_TIME.getTime() + 13 * 60_000 + 59_000);
    expect(await tokens.token(CLUSTER)).toBe(first);

    clock.now = new Date(SIGNING_TIME.getTime() + 14 * 60_000);
    const renewed = await tokens.token(CLUSTER);
    expect(renewed).not.toBe(first);
    const url = decode(renewed);
    expect(url.searchParams.get("X-Amz-Date")).toBe("20261120T092803Z");
    expect(url.searchParams.get("X-Amz-Signature")).toBe(expectedPresign(CLUSTER, clock.now).signature);
  });

  it("is rebuilt after invalidate() (a 401 from the API server)", async () => {
    const clock = { now: SIGNING_TIME };
    const tokens = provider(clock);
    const first = await tokens.token(CLUSTER);
    clock.now = new Date(SIGNING_TIME.getTime() + 1_000);
    tokens.invalidate(CLUSTER);
    const second = await tokens.token(CLUSTER);
    expect(second).not.toBe(first);
    expect(decode(second).searchParams.get("X-Amz-Date")).toBe("20261120T091404Z");
  });

  it("leaves out the security token for long-term credentials", async () => {
    const tokens = new EksTokenProvider({
      region: REGION,
      credentials: async () => ({ accessKeyId: "AKIDEXAMPLE", secretAccessKey: CREDENTIALS.secretAccessKey }),
      now: () => SIGNING_TIME,
    });
    expect(decode(await tokens.token(CLUSTER)).searchParams.has("X-Amz-Security-Token")).toBe(false);
  });
});
