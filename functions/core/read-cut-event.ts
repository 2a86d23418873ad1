import * as z from "zod";
import { type AuditEvent, parseAuditEvent } from "./audit-event-schema.ts";
import { type JsonPath, readJsonPrefix } from "./read-json-prefix.ts";
import type { CutFacts } from "./write-facts.ts";

/**
 * An audit event that arrived cut mid-JSON, read for what its readable part shows.
 *
 * CloudWatch Logs cuts a log event over its size limit, and whoever writes an ephemeral container chooses the
 * size of the request (a huge env value or annotation), so a write can be padded until its event no longer
 * parses. kube-apiserver writes an Event's fields in its Go struct's order (EVENT_FIELD_ORDER): identity,
 * target and usually the response code come before the bodies that the padding sits in, so the readable part
 * still says who wrote to which pod, and often what the container looked like before the padding.
 */

/** audit.k8s.io/v1 Event's fields in the order kube-apiserver serialises them (k8s.io/apiserver audit/v1). */
const EVENT_FIELD_ORDER = [
  "kind",
  "apiVersion",
  "level",
  "auditID",
  "stage",
  "requestURI",
  "verb",
  "user",
  "impersonatedUser",
  "sourceIPs",
  "userAgent",
  "objectRef",
  "responseStatus",
  "requestObject",
  "responseObject",
  "requestReceivedTimestamp",
  "stageTimestamp",
  "annotations",
] as const;

/** The name given to a container the event was cut inside before its name: it was one, and may be privileged. */
export const CUT_CONTAINER_NAME = "(name cut off)";

/** What the verb of an event cut before its verb is reported as. */
export const CUT_VERB = "(cut off)";

/** The URI of a write to the subresource, read when the event was cut before or inside its objectRef. */
const EPHEMERAL_CONTAINERS_URI =
  /^\/api\/v1\/namespaces\/([a-z0-9][-a-z0-9.]*)\/pods\/([a-z0-9][-a-z0-9.]*)\/(ephemeralcontainers)(?:[?#]|$)/;

/** Bounds on the place an event was cut, as quoted in a reason: its keys are the attacker's. */
const MAX_PATH_SEGMENTS = 12;
const MAX_KEY_LENGTH = 40;
const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;

export type CutEventReading =
  | { kind: "event"; event: AuditEvent; cut: CutFacts }
  | { kind: "unreadable"; message: string };

type Fields = Record<string, unknown>;

function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `requestObject.spec.ephemeralContainers[0].env[0].value`, bounded. */
export function formatPath(path: JsonPath): string {
  let text = "";
  for (const segment of path.slice(0, MAX_PATH_SEGMENTS)) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (IDENTIFIER.test(segment) && segment.length <= MAX_KEY_LENGTH)
      text += text ? `.${segment}` : segment;
    else {
      const key = segment.length > MAX_KEY_LENGTH ? `${segment.slice(0, MAX_KEY_LENGTH)}…` : segment;
      text += `[${JSON.stringify(key)}]`;
    }
  }
  return path.length > MAX_PATH_SEGMENTS ? `${text}…` : text;
}

/**
 * The event's fields that kube-apiserver writes after the point where the text broke off and that were not
 * read: unknown rather than absent (a missing userAgent there says nothing about the client).
 */
function unseenFields(event: Fields): Set<string> {
  let last = -1;
  EVENT_FIELD_ORDER.forEach((field, index) => {
    if (Object.hasOwn(event, field)) last = index;
  });
  const unseen = new Set<string>();
  EVENT_FIELD_ORDER.forEach((field, index) => {
    if (index > last || (index === last && !Object.hasOwn(event, field))) unseen.add(field);
  });
  return unseen;
}

/**
 * Names the container the text broke off inside, if it had not got to its name: an entry of an
 * `ephemeralContainers` list, or the value of a JSON Patch operation. Without a name no reader would count it,
 * and the part that was read (`privileged: true`, say) is what the padding was meant to hide.
 */
function nameCutContainer(event: Fields, path: JsonPath): void {
  const isPatchOperation = (value: unknown) => isFields(value) && typeof value.path === "string";
  let node: unknown = event;
  let parent: unknown;
  let grandparent: unknown;
  let parentKey: string | number | undefined;
  for (const segment of path) {
    const child =
      isFields(node) && typeof segment === "string"
        ? node[segment]
        : Array.isArray(node) && typeof segment === "number"
          ? node[segment]
          : undefined;
    if (child === undefined) return;
    grandparent = parent;
    parent = node;
    node = child;
    // An entry of a container list (a pod's, or a JSON Patch's whole-list value), or one operation's value.
    const listed =
      typeof segment === "number" &&
      (parentKey === "ephemeralContainers" || (parentKey === "value" && isPatchOperation(grandparent)));
    const operationValue = segment === "value" && isPatchOperation(parent);
    if ((listed || operationValue) && isFields(node) && typeof node.name !== "string") {
      node.name = CUT_CONTAINER_NAME;
    }
    parentKey = segment;
  }
}

/** objectRef as the URI says, for an event cut before its objectRef was complete; undefined for other URIs. */
function objectRefFromURI(uri: unknown, complete: boolean): Fields | undefined {
  if (typeof uri !== "string") return undefined;
  const match = EPHEMERAL_CONTAINERS_URI.exec(uri);
  if (!match) return undefined;
  // A cut URI ending right after the subresource might have gone on ("ephemeralcontainersX").
  if (!complete && match[0].endsWith("ephemeralcontainers")) return undefined;
  return { resource: "pods", namespace: match[1], name: match[2], apiVersion: "v1", subresource: match[3] };
}

/** Reads what a cut audit event shows; never throws. */
export function readCutEvent(text: string): CutEventReading {
  const prefix = readJsonPrefix(text);
  if (!isFields(prefix.value)) return { kind: "unreadable", message: "not a JSON object" };
  const event = prefix.value;
  const stoppedIn = prefix.stoppedIn;
  const openField = typeof stoppedIn[0] === "string" ? stoppedIn[0] : undefined;
  const unseen = unseenFields(event);

  nameCutContainer(event, stoppedIn);
  if (!isFields(event.objectRef) || openField === "objectRef" || unseen.has("objectRef")) {
    const fromURI =
      objectRefFromURI(event.requestURI, true) ??
      (openField === "requestURI" ? objectRefFromURI(prefix.cutString, false) : undefined);
    if (fromURI) event.objectRef = { ...fromURI, ...(isFields(event.objectRef) ? event.objectRef : {}) };
  }
  if (unseen.has("verb")) event.verb = CUT_VERB;
  if (unseen.has("user")) event.user = { username: "" };

  const parsed = parseAuditEvent(event);
  if (!parsed.success) {
    return { kind: "unreadable", message: `not an audit.k8s.io/v1 Event: ${z.prettifyError(parsed.error)}` };
  }
  const cut: CutFacts = {
    readable: prefix.readable,
    length: text.length,
    inside: formatPath(stoppedIn),
    endOfText: prefix.endOfText,
    openField,
    unseen,
    statusCut: unseen.has("responseStatus") || openField === "responseStatus",
  };
  return { kind: "event", event: parsed.data, cut };
}
