import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EksTokenProvider } from "../../functions/adapters/aws/eks-token.ts";
import { type StsServer, startStsServer } from "./sts-server.ts";

/** The STS peer itself: it refuses what STS refuses, so the cross-account tests can rely on it. */

const CENTRAL = {
  roleArn: "arn:aws:iam::111122223333:role/ephemeral-guard-prod-RemediateRole-1A2B",
  accessKeyId: "ASIACENTRAL",
  secretAccessKey: "central-secret",
  sessionToken: "central-session",
};
const MEMBER_ROLE = "arn:aws:iam::444455556666:role/ephemeral-guard-remediator-eu-west-1";
let sts: StsServer;
let clock: Date;

function client(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) {
  return new STSClient({ endpoint: sts.endpoint, region: "eu-west-1", credentials, maxAttempts: 1 });
}

beforeAll(async () => {
  clock = new Date("2026-11-20T09:30:00Z");
  sts = await startStsServer({ now: () => clock });
  sts.addPrincipal(CENTRAL);
  sts.addRole({ arn: MEMBER_ROLE, trusts: CENTRAL.roleArn, externalId: "eg-external-id" });
});
afterAll(() => sts.stop());

describe("STS peer", () => {
  it("issues credentials that expire after DurationSeconds on its clock", async () => {
    const output = await client(CENTRAL).send(
      new AssumeRoleCommand({
        RoleArn: MEMBER_ROLE,
        RoleSessionName: "session",
        ExternalId: "eg-external-id",
        DurationSeconds: 900,
      }),
    );
    expect(output.Credentials?.Expiration?.toISOString()).toBe("2026-11-20T09:45:00.000Z");
    expect(output.AssumedRoleUser?.Arn).toBe(
      "arn:aws:sts::444455556666:assumed-role/ephemeral-guard-remediator-eu-west-1/session",
    );
  });

  it("refuses a forged signature, a wrong external id and a caller the role does not trust, as STS does", async () => {
    const assume = (externalId: string) =>
      new AssumeRoleCommand({ RoleArn: MEMBER_ROLE, RoleSessionName: "s1", ExternalId: externalId });
    await expect(
      client({ ...CENTRAL, secretAccessKey: "guessed" }).send(assume("eg-external-id")),
    ).rejects.toThrow(/signature/);
    await expect(client(CENTRAL).send(assume("wrong"))).rejects.toMatchObject({ name: "AccessDenied" });
    sts.addPrincipal({
      roleArn: "arn:aws:iam::111122223333:role/other",
      accessKeyId: "AKOTHER",
      secretAccessKey: "x",
    });
    await expect(
      client({ accessKeyId: "AKOTHER", secretAccessKey: "x" }).send(assume("eg-external-id")),
    ).rejects.toMatchObject({ name: "AccessDenied" });
  });

  it("authenticates an EKS token signed with issued credentials, and refuses it for another cluster or forged", async () => {
    const output = await client(CENTRAL).send(
      new AssumeRoleCommand({ RoleArn: MEMBER_ROLE, RoleSessionName: "s2", ExternalId: "eg-external-id" }),
    );
    const credentials = {
      accessKeyId: output.Credentials?.AccessKeyId ?? "",
      secretAccessKey: output.Credentials?.SecretAccessKey ?? "",
      sessionToken: output.Credentials?.SessionToken ?? "",
    };
    const token = await new EksTokenProvider({
      region: "eu-west-1",
      credentials: async () => credentials,
      now: () => clock,
    }).token("prod");
    expect(sts.authenticate(token, "prod")).toEqual({
      ok: true,
      roleArn: MEMBER_ROLE,
      accessKeyId: credentials.accessKeyId,
    });
    expect(sts.authenticate(token, "other")).toMatchObject({ ok: false });
    const forged = await new EksTokenProvider({
      region: "eu-west-1",
      credentials: async () => ({ ...credentials, secretAccessKey: "guessed" }),
      now: () => clock,
    }).token("prod");
    expect(sts.authenticate(forged, "prod")).toMatchObject({ ok: false });
  });
});
