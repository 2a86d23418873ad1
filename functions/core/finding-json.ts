import { Buffer } from "node:buffer";
import type { Finding, FindingContainer } from "./finding.ts";
import { cutIdentifier, cutText, FINDING_LIMITS, Omissions, WHY } from "./finding-limits.ts";

/**
 * A finding as JSON text of at most a given number of UTF-8 bytes, whatever it holds, without ever throwing:
 * SNS refuses a message over 256 KB (attributes included) and refuses it again on every retry, so a finding
 * that does not fit would never be delivered. buildFinding already bounds what a finding copies; when even
 * that is too large (twenty containers with long commands, say), the finding is shrunk one step at a time
 * (SHRINK_STEPS) and `omitted` says what went and why. Severity, score, outcome and the first reasons are never
 * removed; the last step keeps only those, the actor and the pod, and always fits MIN_FINDING_JSON_BYTES.
 */

/**
 * The smallest budget honoured: the last shrink step fits in it whatever its strings hold, even when every
 * character needs a six-byte JSON escape (about 45 KB at worst, for a finding not made by buildFinding).
 */
export const MIN_FINDING_JSON_BYTES = 64 * 1024;

interface ShrinkStep {
  /** Containers kept (those with risky fields first), and whether they keep securityContext and command. */
  containers: number;
  containerDetail: boolean;
  reasons: number;
  /** Every string cut to this many characters, every list to this many items. */
  text: number;
  items: number;
}

/** Tried in order until one fits; the last is the minimal finding. */
const SHRINK_STEPS: readonly ShrinkStep[] = [
  { containers: 20, containerDetail: false, reasons: 40, text: 1_024, items: 20 },
  { containers: 5, containerDetail: false, reasons: 20, text: 512, items: 10 },
  { containers: 1, containerDetail: false, reasons: 5, text: 256, items: 5 },
];
const MINIMAL_TEXT = 128;
const MINIMAL_ITEMS = 3;
const MINIMAL_REASONS = 3;

export interface FindingJson {
  /** The JSON text. */
  text: string;
  /** Its length in UTF-8 bytes. */
  bytes: number;
  /** The finding the text holds: the input itself, or a shrunk copy whose `omitted` says what went. */
  finding: Finding;
}

/**
 * U+FFFE and U+FFFF are valid in JSON strings but not in SNS messages (XML 1.0 characters only), and
 * JSON.stringify leaves them as they are; escaped, they read back the same. Lone surrogates JSON.stringify
 * already escapes.
 */
function escapeNonCharacters(text: string): string {
  return text.replace(/[\ufffe\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16)}`);
}

function serialiseUnchecked(finding: Finding): FindingJson {
  const text = escapeNonCharacters(JSON.stringify(finding));
  return { text, bytes: Buffer.byteLength(text, "utf8"), finding };
}

/**
 * A finding from buildFinding is bounded in depth and size, so this does not throw on one; a finding made
 * elsewhere might (a cycle, a BigInt, a structure too deep for JSON.stringify), and then the next step is tried.
 */
function serialise(make: () => Finding): FindingJson | undefined {
  try {
    return serialiseUnchecked(make());
  } catch {
    return undefined;
  }
}

/** Every string below `value` cut to `text` characters and every list to `items`, noting each cut. */
function cutStrings(
  value: unknown,
  step: Pick<ShrinkStep, "text" | "items">,
  note: (path: string) => void,
  path: string,
): unknown {
  if (typeof value === "string") {
    if (value.length <= step.text) return value;
    note(path);
    return cutText(value, step.text);
  }
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) {
    if (value.length > step.items) note(path);
    return value.slice(0, step.items).map((item) => cutStrings(item, step, note, `${path}[]`));
  }
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    Object.defineProperty(out, key, {
      value: cutStrings(inner, step, note, path === "" ? key : `${path}.${key}`),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Containers with risky fields first (request order within each group): the ones a reader needs. */
function riskiestFirst(containers: readonly FindingContainer[], keep: number): FindingContainer[] {
  const risky = containers.filter((c) => c.riskyFields.length > 0);
  const others = containers.filter((c) => c.riskyFields.length === 0);
  return [...risky, ...others].slice(0, keep);
}

function shrink(finding: Finding, step: ShrinkStep, why: string): Finding {
  const omissions = new Omissions(finding.omitted);
  const note = (path: string) => omissions.shortened(path, why);
  const containers = riskiestFirst(finding.containers, step.containers).map((container) => {
    if (step.containerDetail) return container;
    const { securityContext, command, ...rest } = container;
    if (securityContext !== undefined) note("containers[].securityContext");
    if (command !== undefined) note("containers[].command");
    return rest;
  });
  omissions.leftOutContainers(finding.containers.length - containers.length, why);
  omissions.leftOutReasons(finding.reasons.length - step.reasons, why);
  const { omitted: _omitted, auditID, occurrence, ...rest } = finding;
  const cut = cutStrings(
    { ...rest, containers, reasons: finding.reasons.slice(0, step.reasons) },
    step,
    note,
    "",
  ) as Omit<Finding, "auditID" | "occurrence" | "omitted">;
  // The auditID and occurrence are never cut here: they are the idempotency key and how consumers find the
  // audit event (both are already bounded by buildFinding).
  const shrunk: Finding = { ...cut, auditID };
  if (occurrence !== undefined) shrunk.occurrence = occurrence;
  const omitted = omissions.result();
  if (omitted) shrunk.omitted = omitted;
  return shrunk;
}

/** What is left when nothing else fits: the alert itself, who, where, and the strongest reasons. */
function minimal(finding: Finding, why: string): Finding {
  const omissions = new Omissions(finding.omitted);
  const text = (value: string, path: string) => omissions.text(value, MINIMAL_TEXT, path, why);
  const texts = (values: readonly string[], path: string) =>
    omissions.texts(values, MINIMAL_ITEMS, MINIMAL_TEXT, path, why);
  omissions.leftOutContainers(finding.containers.length, why);
  omissions.leftOutReasons(finding.reasons.length - MINIMAL_REASONS, why);
  const dropped = [
    finding.requestURI === undefined ? undefined : "requestURI",
    finding.responseMessage === undefined ? undefined : "responseMessage",
    finding.authorizationReason === undefined ? undefined : "authorizationReason",
    finding.podSecurity === undefined ? undefined : "podSecurity",
    finding.actor.userAgent === undefined ? undefined : "actor.userAgent",
    finding.actor.arn === undefined ? undefined : "actor.arn",
    finding.actor.sessionName === undefined ? undefined : "actor.sessionName",
    finding.pod.owner === undefined ? undefined : "pod.owner",
    finding.pod.serviceAccountName === undefined ? undefined : "pod.serviceAccountName",
  ];
  for (const path of dropped) if (path !== undefined) omissions.shortened(path, why);

  const out: Finding = {
    schemaVersion: finding.schemaVersion,
    // Already at most this long in a finding from buildFinding; a finding made elsewhere is bounded here too.
    auditID: cutIdentifier(finding.auditID, FINDING_LIMITS.name),
    time: text(finding.time, "time"),
    severity: finding.severity,
    score: finding.score,
    outcome: finding.outcome,
    verb: text(finding.verb, "verb"),
    bodyLogged: finding.bodyLogged,
    actor: {
      username: text(finding.actor.username, "actor.username"),
      groups: texts(finding.actor.groups, "actor.groups"),
      kind: finding.actor.kind,
      sourceIPs: texts(finding.actor.sourceIPs, "actor.sourceIPs"),
    },
    pod: {
      namespace: text(finding.pod.namespace, "pod.namespace"),
      name: text(finding.pod.name, "pod.name"),
    },
    containers: [],
    reasons: finding.reasons.slice(0, MINIMAL_REASONS).map((reason) => ({
      id: text(reason.id, "reasons[].id"),
      severity: reason.severity,
      effect: reason.effect,
      text: text(reason.text, "reasons[].text"),
    })),
  };
  // Never cut: the exactly-once key (bounded by buildFinding), and what keeps remediation off a test alert.
  if (finding.occurrence !== undefined)
    out.occurrence = cutIdentifier(finding.occurrence, FINDING_LIMITS.name);
  if (finding.test !== undefined) out.test = finding.test;
  if (finding.techniques !== undefined) out.techniques = finding.techniques.slice(0, MINIMAL_ITEMS);
  if (finding.cluster !== undefined) out.cluster = text(finding.cluster, "cluster");
  if (finding.logGroup !== undefined) out.logGroup = text(finding.logGroup, "logGroup");
  if (finding.responseCode !== undefined) out.responseCode = finding.responseCode;
  if (finding.actor.uid !== undefined) out.actor.uid = text(finding.actor.uid, "actor.uid");
  if (finding.actor.impersonatedUser !== undefined) {
    out.actor.impersonatedUser = {
      username: text(finding.actor.impersonatedUser.username, "actor.impersonatedUser.username"),
      groups: texts(finding.actor.impersonatedUser.groups, "actor.impersonatedUser.groups"),
    };
  }
  if (finding.pod.uid !== undefined) out.pod.uid = text(finding.pod.uid, "pod.uid");
  if (finding.pod.static) out.pod.static = true;
  const omitted = omissions.result();
  if (omitted) out.omitted = omitted;
  return out;
}

/**
 * `finding` as JSON of at most `maxBytes` UTF-8 bytes (at least MIN_FINDING_JSON_BYTES): the finding itself
 * when it fits, else the first shrink step that does, else the minimal finding. Never throws.
 */
export function findingJson(finding: Finding, maxBytes: number): FindingJson {
  const budget = Math.max(maxBytes, MIN_FINDING_JSON_BYTES);
  const whole = serialise(() => finding);
  if (whole && whole.bytes <= budget) return whole;
  const why = WHY.message(budget);
  for (const step of SHRINK_STEPS) {
    const shrunk = serialise(() => shrink(finding, step, why));
    if (shrunk && shrunk.bytes <= budget) return shrunk;
  }
  // At most a few KB even when every character needs a six-byte escape; JSON.stringify cannot throw on it:
  // fresh objects of strings, numbers, booleans and short lists of them.
  return serialiseUnchecked(minimal(finding, why));
}
