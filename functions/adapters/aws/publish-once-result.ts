/**
 * What publishing findings exactly once reports, in a module of its own so that callers that only read
 * results (detect-invocation, the sinks) do not load the AWS SDK with the publisher.
 */

/**
 * The auditIDs of the findings, by what became of them. Identifiers rather than findings, so that an
 * invocation that publishes in slices (detect-invocation.ts) can add them up without keeping the findings.
 */
export interface PublishOnceResult {
  /** Published by this call. */
  published: string[];
  /** Already published earlier (COMPLETED record): not published again. */
  duplicates: string[];
  /** Published, but the COMPLETED record could not be written: a redelivery after the deadline repeats it. */
  unrecorded: string[];
  /** Published in a shorter form than built, to fit one message (finding-json.ts); its `omitted` says so. */
  shortened: string[];
}

export function emptyPublishOnceResult(): PublishOnceResult {
  return { published: [], duplicates: [], unrecorded: [], shortened: [] };
}

export interface PublishOnceFailure {
  auditID: string;
  /**
   * message: the SNS message could not be made; claim: the idempotency record could not be taken (or another
   * invocation holds it); publish: SNS did not take it; deadline: not attempted, too little time was left.
   */
  stage: "message" | "claim" | "publish" | "deadline";
  reason: string;
  /** A claim that found another invocation's live record: contention, not a failing table. */
  elsewhere?: true;
}

/** Some findings were not published; the invocation must fail so that Lambda (or replay) retries it. */
export class PublishOnceError extends Error {
  constructor(
    readonly failures: PublishOnceFailure[],
    readonly result: PublishOnceResult,
    options?: { cause?: unknown },
  ) {
    const stages = (stage: PublishOnceFailure["stage"]) => failures.filter((f) => f.stage === stage).length;
    super(
      `${failures.length} finding(s) not published (claim: ${stages("claim")}, publish: ${stages("publish")}, ` +
        `message: ${stages("message")}, deadline: ${stages("deadline")}); ` +
        `${result.published.length} published, ${result.duplicates.length} already published`,
      options,
    );
    this.name = "PublishOnceError";
  }
}
