import type { AwsSecurityFinding, Partition, Resource, SeverityLabel } from "@aws-sdk/client-securityhub";
import type { Finding } from "../../core/finding.ts";
import { findingDescription, findingTitle, joinWithin, truncate } from "../../core/finding-summary.ts";
import { findingTechniques } from "../../core/finding-techniques.ts";
import { findingUid, UNKNOWN_CLUSTER } from "../../core/finding-uid.ts";
import { PRODUCT, type ProductInfo } from "../../core/product-info.ts";
import type { Severity } from "../../core/severity.ts";

/**
 * A finding in the AWS Security Finding Format, for BatchImportFindings. ASFF rather than OCSF: Security Hub
 * takes findings from custom integrations only through BatchImportFindings, in ASFF (the OCSF view of newer
 * Security Hub is built from those); the OCSF event (`--format ocsf`) is for data lakes and SIEMs.
 *
 * The limits below are ASFF's (Security Hub refuses a finding that breaks one, or is over 240 KB). Every
 * string that comes from the audit event, and so from the requester, is cut to its field's limit, so a padded
 * request costs at most its own text, never the import.
 */
export const ASFF_SCHEMA_VERSION = "2018-10-08";

export const ASFF_LIMITS = {
  id: 512,
  title: 256,
  description: 1024,
  recommendation: 512,
  resources: 32,
  types: 50,
  productFields: 50,
  productFieldValue: 2048,
  /** Resource.Details.Other values: fewer than 1,024 characters. */
  otherValue: 1023,
  findingBytes: 240 * 1024,
} as const;

const SEVERITY_LABEL: Record<Severity, SeverityLabel> = {
  info: "INFORMATIONAL",
  low: "LOW",
  medium: "MEDIUM",
  high: "HIGH",
  critical: "CRITICAL",
};

export interface SecurityHubTarget {
  /** `arn:<partition>:securityhub:<region>:<account>:product/<account>/default`: the account's own product. */
  productArn: string;
  accountId: string;
  region: string;
  partition: string;
  /** When SNS received the message (ISO 8601): the finding's time when its own does not parse. */
  receivedAt: string;
  product?: ProductInfo;
}

const GENERATOR_ID = `${PRODUCT.name}/ephemeral-container-write`;
const PREFIX = `${PRODUCT.name}/`;

function isoTime(time: string, fallback: string): string {
  const parsed = Date.parse(time);
  return new Date(Number.isFinite(parsed) ? parsed : Date.parse(fallback)).toISOString();
}

function isPartition(value: string): value is Partition {
  return value === "aws" || value === "aws-cn" || value === "aws-us-gov";
}

/** The ASFF Id: the product prefix and the finding's cluster/auditID identity, so a repeat import updates. */
export function securityHubFindingId(finding: Pick<Finding, "cluster" | "auditID">): string {
  return `${PREFIX}${findingUid(finding)}`;
}

/** A piece of a ProductFields value, cut before it is joined into one (see joinWithin). */
function cut(text: string): string {
  return truncate(text, ASFF_LIMITS.productFieldValue);
}

/** A ProductFields value from many parts, built no longer than the field can be. */
function list(parts: Iterable<string>, separator: string): string {
  return joinWithin(parts, separator, ASFF_LIMITS.productFieldValue);
}

function productFields(finding: Finding, techniques: string[]): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    auditID: finding.auditID,
    cluster: finding.cluster,
    logGroup: finding.logGroup,
    outcome: finding.outcome,
    score: String(finding.score),
    verb: finding.verb,
    responseCode: finding.responseCode === undefined ? undefined : String(finding.responseCode),
    requestURI: finding.requestURI,
    actor: finding.actor.username,
    actorKind: finding.actor.kind,
    actorArn: finding.actor.arn,
    impersonatedUser: finding.actor.impersonatedUser?.username,
    sourceIPs: list(finding.actor.sourceIPs, ", "),
    userAgent: finding.actor.userAgent,
    rules: list(
      new Set(finding.reasons.map((reason) => truncate(reason.id, ASFF_LIMITS.productFieldValue))),
      ", ",
    ),
    techniques: techniques.join(", "),
    containers: list(
      (function* () {
        for (const container of finding.containers) yield `${cut(container.name)} (${container.profile})`;
      })(),
      ", ",
    ),
    riskyFields: list(
      (function* () {
        for (const container of finding.containers) {
          for (const field of container.riskyFields) yield `${cut(container.name)}: ${cut(field)}`;
        }
      })(),
      "; ",
    ),
  };
  return Object.fromEntries(
    Object.entries(fields)
      .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "")
      .map(([key, value]) => [`${PREFIX}${key}`, truncate(value, ASFF_LIMITS.productFieldValue)]),
  );
}

function otherDetails(values: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values)
      .filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== "")
      .map(([key, value]) => [key, truncate(value, ASFF_LIMITS.otherValue)]),
  );
}

/**
 * The cluster as an EKS cluster of the stack's account and region: detect reads the cluster's log group
 * through a same-account subscription, so that is where the cluster is. Then the pod, then each ephemeral
 * container (as many as ASFF's 32 resources allow; the rest are named in ProductFields).
 */
function resources(finding: Finding, target: SecurityHubTarget): Resource[] {
  const partition = isPartition(target.partition) ? target.partition : undefined;
  const cluster = truncate(finding.cluster ?? UNKNOWN_CLUSTER, 100);
  const clusterArn = `arn:${target.partition}:eks:${target.region}:${target.accountId}:cluster/${cluster}`;
  const podId = truncate(
    `${clusterArn}/namespaces/${truncate(finding.pod.namespace, 63)}/pods/${truncate(finding.pod.name, 253)}`,
    ASFF_LIMITS.id,
  );
  const base = { Partition: partition, Region: target.region };
  const out: Resource[] = [
    {
      ...base,
      Type: "AwsEksCluster",
      Id: clusterArn,
      Details: { AwsEksCluster: { Name: cluster, Arn: clusterArn } },
    },
    {
      ...base,
      Type: "Other",
      Id: podId,
      ResourceRole: "Target",
      Details: {
        Other: otherDetails({
          kind: "Pod",
          namespace: finding.pod.namespace,
          name: finding.pod.name,
          uid: finding.pod.uid,
          serviceAccountName: finding.pod.serviceAccountName,
          owner: finding.pod.owner ? `${finding.pod.owner.kind}/${finding.pod.owner.name}` : undefined,
        }),
      },
    },
  ];
  for (const container of finding.containers.slice(0, ASFF_LIMITS.resources - out.length)) {
    out.push({
      ...base,
      Type: "Container",
      Id: truncate(`${podId}/ephemeralcontainers/${truncate(container.name, 63)}`, ASFF_LIMITS.id),
      Details: {
        Container: {
          Name: truncate(container.name, 256),
          ImageName: container.image === undefined ? undefined : truncate(container.image, 512),
          Privileged: container.securityContext?.privileged === true,
        },
      },
    });
  }
  return out;
}

function recommendation(finding: Finding): string {
  const pod = `${truncate(finding.pod.namespace, 63)}/${truncate(finding.pod.name, 100)}`;
  const actor = truncate(finding.actor.username || "(no username)", 100);
  const text =
    finding.outcome === "created"
      ? `Ask ${actor} why they debugged ${pod}. If nobody expected it: delete the pod (its controller replaces it; an ephemeral container cannot be removed otherwise) and rotate what it could reach (its service-account token, mounted secrets).`
      : `Nothing was added to ${pod}, but ${actor} tried: check that identity's recent activity and whether its credentials were stolen.`;
  return truncate(text, ASFF_LIMITS.recommendation);
}

export function toSecurityHubFinding(finding: Finding, target: SecurityHubTarget): AwsSecurityFinding {
  const product = target.product ?? PRODUCT;
  const time = isoTime(finding.time, target.receivedAt);
  const techniques = findingTechniques(finding);
  const severity = { Label: SEVERITY_LABEL[finding.severity], Original: finding.severity };
  const types = techniques
    .map((technique) => `TTPs/${technique.tactic.name}/${technique.id} ${technique.name}`)
    .slice(0, ASFF_LIMITS.types);
  return {
    SchemaVersion: ASFF_SCHEMA_VERSION,
    Id: securityHubFindingId(finding),
    ProductArn: target.productArn,
    ProductName: product.name,
    CompanyName: product.vendorName,
    GeneratorId: GENERATOR_ID,
    AwsAccountId: target.accountId,
    Types: types,
    CreatedAt: time,
    UpdatedAt: time,
    FirstObservedAt: time,
    LastObservedAt: time,
    // Severity and Types also in FindingProviderFields: the provider's say, kept apart from analysts' edits.
    Severity: severity,
    FindingProviderFields: { Severity: severity, Types: types },
    Title: findingTitle(finding, ASFF_LIMITS.title),
    Description: findingDescription(finding, ASFF_LIMITS.description),
    Remediation: { Recommendation: { Text: recommendation(finding) } },
    ProductFields: productFields(
      finding,
      techniques.map((technique) => technique.id),
    ),
    Resources: resources(finding, target),
    RecordState: "ACTIVE",
  };
}
