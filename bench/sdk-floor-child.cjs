// The least any first answer built on the AWS SDK clients detect uses must do, as a yardstick for detect's:
// a fresh process requires @aws-sdk/client-dynamodb and @aws-sdk/client-sns from node_modules (as the Lambda
// runtime provides them), claims one key (a conditional PutItem, as an exactly-once claim does) and publishes
// one message (PublishBatch), through the same loopback peers, then prints when that was done and exits.
// No handler, no detection, no logging: what is left of detect's time over this one is detect's own.
"use strict";
const { performance } = require("node:perf_hooks");
const { DynamoDBClient, PutItemCommand } = require("@aws-sdk/client-dynamodb");
const { SNSClient, PublishBatchCommand } = require("@aws-sdk/client-sns");

async function answer() {
  const key = process.argv[2] ?? String(process.pid);
  const dynamodb = new DynamoDBClient({});
  const sns = new SNSClient({});
  await dynamodb.send(
    new PutItemCommand({
      TableName: process.env.IDEMPOTENCY_TABLE,
      Item: { id: { S: `sdk-floor-${key}` }, status: { S: "INPROGRESS" } },
      ConditionExpression: "attribute_not_exists(id)",
    }),
  );
  await sns.send(
    new PublishBatchCommand({
      TopicArn: process.env.ALERTS_TOPIC_ARN,
      PublishBatchRequestEntries: [{ Id: "0", Message: `sdk floor ${key}` }],
    }),
  );
  return { answerMs: performance.now() };
}

answer().then(
  (answered) => {
    process.stdout.write(`${JSON.stringify(answered)}\n`);
    process.exit(0);
  },
  (error) => {
    process.stdout.write(
      `${JSON.stringify({ error: error instanceof Error ? error.message : String(error) })}\n`,
    );
    process.exit(0);
  },
);
