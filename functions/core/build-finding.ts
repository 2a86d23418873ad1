import { FINDING_SCHEMA_VERSION, type Finding, type FindingContainer, type Reason } from "./finding.ts";
import { boundedSecurityContext, cutIdentifier, FINDING_LIMITS, Omissions } from "./finding-limits.ts";
import { techniqueIdsOf } from "./finding-techniques.ts";
import type { Scored } from "./score-write.ts";
import { severityRank } from "./severity.ts";
import type { ContainerFacts, WriteFacts } from "./write-facts.ts";

/**
 * The finding for one scored write. Everything it copies from the audit event is bounded (finding-limits.ts)
 * and what it leaves out is counted in `omitted`; the level, score and reasons were decided by scoreWrite over
 * every container before anything here is left out.
 */

const { name: NAME, image: IMAGE, text: TEXT, items: ITEMS } = FINDING_LIMITS;

/**
 * The containers a finding lists when there are more than it can: those a rule named, strongest rule first,
 * then the others in request order; listed in request order. A privileged container hidden behind thousands
 * of harmless ones is the one listed.
 */
function listedContainers(
  containers: readonly ContainerFacts[],
  risk: Scored["risk"],
): readonly ContainerFacts[] {
  if (containers.length <= FINDING_LIMITS.containers) return containers;
  const ranked: { index: number; rank: number }[] = [];
  for (let index = 0; index < containers.length; index++) {
    const entry = risk.get((containers[index] as ContainerFacts).spec.name);
    if (entry !== undefined) ranked.push({ index, rank: severityRank(entry.level) });
  }
  ranked.sort((a, b) => b.rank - a.rank || a.index - b.index);
  const chosen = new Set(ranked.slice(0, FINDING_LIMITS.containers).map((entry) => entry.index));
  for (let index = 0; chosen.size < FINDING_LIMITS.containers; index++) chosen.add(index);
  return [...chosen].sort((a, b) => a - b).map((index) => containers[index] as ContainerFacts);
}

function container(c: ContainerFacts, scored: Scored, omissions: Omissions): FindingContainer {
  const out: FindingContainer = {
    name: omissions.text(c.spec.name, NAME, "containers[].name"),
    profile: c.profile,
    riskyFields: omissions.texts(
      scored.risk.get(c.spec.name)?.fields ?? [],
      ITEMS,
      NAME,
      "containers[].riskyFields",
    ),
  };
  if (c.spec.image !== undefined) out.image = omissions.text(c.spec.image, IMAGE, "containers[].image");
  if (c.spec.targetContainerName !== undefined)
    out.targetContainerName = omissions.text(
      c.spec.targetContainerName,
      NAME,
      "containers[].targetContainerName",
    );
  if (c.spec.command !== undefined)
    out.command = omissions.texts(c.spec.command, ITEMS, NAME, "containers[].command");
  const securityContext = boundedSecurityContext(
    c.spec.securityContext,
    omissions,
    "containers[].securityContext",
  );
  if (securityContext !== undefined) out.securityContext = securityContext;
  if (c.mounts.length > 0)
    out.volumeMounts = omissions.texts(
      c.mounts.map((m) => m.volume),
      ITEMS,
      NAME,
      "containers[].volumeMounts",
    );
  return out;
}

function reasons(scored: Scored, omissions: Omissions): Reason[] {
  omissions.leftOutReasons(scored.unlistedReasons);
  omissions.leftOutReasons(scored.reasons.length - FINDING_LIMITS.reasons);
  const count = Math.min(scored.reasons.length, FINDING_LIMITS.reasons);
  const out: Reason[] = [];
  for (let i = 0; i < count; i++) {
    const reason = scored.reasons[i] as Reason;
    out.push({
      id: reason.id,
      severity: reason.severity,
      effect: reason.effect,
      text: omissions.text(reason.text, TEXT, "reasons[].text"),
    });
  }
  return out;
}

/** Real auditIDs are UUIDs; a longer one (a client's Audit-ID header) is cut but stays distinct. */
function boundedAuditID(auditID: string, omissions: Omissions): string {
  const bounded = cutIdentifier(auditID, NAME);
  if (bounded !== auditID) omissions.shortened("auditID");
  return bounded;
}

export function buildFinding(facts: WriteFacts, scored: Scored): Finding {
  const omissions = new Omissions();
  const listed = listedContainers(facts.containers, scored.risk);
  omissions.leftOutContainers(facts.containers.length - listed.length);
  // Loops rather than map() with a callback here and in reasons(): this runs for every finding.
  const containers: FindingContainer[] = [];
  for (const c of listed) containers.push(container(c, scored, omissions));

  const actor: Finding["actor"] = {
    username: omissions.text(facts.actor.username, NAME, "actor.username"),
    groups: omissions.texts(facts.actor.groups, ITEMS, NAME, "actor.groups"),
    kind: facts.actor.kind,
    sourceIPs: omissions.texts(facts.actor.sourceIPs, ITEMS, NAME, "actor.sourceIPs"),
  };
  if (facts.actor.uid) actor.uid = omissions.text(facts.actor.uid, NAME, "actor.uid");
  if (facts.actor.userAgent) actor.userAgent = omissions.text(facts.actor.userAgent, TEXT, "actor.userAgent");
  if (facts.actor.arn) actor.arn = omissions.text(facts.actor.arn, TEXT, "actor.arn");
  if (facts.actor.sessionName)
    actor.sessionName = omissions.text(facts.actor.sessionName, NAME, "actor.sessionName");
  if (facts.impersonatedUser) {
    actor.impersonatedUser = {
      username: omissions.text(facts.impersonatedUser.username, NAME, "actor.impersonatedUser.username"),
      groups: omissions.texts(facts.impersonatedUser.groups, ITEMS, NAME, "actor.impersonatedUser.groups"),
    };
    if (facts.impersonatedUser.uid)
      actor.impersonatedUser.uid = omissions.text(
        facts.impersonatedUser.uid,
        NAME,
        "actor.impersonatedUser.uid",
      );
  }

  const pod: Finding["pod"] = {
    namespace: omissions.text(facts.namespace, NAME, "pod.namespace"),
    name: omissions.text(facts.podName, NAME, "pod.name"),
  };
  if (facts.pod.uid) pod.uid = omissions.text(facts.pod.uid, NAME, "pod.uid");
  if (facts.pod.owner) {
    const { kind, name, uid, controller } = facts.pod.owner;
    pod.owner = {
      kind: omissions.text(kind, NAME, "pod.owner.kind"),
      name: omissions.text(name, NAME, "pod.owner.name"),
    };
    if (uid !== undefined) pod.owner.uid = omissions.text(uid, NAME, "pod.owner.uid");
    if (controller !== undefined) pod.owner.controller = controller;
  }
  if (facts.pod.serviceAccountName)
    pod.serviceAccountName = omissions.text(facts.pod.serviceAccountName, NAME, "pod.serviceAccountName");
  if (facts.pod.static) pod.static = true;

  const finding: Finding = {
    schemaVersion: FINDING_SCHEMA_VERSION,
    auditID: boundedAuditID(facts.auditID, omissions),
    time: omissions.text(facts.time, NAME, "time"),
    severity: scored.severity,
    score: scored.score,
    outcome: facts.outcome,
    verb: omissions.text(facts.verb, NAME, "verb"),
    bodyLogged: facts.bodyLogged,
    actor,
    pod,
    containers,
    reasons: reasons(scored, omissions),
    // Over every reason, before any is left out.
    techniques: techniqueIdsOf(scored.reasons),
  };
  if (facts.occurrence !== undefined) finding.occurrence = facts.occurrence;
  if (facts.cluster) finding.cluster = omissions.text(facts.cluster, NAME, "cluster");
  if (facts.logGroup) finding.logGroup = omissions.text(facts.logGroup, TEXT, "logGroup");
  // Checked where they were read (aws-origin.ts): an account id, a region and an ARN are never cut.
  if (facts.account) finding.account = facts.account;
  if (facts.region) finding.region = facts.region;
  if (facts.clusterArn) finding.clusterArn = facts.clusterArn;
  if (facts.responseCode !== undefined) finding.responseCode = facts.responseCode;
  if (facts.responseMessage)
    finding.responseMessage = omissions.text(facts.responseMessage, TEXT, "responseMessage");
  if (facts.requestURI) finding.requestURI = omissions.text(facts.requestURI, TEXT, "requestURI");
  if (facts.authorizationReason)
    finding.authorizationReason = omissions.text(facts.authorizationReason, TEXT, "authorizationReason");
  if (facts.podSecurityEnforcePolicy || facts.podSecurityAuditViolations) {
    finding.podSecurity = {};
    if (facts.podSecurityEnforcePolicy)
      finding.podSecurity.enforcePolicy = omissions.text(
        facts.podSecurityEnforcePolicy,
        NAME,
        "podSecurity.enforcePolicy",
      );
    if (facts.podSecurityAuditViolations)
      finding.podSecurity.auditViolations = omissions.text(
        facts.podSecurityAuditViolations,
        TEXT,
        "podSecurity.auditViolations",
      );
  }
  const omitted = omissions.result();
  if (omitted) finding.omitted = omitted;
  return finding;
}
