import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SSMClient } from "@aws-sdk/client-ssm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigurationError } from "../../../functions/adapters/lambda/configuration.ts";
import { parseSlackEnvironment } from "../../../functions/adapters/lambda/notify-slack-environment.ts";
import {
  HTTPS_ONLY,
  LOOPBACK_HTTP_FOR_TESTS_ONLY,
  validateWebhookUrl,
  WebhookUrlError,
  WebhookUrlSource,
} from "../../../functions/adapters/slack/slack-webhook-url.ts";
import { type SsmServer, startSsmServer } from "../../peers/ssm-server.ts";

const SECRET_URL = "https://hooks.slack.com/services/T000/B000/SeCrEtPaRt123";
const credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "test-secret" };

let ssm: SsmServer;
beforeAll(async () => {
  ssm = await startSsmServer();
});
afterAll(async () => {
  await ssm.stop();
});

function ssmClient() {
  return new SSMClient({ endpoint: ssm.endpoint, region: "eu-west-1", credentials, maxAttempts: 1 });
}
function secretsClient() {
  return new SecretsManagerClient({
    endpoint: ssm.endpoint,
    region: "eu-west-1",
    credentials,
    maxAttempts: 1,
  });
}

describe("parseSlackEnvironment", () => {
  const table = { IDEMPOTENCY_TABLE: "eg-idempotency" };
  const idempotency = {
    tableName: "eg-idempotency",
    expiresAfterSeconds: 14 * 24 * 3600,
    keyPrefix: "ephemeral-guard.notify-slack",
  };

  it("takes exactly one of the parameter and the secret", () => {
    expect(
      parseSlackEnvironment({ ...table, SLACK_WEBHOOK_PARAMETER: "/eg/slack", AWS_REGION: "eu-west-1" }),
    ).toEqual({
      webhook: { store: "ssm", name: "/eg/slack" },
      webhookCacheSeconds: 3600,
      region: "eu-west-1",
      idempotency,
    });
    expect(
      parseSlackEnvironment({
        ...table,
        SLACK_WEBHOOK_SECRET_ID: "eg/slack",
        SLACK_WEBHOOK_CACHE_SECONDS: "60",
      }),
    ).toEqual({
      webhook: { store: "secrets-manager", secretId: "eg/slack" },
      webhookCacheSeconds: 60,
      region: undefined,
      idempotency,
    });
    expect(() => parseSlackEnvironment(table)).toThrow(ConfigurationError);
    expect(() =>
      parseSlackEnvironment({ ...table, SLACK_WEBHOOK_PARAMETER: "a", SLACK_WEBHOOK_SECRET_ID: "b" }),
    ).toThrow(/only one of/);
    expect(() => parseSlackEnvironment({ ...table, SLACK_WEBHOOK_PARAMETER: "  " })).toThrow(
      ConfigurationError,
    );
  });
});

describe("validateWebhookUrl", () => {
  it("accepts https and the JSON forms of a secret", () => {
    expect(validateWebhookUrl(SECRET_URL, "here", HTTPS_ONLY).href).toBe(SECRET_URL);
    expect(validateWebhookUrl(JSON.stringify({ webhookUrl: SECRET_URL }), "here", HTTPS_ONLY).href).toBe(
      SECRET_URL,
    );
    expect(validateWebhookUrl(JSON.stringify({ url: SECRET_URL }), "here", HTTPS_ONLY).href).toBe(SECRET_URL);
  });

  it("refuses http in production, even to loopback; the test policy allows only loopback", () => {
    expect(() => validateWebhookUrl("http://127.0.0.1:9/services/x", "here", HTTPS_ONLY)).toThrow(
      /must use https/,
    );
    expect(validateWebhookUrl("http://127.0.0.1:9/x", "here", LOOPBACK_HTTP_FOR_TESTS_ONLY).port).toBe("9");
    expect(() =>
      validateWebhookUrl("http://hooks.slack.com/services/x", "here", LOOPBACK_HTTP_FOR_TESTS_ONLY),
    ).toThrow(/must use https/);
    expect(() => validateWebhookUrl("ftp://127.0.0.1/x", "here", LOOPBACK_HTTP_FOR_TESTS_ONLY)).toThrow(
      WebhookUrlError,
    );
  });

  it("never puts the URL in its errors", () => {
    for (const bad of [
      "http://hooks.slack.com/services/T000/B000/SeCrEtPaRt123",
      "not a url SeCrEtPaRt123",
      "",
    ]) {
      try {
        validateWebhookUrl(bad, "SSM parameter /eg/slack", HTTPS_ONLY);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(WebhookUrlError);
        expect(String((error as Error).message)).not.toContain("SeCrEtPaRt123");
        expect((error as Error).message).toContain("SSM parameter /eg/slack");
      }
    }
  });
});

describe("WebhookUrlSource", () => {
  it("reads an SSM SecureString with decryption, once, then from its cache", async () => {
    ssm.setParameter("/eg/slack-once", { value: SECRET_URL, type: "SecureString" });
    const source = new WebhookUrlSource({
      location: { store: "ssm", name: "/eg/slack-once" },
      cacheSeconds: 3600,
      ssmClient: ssmClient(),
    });
    const before = ssm.calls.length;
    expect((await source.get()).href).toBe(SECRET_URL);
    expect((await source.get()).href).toBe(SECRET_URL);
    const calls = ssm.calls.slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({
      target: "AmazonSSM.GetParameter",
      body: { Name: "/eg/slack-once", WithDecryption: true },
      signed: true,
    });
  });

  it("reads again after invalidate (the webhook was rotated)", async () => {
    ssm.setParameter("/eg/slack-rotated", { value: SECRET_URL });
    const source = new WebhookUrlSource({
      location: { store: "ssm", name: "/eg/slack-rotated" },
      cacheSeconds: 3600,
      ssmClient: ssmClient(),
    });
    await source.get();
    const rotated = "https://hooks.slack.com/services/T000/B000/RoTaTeD";
    ssm.setParameter("/eg/slack-rotated", { value: rotated });
    expect((await source.get()).href).toBe(SECRET_URL);
    source.invalidate();
    expect((await source.get()).href).toBe(rotated);
    expect((await source.get()).href).toBe(rotated);
    expect(ssm.calls.filter((call) => call.body.Name === "/eg/slack-rotated")).toHaveLength(2);
  });

  it("reads a Secrets Manager secret", async () => {
    ssm.setSecret("eg/slack", JSON.stringify({ webhookUrl: SECRET_URL }));
    const source = new WebhookUrlSource({
      location: { store: "secrets-manager", secretId: "eg/slack" },
      cacheSeconds: 3600,
      secretsClient: secretsClient(),
    });
    expect((await source.get()).href).toBe(SECRET_URL);
    expect(ssm.calls.at(-1)).toMatchObject({
      target: "secretsmanager.GetSecretValue",
      body: { SecretId: "eg/slack" },
    });
  });

  it("names the store and the AWS error when the parameter cannot be read", async () => {
    const source = new WebhookUrlSource({
      location: { store: "ssm", name: "/eg/missing" },
      cacheSeconds: 3600,
      ssmClient: ssmClient(),
    });
    await expect(source.get()).rejects.toThrow(/not found.*SSM parameter \/eg\/missing/);
  });

  it("rejects a plain-http URL stored in production mode without revealing it", async () => {
    ssm.setParameter("/eg/slack-http", { value: "http://hooks.slack.com/services/T000/B000/SeCrEtPaRt123" });
    const source = new WebhookUrlSource({
      location: { store: "ssm", name: "/eg/slack-http" },
      cacheSeconds: 3600,
      ssmClient: ssmClient(),
    });
    const error = await source.get().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(WebhookUrlError);
    expect((error as Error).message).toMatch(/must use https/);
    expect((error as Error).message).not.toContain("SeCrEtPaRt123");
  });
});
