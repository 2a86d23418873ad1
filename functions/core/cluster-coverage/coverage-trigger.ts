import * as z from "zod";
import { CLUSTER_NAME, clusterOfLogGroup } from "./cluster-scope.ts";
import type { CoverageTrigger } from "./coverage-alert.ts";

/**
 * What one invocation of the coverage function is asked to do, read from its event:
 * - the schedule (EventBridge "Scheduled Event"), a manual invocation, or anything not recognised: check every
 *   cluster in scope (the safe default: an event this code misreads costs a full check, never a blind spot);
 * - a CloudTrail call that changes coverage ("AWS API Call via CloudTrail" from aws.eks / aws.logs, routed
 *   by the stack's EventBridge rules): check that one cluster now, naming the call in any alert it causes.
 */

const LOG_GROUP_ARN = /^arn:[a-z-]+:logs:[a-z0-9-]*:\d*:log-group:(.+?)(?::\*)?$/;

const shortText = z.string().max(2_048);

const LoggingSchema = z.looseObject({
  clusterLogging: z
    .array(
      z.looseObject({
        types: z.array(z.string().max(64)).max(16).optional(),
        enabled: z.boolean().optional(),
      }),
    )
    .max(16)
    .optional(),
});

const ClusterObjectSchema = z.looseObject({
  name: shortText.optional(),
  clusterName: shortText.optional(),
});

/** Only the fields coverage reads; CloudTrail's other fields pass through unread. */
export const CloudTrailEventSchema = z.looseObject({
  "detail-type": z.literal("AWS API Call via CloudTrail"),
  source: z.enum(["aws.eks", "aws.logs"]),
  detail: z.looseObject({
    eventSource: z.enum(["eks.amazonaws.com", "logs.amazonaws.com"]),
    eventName: z.string().min(1).max(128),
    eventTime: z.string().max(64).optional(),
    errorCode: z.string().max(2_048).optional(),
    sourceIPAddress: z.string().max(256).optional(),
    userIdentity: z
      .looseObject({
        type: z.string().max(64).optional(),
        arn: shortText.optional(),
        invokedBy: z.string().max(256).optional(),
      })
      .optional(),
    requestParameters: z
      .looseObject({
        name: shortText.optional(),
        clusterName: shortText.optional(),
        logGroupName: shortText.optional(),
        logGroupIdentifier: shortText.optional(),
        logging: LoggingSchema.optional(),
      })
      .nullable()
      .optional(),
    responseElements: z
      .looseObject({ cluster: ClusterObjectSchema.nullable().optional() })
      .nullable()
      .optional(),
  }),
});
export type CloudTrailEvent = z.infer<typeof CloudTrailEventSchema>;

const ScheduledEventSchema = z.looseObject({
  "detail-type": z.literal("Scheduled Event"),
  source: z.literal("aws.events"),
});

export type CoverageRequest =
  | { kind: "sweep"; reason: "schedule" | "not-a-coverage-event" }
  | {
      kind: "cluster";
      cluster: string;
      trigger: CoverageTrigger;
      /** The call failed (CloudTrail errorCode): nothing changed, but the cluster is checked anyway. */
      failedWith?: string;
      /** UpdateClusterConfig: what it asked for the `audit` log type, when it asked. */
      requestedAuditLogging?: boolean;
    }
  | { kind: "ignore"; reason: string };

function clusterNameOf(event: CloudTrailEvent): string | undefined {
  const { requestParameters, responseElements } = event.detail;
  if (event.source === "aws.eks") {
    return (
      requestParameters?.name ??
      requestParameters?.clusterName ??
      responseElements?.cluster?.name ??
      responseElements?.cluster?.clusterName
    );
  }
  const logGroup =
    requestParameters?.logGroupName ??
    (requestParameters?.logGroupIdentifier !== undefined
      ? (LOG_GROUP_ARN.exec(requestParameters.logGroupIdentifier)?.[1] ??
        requestParameters.logGroupIdentifier)
      : undefined);
  return logGroup === undefined ? undefined : clusterOfLogGroup(logGroup);
}

/** The last setting an UpdateClusterConfig request gives the `audit` log type, if it gives one. */
function requestedAudit(event: CloudTrailEvent): boolean | undefined {
  const entries = event.detail.requestParameters?.logging?.clusterLogging ?? [];
  let requested: boolean | undefined;
  for (const entry of entries) {
    if (entry.types?.includes("audit") && entry.enabled !== undefined) requested = entry.enabled;
  }
  return requested;
}

function triggerOf(event: CloudTrailEvent): CoverageTrigger {
  const { detail } = event;
  const identity = detail.userIdentity;
  const actor = identity?.arn ?? identity?.invokedBy ?? identity?.type;
  return {
    eventName: detail.eventName,
    ...(detail.eventTime ? { eventTime: detail.eventTime } : {}),
    ...(actor ? { actor } : {}),
    ...(detail.sourceIPAddress ? { sourceIPAddress: detail.sourceIPAddress } : {}),
  };
}

export function readCoverageRequest(event: unknown): CoverageRequest {
  if (ScheduledEventSchema.safeParse(event).success) return { kind: "sweep", reason: "schedule" };
  const parsed = CloudTrailEventSchema.safeParse(event);
  if (!parsed.success) return { kind: "sweep", reason: "not-a-coverage-event" };
  const cloudTrail = parsed.data;
  const cluster = clusterNameOf(cloudTrail);
  if (cluster === undefined) {
    return {
      kind: "ignore",
      reason: `${cloudTrail.detail.eventName} names no EKS cluster or /aws/eks/<cluster>/cluster log group`,
    };
  }
  if (!CLUSTER_NAME.test(cluster)) {
    return { kind: "ignore", reason: `${cloudTrail.detail.eventName} names an invalid cluster name` };
  }
  const requested =
    cloudTrail.detail.eventName === "UpdateClusterConfig" ? requestedAudit(cloudTrail) : undefined;
  return {
    kind: "cluster",
    cluster,
    trigger: triggerOf(cloudTrail),
    ...(cloudTrail.detail.errorCode ? { failedWith: cloudTrail.detail.errorCode } : {}),
    ...(requested !== undefined && !cloudTrail.detail.errorCode ? { requestedAuditLogging: requested } : {}),
  };
}
