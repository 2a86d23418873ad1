import { FINDING_SCHEMA_VERSION, type Finding, type FindingContainer } from "./finding.ts";
import { techniqueIdsOf } from "./finding-techniques.ts";
import type { Scored } from "./score-write.ts";
import type { WriteFacts } from "./write-facts.ts";

function securityContextRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

export function buildFinding(facts: WriteFacts, scored: Scored): Finding {
  const containers: FindingContainer[] = facts.containers.map((c) => {
    const container: FindingContainer = {
      name: c.spec.name,
      profile: c.profile,
      riskyFields: scored.riskyFields.get(c.spec.name) ?? [],
    };
    if (c.spec.image !== undefined) container.image = c.spec.image;
    if (c.spec.targetContainerName !== undefined) container.targetContainerName = c.spec.targetContainerName;
    if (c.spec.command !== undefined) container.command = c.spec.command;
    const securityContext = securityContextRecord(c.spec.securityContext);
    if (securityContext !== undefined) container.securityContext = securityContext;
    if (c.mounts.length > 0) container.volumeMounts = c.mounts.map((m) => m.volume);
    return container;
  });

  const actor: Finding["actor"] = {
    username: facts.actor.username,
    groups: facts.actor.groups,
    kind: facts.actor.kind,
    sourceIPs: facts.actor.sourceIPs,
  };
  if (facts.actor.uid) actor.uid = facts.actor.uid;
  if (facts.actor.userAgent) actor.userAgent = facts.actor.userAgent;
  if (facts.actor.arn) actor.arn = facts.actor.arn;
  if (facts.actor.sessionName) actor.sessionName = facts.actor.sessionName;
  if (facts.impersonatedUser) {
    actor.impersonatedUser = {
      username: facts.impersonatedUser.username,
      groups: facts.impersonatedUser.groups,
    };
    if (facts.impersonatedUser.uid) actor.impersonatedUser.uid = facts.impersonatedUser.uid;
  }

  const pod: Finding["pod"] = { namespace: facts.namespace, name: facts.podName };
  if (facts.pod.uid) pod.uid = facts.pod.uid;
  if (facts.pod.owner) pod.owner = facts.pod.owner;
  if (facts.pod.serviceAccountName) pod.serviceAccountName = facts.pod.serviceAccountName;
  if (facts.pod.static) pod.static = true;

  const finding: Finding = {
    schemaVersion: FINDING_SCHEMA_VERSION,
    auditID: facts.auditID,
    time: facts.time,
    severity: scored.severity,
    score: scored.score,
    outcome: facts.outcome,
    verb: facts.verb,
    bodyLogged: facts.bodyLogged,
    actor,
    pod,
    containers,
    reasons: scored.reasons,
    techniques: techniqueIdsOf(scored.reasons),
  };
  if (facts.cluster) finding.cluster = facts.cluster;
  if (facts.logGroup) finding.logGroup = facts.logGroup;
  if (facts.responseCode !== undefined) finding.responseCode = facts.responseCode;
  if (facts.responseMessage) finding.responseMessage = facts.responseMessage;
  if (facts.requestURI) finding.requestURI = facts.requestURI;
  if (facts.authorizationReason) finding.authorizationReason = facts.authorizationReason;
  if (facts.podSecurityEnforcePolicy || facts.podSecurityAuditViolations) {
    finding.podSecurity = {};
    if (facts.podSecurityEnforcePolicy) finding.podSecurity.enforcePolicy = facts.podSecurityEnforcePolicy;
    if (facts.podSecurityAuditViolations)
      finding.podSecurity.auditViolations = facts.podSecurityAuditViolations;
  }
  return finding;
}
