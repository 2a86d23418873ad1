import type { SNSClient } from "@aws-sdk/client-sns";
import type { Finding } from "../../core/finding.ts";
import {
  emptyPublishOnceResult,
  type IdempotencyStore,
  publishFindingsOnce,
} from "../aws/publish-findings-once.ts";
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
      // The body as it would be published, verbatim: already JSON, and bounded like the message.
      write(
        `{"localMode":"not published","attributes":${JSON.stringify(message.attributes)},"body":${message.body}}`,
      );
    }
    return emptyPublishOnceResult();
  };
}
