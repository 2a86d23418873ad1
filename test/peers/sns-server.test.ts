import { PublishBatchCommand, PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type SnsServer, startSnsServer } from "./sns-server.ts";

const TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts";

describe("SNS loopback peer", () => {
  let sns: SnsServer;
  let client: SNSClient;

  beforeAll(async () => {
    sns = await startSnsServer({ topics: [TOPIC] });
    client = new SNSClient({
      endpoint: sns.endpoint,
      region: "us-east-1",
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await sns.stop();
  });
  beforeEach(async () => {
    await sns.recover();
    sns.clear();
  });

  it("accepts Publish from the real SDK client and records body and attributes", async () => {
    const result = await client.send(
      new PublishCommand({
        TopicArn: TOPIC,
        Message: '{"a":"<&>"}',
        MessageAttributes: {
          severity: { DataType: "String", StringValue: "high" },
          severityRank: { DataType: "Number", StringValue: "3" },
        },
      }),
    );
    expect(result.MessageId).toBe(sns.published[0]?.messageId);
    expect(sns.published).toMatchObject([
      {
        topicArn: TOPIC,
        message: '{"a":"<&>"}',
        action: "Publish",
        messageAttributes: {
          severity: { dataType: "String", value: "high" },
          severityRank: { dataType: "Number", value: "3" },
        },
      },
    ]);
  });

  it("answers PublishBatch with Successful and injected Failed entries", async () => {
    sns.failEntries((message) => message === "two");
    const result = await client.send(
      new PublishBatchCommand({
        TopicArn: TOPIC,
        PublishBatchRequestEntries: [
          { Id: "a", Message: "one" },
          { Id: "b", Message: "two" },
        ],
      }),
    );
    expect(result.Successful?.map((entry) => entry.Id)).toEqual(["a"]);
    expect(result.Failed).toMatchObject([{ Id: "b", Code: "InternalError", SenderFault: false }]);
    expect(sns.published.map((message) => message.message)).toEqual(["one"]);
  });

  it("rejects unknown topics like SNS does", async () => {
    await expect(
      client.send(new PublishCommand({ TopicArn: `${TOPIC}-other`, Message: "x" })),
    ).rejects.toMatchObject({ name: "NotFoundException" });
  });

  it("fails on demand with 500, reset and refused connections, then recovers", async () => {
    await sns.fail({ kind: "http", status: 500 });
    await expect(client.send(new PublishCommand({ TopicArn: TOPIC, Message: "x" }))).rejects.toMatchObject({
      name: "InternalErrorException",
    });
    await sns.fail({ kind: "reset" });
    await expect(client.send(new PublishCommand({ TopicArn: TOPIC, Message: "x" }))).rejects.toThrow();
    await sns.fail({ kind: "refuse" });
    await expect(client.send(new PublishCommand({ TopicArn: TOPIC, Message: "x" }))).rejects.toThrow(
      /ECONNREFUSED/,
    );
    expect(sns.published).toEqual([]);
    await sns.recover();
    await client.send(new PublishCommand({ TopicArn: TOPIC, Message: "after" }));
    expect(sns.published.map((message) => message.message)).toEqual(["after"]);
  });

  it("fails only the next N requests when told to", async () => {
    await sns.fail({ kind: "http", status: 500 }, 1);
    await expect(client.send(new PublishCommand({ TopicArn: TOPIC, Message: "x" }))).rejects.toThrow();
    await client.send(new PublishCommand({ TopicArn: TOPIC, Message: "y" }));
    expect(sns.published.map((message) => message.message)).toEqual(["y"]);
  });

  it("refuses what SNS refuses: a message over 256 KB, a batch over 256 KB in total, characters outside XML 1.0", async () => {
    await expect(
      client.send(new PublishCommand({ TopicArn: TOPIC, Message: "x".repeat(256 * 1024 + 1) })),
    ).rejects.toMatchObject({
      name: "InvalidParameterException",
      message: expect.stringMatching(/too long/),
    });
    const half = "x".repeat(130 * 1024);
    await expect(
      client.send(
        new PublishBatchCommand({
          TopicArn: TOPIC,
          PublishBatchRequestEntries: [
            { Id: "a", Message: half },
            { Id: "b", Message: half },
          ],
        }),
      ),
    ).rejects.toMatchObject({ name: "BatchRequestTooLongException" });
    await expect(
      client.send(new PublishCommand({ TopicArn: TOPIC, Message: "not\uffffallowed" })),
    ).rejects.toMatchObject({ message: expect.stringMatching(/invalid characters/) });
    expect(sns.published).toEqual([]);
  });

  it("refuses a message with more than 10 attributes, as SNS does, and takes one with 10", async () => {
    const attributes = (count: number) =>
      Object.fromEntries(
        Array.from({ length: count }, (_, index) => [`a${index}`, { DataType: "String", StringValue: "v" }]),
      );
    await expect(
      client.send(new PublishCommand({ TopicArn: TOPIC, Message: "m", MessageAttributes: attributes(11) })),
    ).rejects.toMatchObject({ message: expect.stringMatching(/exceeds the allowed maximum \[10\]/) });
    await client.send(
      new PublishCommand({ TopicArn: TOPIC, Message: "m", MessageAttributes: attributes(10) }),
    );
    expect(sns.published).toHaveLength(1);
  });
});
