import * as z from "zod";

/**
 * `audit.k8s.io/v1` Event, as far as the detector reads it. Objects are loose (unknown fields pass through)
 * and everything not needed to select an event is optional, so that a newer API server or a trimmed policy
 * does not make a real write disappear. Bodies stay `unknown` here: `extract-write-facts.ts` reads them
 * with narrower schemas of its own.
 */
const stringArray = z.array(z.string());

export const UserInfoSchema = z.looseObject({
  username: z.string().default(""),
  uid: z.string().optional(),
  groups: stringArray.optional(),
  extra: z.record(z.string(), stringArray).optional(),
});
export type UserInfo = z.infer<typeof UserInfoSchema>;

export const ObjectRefSchema = z.looseObject({
  resource: z.string().optional(),
  namespace: z.string().optional(),
  name: z.string().optional(),
  uid: z.string().optional(),
  apiGroup: z.string().optional(),
  apiVersion: z.string().optional(),
  resourceVersion: z.string().optional(),
  subresource: z.string().optional(),
});

export const ResponseStatusSchema = z.looseObject({
  code: z.number().int().optional(),
  status: z.string().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
});

export const AuditStageSchema = z.enum(["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"]);

export const AuditEventSchema = z.looseObject({
  kind: z.literal("Event").optional(),
  apiVersion: z.string().optional(),
  level: z.string().optional(),
  auditID: z.string().min(1),
  stage: AuditStageSchema,
  requestURI: z.string().optional(),
  verb: z.string(),
  user: UserInfoSchema,
  impersonatedUser: UserInfoSchema.optional(),
  sourceIPs: stringArray.optional(),
  userAgent: z.string().optional(),
  objectRef: ObjectRefSchema.optional(),
  responseStatus: ResponseStatusSchema.optional(),
  requestObject: z.unknown().optional(),
  responseObject: z.unknown().optional(),
  requestReceivedTimestamp: z.string().optional(),
  stageTimestamp: z.string().optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;
