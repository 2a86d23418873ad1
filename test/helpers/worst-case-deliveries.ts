import { gzipSync } from "node:zlib";

/**
 * CloudWatch Logs subscription deliveries built the way an attacker who writes ephemeral containers would
 * shape them, each as large as a delivery can be: at most 6 MB of Lambda event (the synchronous invoke limit;
 * asynchronous is smaller) whose awslogs.data decompresses to at most 64 MiB (decode-cloudwatch.ts refuses
 * more). Repetitive JSON compresses about a thousandfold, so it is the 64 MiB that bounds them.
 */

export const LOG_GROUP = "/aws/eks/prod-eu/cluster";
/** awslogs.data decompressed, at most (DEFAULT_MAX_DECOMPRESSED_BYTES); the builders stay just under it. */
export const MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;
/** The Lambda synchronous invocation payload limit. */
export const MAX_EVENT_BYTES = 6 * 1024 * 1024;

const HEADER = JSON.stringify({
  messageType: "DATA_MESSAGE",
  owner: "111122223333",
  logGroup: LOG_GROUP,
  logStream: "kube-apiserver-audit-0123456789abcdef",
  subscriptionFilters: ["ephemeral-guard"],
}).slice(0, -1);

/** A minimal audit event of an ephemeral-container write; `body` is its requestObject when given. */
export function writeEvent(auditID: string, fields: { body?: unknown; username?: string } = {}): string {
  return JSON.stringify({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "RequestResponse",
    auditID,
    stage: "ResponseComplete",
    requestURI: "/api/v1/namespaces/shop/pods/web-0/ephemeralcontainers",
    verb: "patch",
    user: { username: fields.username ?? "mallory", groups: ["system:authenticated"] },
    sourceIPs: ["203.0.113.9"],
    userAgent: "kubectl/v1.34.2 (linux/amd64) kubernetes/8d2a4b1",
    objectRef: {
      resource: "pods",
      namespace: "shop",
      name: "web-0",
      apiVersion: "v1",
      subresource: "ephemeralcontainers",
    },
    responseStatus: { metadata: {}, code: 200 },
    ...(fields.body === undefined ? {} : { requestObject: fields.body }),
  });
}

/** A write whose strategic merge patch adds the given containers (already JSON, comma-separated). */
export function writeWithContainers(auditID: string, containersJson: string): string {
  return writeEvent(auditID, { body: { spec: { ephemeralContainers: ["@@"] } } }).replace(
    '["@@"]',
    `[${containersJson}]`,
  );
}

/**
 * Records the detector keeps as text for the whole invocation but rejects without parsing (they mention the
 * marker, so the byte screen keeps them, and are not JSON objects): the cheapest way to fill a delivery with
 * text that stays in memory.
 */
const FILLER_BYTES = 1024 * 1024;
const FILLER_EVENT = Buffer.from(
  `,{"id":"9","timestamp":1700000000000,"message":"${"x".repeat(FILLER_BYTES)} ephemeralcontainers"}`,
);

export interface Delivery {
  event: { awslogs: { data: string } };
  /** Bytes of the decompressed data message. */
  decompressedBytes: number;
  /** Bytes of the Lambda event JSON. */
  eventBytes: number;
  records: number;
}

/** Text gathered into one gzip member before it is compressed: keeps the builder's memory small. */
const MEMBER_CHARS = 1024 * 1024;

/**
 * The messages as one DATA_MESSAGE, then filler records until it is just under `fillTo` bytes decompressed (at
 * most 64 MiB; 0 adds none). Written as a series of gzip members (RFC 1952 lets them concatenate into one stream), one
 * message at a time, so that building it never holds the 64 MiB text: the heap-capped run measures detect,
 * not this builder.
 */
export function delivery(messages: Iterable<string>, fillTo = 0): Delivery {
  const members: Buffer[] = [];
  let pending = `${HEADER},"logEvents":[`;
  let bytes = 0;
  let records = 0;
  const flush = () => {
    members.push(gzipSync(pending, { level: 1 }));
    bytes += Buffer.byteLength(pending);
    pending = "";
  };
  for (const message of messages) {
    pending += `${records === 0 ? "" : ","}{"id":"${records}","timestamp":1700000000000,"message":${JSON.stringify(message)}}`;
    records++;
    if (pending.length >= MEMBER_CHARS) flush();
  }
  if (records === 0) throw new RangeError("a delivery needs at least one message");
  flush();
  // Each filler record is one gzip member, compressed once and repeated (compressing the 60-odd MiB of filler
  // took longer than detect's run on it); the last one carries the closing brackets. The decoder sizes its
  // output buffer from the last member's length field, so a megabyte last member keeps it gathering the
  // delivery in megabyte pieces rather than 64 KiB ones.
  let fillers = 0;
  const limit = Math.min(fillTo, MAX_DECOMPRESSED_BYTES);
  while (bytes + FILLER_EVENT.length * (fillers + 1) + 2 <= limit) fillers++;
  if (fillers > 0) {
    const filler = gzipSync(FILLER_EVENT, { level: 1 });
    for (let index = 0; index < fillers - 1; index++) members.push(filler);
  }
  members.push(
    gzipSync(Buffer.concat([...(fillers > 0 ? [FILLER_EVENT] : []), Buffer.from("]}")]), { level: 1 }),
  );
  bytes += FILLER_EVENT.length * fillers + 2;
  records += fillers;
  if (bytes > MAX_DECOMPRESSED_BYTES)
    throw new RangeError(`delivery of ${bytes} bytes: over 64 MiB decompressed`);
  const data = Buffer.concat(members).toString("base64");
  if (data.length > MAX_EVENT_BYTES) throw new RangeError(`delivery of ${data.length} bytes: over 6 MB`);
  return { event: { awslogs: { data } }, decompressedBytes: bytes, eventBytes: data.length + 24, records };
}

/**
 * `count` log events of one large message, each with `placeholder` (which must occur once, with no character
 * JSON escapes) replaced by its own number: for records of a megabyte, the parts before and after the number
 * are compressed once and their gzip members repeated, so a 64 MiB delivery costs one megabyte of compression.
 */
export function repeatedDelivery(message: string, placeholder: string, count: number): Delivery {
  const event = `,{"id":"1","timestamp":1700000000000,"message":${JSON.stringify(message)}}`;
  const at = event.indexOf(placeholder);
  if (at < 0 || event.indexOf(placeholder, at + 1) >= 0) throw new RangeError("placeholder must occur once");
  const head = gzipSync(event.slice(0, at), { level: 1 });
  const tail = gzipSync(event.slice(at + placeholder.length), { level: 1 });
  // One filler record first, so that every repeated event starts with a comma.
  const opening = `${HEADER},"logEvents":[{"id":"0","timestamp":0,"message":"ephemeralcontainers"}`;
  const members: Buffer[] = [gzipSync(opening)];
  let bytes = opening.length;
  for (let i = 0; i < count; i++) {
    const id = `${placeholder}-${i}`;
    members.push(head, gzipSync(id, { level: 1 }), tail);
    bytes += event.length - placeholder.length + id.length;
  }
  members.push(gzipSync("]}"));
  bytes += 2;
  if (bytes > MAX_DECOMPRESSED_BYTES)
    throw new RangeError(`delivery of ${bytes} bytes: over 64 MiB decompressed`);
  const data = Buffer.concat(members).toString("base64");
  if (data.length > MAX_EVENT_BYTES) throw new RangeError(`delivery of ${data.length} bytes: over 6 MB`);
  return {
    event: { awslogs: { data } },
    decompressedBytes: bytes,
    eventBytes: data.length + 24,
    records: count + 1,
  };
}
