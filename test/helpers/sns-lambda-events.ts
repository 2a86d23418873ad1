import type { SNSEvent } from "aws-lambda";
import type { TopicMessage } from "../../functions/adapters/aws/sns-message.ts";
import type { SnsPublishedMessage } from "../peers/sns-server.ts";

const TOPIC = "arn:aws:sns:eu-west-1:111122223333:ephemeral-guard-test-alerts";

/** The SNS → Lambda event for messages built by the real topic message model (body + attributes). */
export function snsEvent(messages: readonly TopicMessage[]): SNSEvent {
  return {
    Records: messages.map((message, index) => ({
      EventSource: "aws:sns",
      EventVersion: "1.0",
      EventSubscriptionArn: `${TOPIC}:0b8f`,
      Sns: {
        Type: "Notification",
        MessageId: `00000000-0000-4000-8000-${String(index).padStart(12, "0")}`,
        TopicArn: TOPIC,
        Subject: "",
        Message: message.body,
        Timestamp: "2026-11-20T09:34:00.000Z",
        SignatureVersion: "1",
        Signature: "EXAMPLE",
        SigningCertUrl: "https://sns.eu-west-1.amazonaws.com/cert.pem",
        UnsubscribeUrl: "https://sns.eu-west-1.amazonaws.com/unsubscribe",
        MessageAttributes: Object.fromEntries(
          Object.entries(message.attributes).map(([name, value]) => [
            name,
            { Type: value.DataType, Value: value.StringValue },
          ]),
        ),
      },
    })),
  };
}

/** What the SNS peer accepted, as topic messages: SNS hands subscribers the body and attributes it was given. */
export function asTopicMessages(published: readonly SnsPublishedMessage[]): TopicMessage[] {
  return published.map((message) => ({
    id: message.messageId,
    body: message.message,
    attributes: Object.fromEntries(
      Object.entries(message.messageAttributes).map(([name, attribute]) => [
        name,
        { DataType: attribute.dataType === "Number" ? "Number" : "String", StringValue: attribute.value },
      ]),
    ),
  }));
}
