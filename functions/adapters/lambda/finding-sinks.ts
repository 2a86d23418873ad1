import type { SNSClient } from "@aws-sdk/client-sns";
import type { Finding } from "../../core/finding.ts";
import { type IdempotencyStore, publishFindingsOnce } from "../aws/publish-findings-once.ts";
import { findingMessage } from "../aws/sns-message.ts";
import type { FindingSink } from "./detect-invocation.ts";

/** The deployed sink: the alerts topic, exactly once per `<cluster>:<auditID>`. */
export function snsFindingSink(
  sns: SNSClient,
  topicArn: string,
  store: IdempotencyStore,
  remainingTimeInMillis: () => number,
): FindingSink {
  return (findings) => publishFindingsOnce(findings, { sns, topicArn, store, remainingTimeInMillis });
}

/**
 * Local mode (PUBLISH_MODE=stdout, docs/deploy.md): prints each message exactly as it would be published
 * (attributes and body) and reports nothing as published, because nothing was.
 */
export function stdoutFindingSink(write: (line: string) => void): FindingSink {
  return async (findings: readonly Finding[]) => {
    for (const finding of findings) {
      const message = findingMessage(finding);
      write(JSON.stringify({ localMode: "not published", attributes: message.attributes, body: finding }));
    }
    return { published: [], duplicates: [], unrecorded: [] };
  };
}
