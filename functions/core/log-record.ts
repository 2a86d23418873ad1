import type { AwsOrigin } from "./aws-origin.ts";

/**
 * One candidate audit event as delivered, before it is parsed. `text` is kept raw so that the detector can
 * reject what cannot match with a substring test instead of a full JSON parse.
 */
export interface LogRecord {
  /** The audit event as JSON text (a CloudWatch log message or a JSON Lines line). */
  text?: string;
  /** The audit event already parsed (a pretty-printed sample file, an EventList item). */
  value?: unknown;
  /** Where it came from, for error messages: `file.jsonl:12`, `invocation logEvents[3]`. */
  position: string;
  /** `/aws/eks/<cluster>/cluster` when the transport said so. */
  logGroup?: string;
  logStream?: string;
  /**
   * When CloudWatch Logs received the event (epoch ms), when the transport said so. A cut event has lost its own
   * timestamps (they come after the bodies): its finding's time is this one.
   */
  timestamp?: number;
  /** The account (the delivery's `owner`) and region of the cluster's log group, when the transport said so. */
  origin?: AwsOrigin;
  /**
   * The Kinesis sequence number of the stream record that carried it: what a partial batch response names
   * when this record's finding could not be published.
   */
  batchItem?: string;
}

export const INPUT_PROBLEM_KINDS = [
  "invalid-json",
  "invalid-payload",
  "oversized-payload",
  "unknown-shape",
  "invalid-event",
  /**
   * An audit event cut mid-JSON whose readable part shows a write to pods/ephemeralcontainers: reported from
   * that part (as a finding unless skipped), and counted here so that cut events show among the rejects.
   */
  "cut-event",
] as const;
export type InputProblemKind = (typeof INPUT_PROBLEM_KINDS)[number];

/** A piece of input that could not be read (or, for cut-event, not whole). Never thrown: returned beside what could be read. */
export interface InputProblem {
  position: string;
  /** The Kinesis sequence number of the stream record it is about, when it came in one. */
  batchItem?: string;
  kind: InputProblemKind;
  message: string;
}

export type InputForm =
  | "cloudwatch-subscription"
  | "cloudwatch-data-message"
  | "filter-log-events"
  | "audit-event"
  | "audit-event-list"
  | "json-lines"
  | "kinesis"
  | "unknown";

export interface DecodedInput {
  form: InputForm;
  records: LogRecord[];
  problems: InputProblem[];
  /** CloudWatch reachability checks: skipped on purpose, counted. */
  controlMessages: number;
  /**
   * Stream records not read in this pass (a Kinesis batch over its decompression budget): not problems, they are
   * handed back to be read again (detect names them in its partial batch response).
   */
  deferred?: DeferredItem[];
}

export interface DeferredItem {
  /** The Kinesis sequence number. */
  batchItem: string;
  position: string;
  reason: string;
}

const EKS_LOG_GROUP = /^\/aws\/eks\/([^/]+)\/cluster$/;
/** The last log group read: a payload's events share one, and the match allocated for each (npm run bench). */
let lastLogGroup: { logGroup: string; cluster: string | undefined } | undefined;

export function clusterFromLogGroup(logGroup: string | undefined): string | undefined {
  if (!logGroup) return undefined;
  if (lastLogGroup?.logGroup !== logGroup) {
    lastLogGroup = { logGroup, cluster: EKS_LOG_GROUP.exec(logGroup)?.[1] };
  }
  return lastLogGroup.cluster;
}
