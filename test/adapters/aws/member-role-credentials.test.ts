import { STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TOKEN_REUSE_MS } from "../../../functions/adapters/aws/eks-token.ts";
import {
  MemberRoleCredentials,
  MemberRoleError,
  memberRoleArn,
  REFRESH_MARGIN_MS,
  SESSION_NAME,
  SESSION_SECONDS,
} from "../../../functions/adapters/aws/member-role-credentials.ts";
import { type StsServer, startStsServer } from "../../peers/sts-server.ts";

/** The member role's credentials: one AssumeRole per role and hour, never an expired session handed out. */

const CENTRAL = {
  roleArn: "arn:aws:iam::111122223333:role/remediate",
  accessKeyId: "ASIACENTRAL",
  secretAccessKey: "secret",
  sessionToken: "session",
};
const ROLE = memberRoleArn("aws", "444455556666", "ephemeral-guard-remediator", "eu-west-1");
const OTHER_ROLE = memberRoleArn("aws", "777788889999", "ephemeral-guard-remediator", "eu-west-1");
let sts: StsServer;
let clock: { now: Date };

function credentials(externalId = "ext-id") {
  const client = new STSClient({
    endpoint: sts.endpoint,
    region: "us-east-1",
    credentials: CENTRAL,
    maxAttempts: 1,
  });
  return new MemberRoleCredentials(
    client,
    { roleName: "ephemeral-guard-remediator", externalId },
    () => clock.now,
  );
}

beforeAll(async () => {
  sts = await startStsServer({ now: () => clock.now });
  sts.addPrincipal(CENTRAL);
  sts.addRole({ arn: ROLE, trusts: CENTRAL.roleArn, externalId: "ext-id" });
  sts.addRole({ arn: OTHER_ROLE, trusts: CENTRAL.roleArn, externalId: "ext-id" });
});
afterAll(() => sts.stop());
beforeEach(() => {
  clock = { now: new Date("2026-11-20T09:00:00Z") };
  sts.calls.length = 0;
});

describe("member role credentials", () => {
  it("names the member stack's regional role", () => {
    expect(ROLE).toBe("arn:aws:iam::444455556666:role/ephemeral-guard-remediator-eu-west-1");
  });

  it("renews before a token made with the credentials could outlive them", () => {
    expect(REFRESH_MARGIN_MS).toBeGreaterThan(TOKEN_REUSE_MS);
    expect(SESSION_SECONDS * 1000).toBeGreaterThan(REFRESH_MARGIN_MS);
  });

  it("asks STS once for concurrent findings, with the external id, its session name and an hour", async () => {
    const roles = credentials();
    const [a, b] = await Promise.all([roles.credentials(ROLE), roles.credentials(ROLE)]);
    expect(a).toEqual(b);
    expect(sts.calls).toEqual([
      expect.objectContaining({
        status: 200,
        params: expect.objectContaining({
          RoleArn: ROLE,
          ExternalId: "ext-id",
          RoleSessionName: SESSION_NAME,
          DurationSeconds: String(SESSION_SECONDS),
        }),
      }),
    ]);
    expect(a.expiration.getTime() - clock.now.getTime()).toBe(SESSION_SECONDS * 1000);
  });

  it("keeps each role's credentials apart", async () => {
    const roles = credentials();
    const [a, b] = await Promise.all([roles.credentials(ROLE), roles.credentials(OTHER_ROLE)]);
    expect(a.accessKeyId).not.toBe(b.accessKeyId);
    expect(sts.calls).toHaveLength(2);
  });

  it("reuses them until less than the margin is left, then assumes the role again", async () => {
    const roles = credentials();
    const first = await roles.credentials(ROLE);
    clock.now = new Date(first.expiration.getTime() - REFRESH_MARGIN_MS - 1_000);
    expect(await roles.credentials(ROLE)).toBe(first);
    clock.now = new Date(first.expiration.getTime() - REFRESH_MARGIN_MS + 1_000);
    const second = await roles.credentials(ROLE);
    expect(second.accessKeyId).not.toBe(first.accessKeyId);
    expect(sts.calls).toHaveLength(2);
  });

  it("does not cache a refusal: a wrong external id fails every time, naming the role", async () => {
    const roles = credentials("wrong");
    for (let attempt = 0; attempt < 2; attempt++) {
      const error = await roles.credentials(ROLE).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(MemberRoleError);
      expect((error as MemberRoleError).message).toContain(`STS AssumeRole ${ROLE} failed (AccessDenied)`);
    }
    expect(sts.calls.map((call) => call.status)).toEqual([403, 403]);
  });
});
