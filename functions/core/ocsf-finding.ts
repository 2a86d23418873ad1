import { isIP } from "node:net";
import { techniqueUrl } from "./attack-techniques.ts";
import type { Finding } from "./finding.ts";
import { findingDescription, findingTitle } from "./finding-summary.ts";
import { findingTechniques } from "./finding-techniques.ts";
import { findingUid } from "./finding-uid.ts";
import { PRODUCT, type ProductInfo } from "./product-info.ts";
import type { Severity } from "./severity.ts";

/**
 * A finding as an OCSF Detection Finding (class 2004, category Findings), for SIEMs and data lakes that read
 * OCSF (Amazon Security Lake, Splunk, …). Pure: the same finding and context give the same event.
 *
 * The class is validated in test/core/ocsf-finding.test.ts against the schema files vendored in
 * test/fixtures/ocsf/1.7.0 (which say where they come from). Where OCSF has no place for something (the
 * container securityContext, the rules' reasons, the score) it goes in `unmapped` under the finding's own
 * field names.
 */
export const OCSF_SCHEMA_VERSION = "1.7.0";

/**
 * Profiles whose attributes the event uses: `cloud` brings `cloud` and `api`, `host` brings `actor`.
 * (Detection Finding has no `src_endpoint`: the source addresses are evidence, in `evidences[].src_endpoint`.)
 */
export const OCSF_PROFILES = ["cloud", "host"] as const;

const CLASS = { uid: 2004, name: "Detection Finding" } as const;
const CATEGORY = { uid: 2, name: "Findings" } as const;
const ACTIVITY_CREATE = { id: 1, name: "Create" } as const;
const STATUS_NEW = { id: 1, name: "New" } as const;
/** analytic.type_id 1: the finding comes from rules (functions/core/rules.ts). */
const ANALYTIC_RULE = { id: 1, name: "Rule" } as const;
/** observable.type_id values. */
const OBSERVABLE = {
  ipAddress: { id: 2, name: "IP Address" },
  userName: { id: 4, name: "User Name" },
} as const;

const SEVERITY: Record<Severity, { id: number; name: string }> = {
  info: { id: 1, name: "Informational" },
  low: { id: 2, name: "Low" },
  medium: { id: 3, name: "Medium" },
  high: { id: 4, name: "High" },
  critical: { id: 5, name: "Critical" },
};

export interface OcsfContext {
  /** The AWS region and account the finding was made in, when known (the Lambda knows; the scanner does not). */
  region?: string;
  accountId?: string;
  product?: ProductInfo;
  /** Event time (ms) to use when the finding's own time does not parse; the current time if absent. */
  fallbackTime?: number;
}

interface OcsfUser {
  name: string;
  uid?: string;
  groups?: { name: string }[];
}

interface OcsfAnalytic {
  uid: string;
  name: string;
  type_id: number;
  type: string;
  category?: string;
  desc?: string;
  version?: string;
}

interface OcsfAttack {
  technique: { uid: string; name: string; src_url: string };
  sub_technique?: { uid: string; name: string; src_url: string };
  tactic: { uid: string; name: string };
}

interface OcsfResource {
  type: string;
  name: string;
  uid?: string;
  namespace?: string;
  region?: string;
  data?: Record<string, unknown>;
}

interface OcsfObservable {
  name: string;
  type_id: number;
  type: string;
  value: string;
}

interface OcsfEvidence {
  uid: string;
  src_endpoint: { ip: string; intermediate_ips?: string[] };
}

/** The attributes this project emits; the vendored schema says what each means. */
export interface OcsfDetectionFinding {
  activity_id: number;
  activity_name: string;
  category_uid: number;
  category_name: string;
  class_uid: number;
  class_name: string;
  type_uid: number;
  type_name: string;
  time: number;
  severity_id: number;
  severity: string;
  status_id: number;
  status: string;
  message: string;
  metadata: {
    version: string;
    product: { name: string; vendor_name: string; version: string };
    profiles: string[];
    uid: string;
    correlation_uid: string;
    original_time: string;
    log_name?: string;
  };
  finding_info: {
    uid: string;
    title: string;
    desc: string;
    types: string[];
    created_time: number;
    data_sources: string[];
    analytic: OcsfAnalytic;
    related_analytics: OcsfAnalytic[];
    attacks: OcsfAttack[];
  };
  resources: OcsfResource[];
  actor: { user: OcsfUser; app_name?: string };
  api: {
    operation: string;
    request: { uid: string };
    response?: { code?: number; message?: string };
    service: { name: string };
  };
  cloud: { provider: string; region?: string; account?: { uid: string } };
  evidences?: OcsfEvidence[];
  observables: OcsfObservable[];
  unmapped: Record<string, unknown>;
}

/** ISO 8601 to epoch milliseconds; undefined when it does not parse (a truncated or odd event). */
function epochMillis(time: string): number | undefined {
  const parsed = Date.parse(time);
  return Number.isFinite(parsed) ? parsed : undefined;
}

/**
 * One analytic for the detection as a whole; each rule that fired is a related analytic, once, with its first
 * reason's text (a rule that hit several containers has several reasons: all are in `desc` and `unmapped`).
 */
function analytics(
  finding: Finding,
  product: ProductInfo,
): Pick<OcsfDetectionFinding["finding_info"], "analytic" | "related_analytics"> {
  const seen = new Set<string>();
  const related: OcsfAnalytic[] = [];
  for (const reason of finding.reasons) {
    if (seen.has(reason.id)) continue;
    seen.add(reason.id);
    related.push({
      uid: reason.id,
      name: reason.id,
      type_id: ANALYTIC_RULE.id,
      type: ANALYTIC_RULE.name,
      category: reason.effect,
      desc: reason.text,
    });
  }
  return {
    analytic: {
      uid: `${product.name}/ephemeral-container-write`,
      name: "Write to pods/ephemeralcontainers",
      type_id: ANALYTIC_RULE.id,
      type: ANALYTIC_RULE.name,
      desc: `Rules that fired: ${[...seen].join(", ")}`,
      version: product.version,
    },
    related_analytics: related,
  };
}

function attacks(finding: Finding): OcsfAttack[] {
  return findingTechniques(finding).map((technique) => {
    const tactic = { uid: technique.tactic.id, name: technique.tactic.name };
    if (!technique.parent) {
      return {
        technique: { uid: technique.id, name: technique.name, src_url: techniqueUrl(technique.id) },
        tactic,
      };
    }
    return {
      technique: {
        uid: technique.parent.id,
        name: technique.parent.name,
        src_url: techniqueUrl(technique.parent.id),
      },
      sub_technique: { uid: technique.id, name: technique.name, src_url: techniqueUrl(technique.id) },
      tactic,
    };
  });
}

function resources(finding: Finding, region: string | undefined): OcsfResource[] {
  const pod: OcsfResource = {
    type: "Kubernetes Pod",
    name: finding.pod.name,
    namespace: finding.pod.namespace,
  };
  if (finding.pod.uid) pod.uid = finding.pod.uid;
  const podData: Record<string, unknown> = {};
  if (finding.pod.owner) podData.owner = finding.pod.owner;
  if (finding.pod.serviceAccountName) podData.serviceAccountName = finding.pod.serviceAccountName;
  if (finding.pod.static) podData.static = true;
  if (Object.keys(podData).length > 0) pod.data = podData;
  if (!finding.cluster) return [pod];
  const cluster: OcsfResource = { type: "Kubernetes Cluster", name: finding.cluster };
  if (region) cluster.region = region;
  return [pod, cluster];
}

/**
 * Source addresses as evidence. The API server puts X-Forwarded-For entries into sourceIPs, so the client
 * chooses them: only real IP addresses go into `ip_t` fields; all of them, as sent, stay in `unmapped`.
 */
function evidences(finding: Finding): OcsfEvidence[] | undefined {
  const ips = finding.actor.sourceIPs.filter((ip) => isIP(ip) !== 0);
  const [first, ...rest] = ips;
  if (first === undefined) return undefined;
  const src_endpoint: OcsfEvidence["src_endpoint"] = { ip: first };
  if (rest.length > 0) src_endpoint.intermediate_ips = rest;
  return [{ uid: finding.auditID, src_endpoint }];
}

function observables(finding: Finding, evidence: OcsfEvidence[] | undefined): OcsfObservable[] {
  const found: OcsfObservable[] = [];
  if (finding.actor.username) {
    found.push({
      name: "actor.user.name",
      type_id: OBSERVABLE.userName.id,
      type: OBSERVABLE.userName.name,
      value: finding.actor.username,
    });
  }
  const endpoint = evidence?.[0]?.src_endpoint;
  if (endpoint) {
    found.push({
      name: "evidences.src_endpoint.ip",
      type_id: OBSERVABLE.ipAddress.id,
      type: OBSERVABLE.ipAddress.name,
      value: endpoint.ip,
    });
    for (const ip of endpoint.intermediate_ips ?? []) {
      found.push({
        name: "evidences.src_endpoint.intermediate_ips",
        type_id: OBSERVABLE.ipAddress.id,
        type: OBSERVABLE.ipAddress.name,
        value: ip,
      });
    }
  }
  return found;
}

function actor(finding: Finding): OcsfDetectionFinding["actor"] {
  const user: OcsfUser = { name: finding.actor.username };
  if (finding.actor.uid) user.uid = finding.actor.uid;
  if (finding.actor.groups.length > 0) user.groups = finding.actor.groups.map((name) => ({ name }));
  const out: OcsfDetectionFinding["actor"] = { user };
  if (finding.actor.userAgent) out.app_name = finding.actor.userAgent;
  return out;
}

function api(finding: Finding): OcsfDetectionFinding["api"] {
  const out: OcsfDetectionFinding["api"] = {
    operation: finding.verb,
    request: { uid: finding.auditID },
    service: { name: "kube-apiserver" },
  };
  const response: NonNullable<OcsfDetectionFinding["api"]["response"]> = {};
  if (finding.responseCode !== undefined) response.code = finding.responseCode;
  if (finding.responseMessage) response.message = finding.responseMessage;
  if (Object.keys(response).length > 0) out.response = response;
  return out;
}

/**
 * What scored the finding and has no OCSF attribute: reasons, the containers with their securityContext,
 * risky fields and kubectl debug profile, the outcome and score, the identity details. Under the names the
 * finding itself uses, so a consumer can read both.
 */
function unmapped(finding: Finding): Record<string, unknown> {
  const out: Record<string, unknown> = {
    schemaVersion: finding.schemaVersion,
    score: finding.score,
    outcome: finding.outcome,
    bodyLogged: finding.bodyLogged,
    reasons: finding.reasons,
    containers: finding.containers,
    actor: {
      kind: finding.actor.kind,
      sourceIPs: finding.actor.sourceIPs,
      ...(finding.actor.impersonatedUser ? { impersonatedUser: finding.actor.impersonatedUser } : {}),
      ...(finding.actor.arn ? { arn: finding.actor.arn } : {}),
      ...(finding.actor.sessionName ? { sessionName: finding.actor.sessionName } : {}),
    },
  };
  if (finding.requestURI) out.requestURI = finding.requestURI;
  if (finding.podSecurity) out.podSecurity = finding.podSecurity;
  if (finding.authorizationReason) out.authorizationReason = finding.authorizationReason;
  return out;
}

export function toOcsfDetectionFinding(finding: Finding, context: OcsfContext = {}): OcsfDetectionFinding {
  const product = context.product ?? PRODUCT;
  const time = epochMillis(finding.time) ?? context.fallbackTime ?? Date.now();
  const severity = SEVERITY[finding.severity];
  const uid = findingUid(finding);
  const title = findingTitle(finding);
  const evidence = evidences(finding);

  const cloud: OcsfDetectionFinding["cloud"] = { provider: "AWS" };
  if (context.region) cloud.region = context.region;
  if (context.accountId) cloud.account = { uid: context.accountId };

  const metadata: OcsfDetectionFinding["metadata"] = {
    version: OCSF_SCHEMA_VERSION,
    product: { name: product.name, vendor_name: product.vendorName, version: product.version },
    profiles: [...OCSF_PROFILES],
    uid,
    // The audit event this finding was made from, so it can be joined with the raw event (API Activity).
    correlation_uid: finding.auditID,
    original_time: finding.time,
  };
  if (finding.logGroup) metadata.log_name = finding.logGroup;

  const event: OcsfDetectionFinding = {
    activity_id: ACTIVITY_CREATE.id,
    activity_name: ACTIVITY_CREATE.name,
    category_uid: CATEGORY.uid,
    category_name: CATEGORY.name,
    class_uid: CLASS.uid,
    class_name: CLASS.name,
    type_uid: CLASS.uid * 100 + ACTIVITY_CREATE.id,
    type_name: `${CLASS.name}: ${ACTIVITY_CREATE.name}`,
    time,
    severity_id: severity.id,
    severity: severity.name,
    status_id: STATUS_NEW.id,
    status: STATUS_NEW.name,
    message: title,
    metadata,
    finding_info: {
      uid,
      title,
      desc: findingDescription(finding, Number.POSITIVE_INFINITY),
      types: [`Kubernetes/EphemeralContainer/${finding.outcome}`],
      created_time: time,
      data_sources: ["Kubernetes audit log"],
      ...analytics(finding, product),
      attacks: attacks(finding),
    },
    resources: resources(finding, context.region),
    actor: actor(finding),
    api: api(finding),
    cloud,
    observables: observables(finding, evidence),
    unmapped: unmapped(finding),
  };
  if (evidence) event.evidences = evidence;
  return event;
}

/** One line of `--format ocsf` output (JSON Lines): what the scanner, and any command printing findings, writes. */
export function ocsfFindingLine(finding: Finding, context: OcsfContext = {}): string {
  return JSON.stringify(toOcsfDetectionFinding(finding, context));
}
