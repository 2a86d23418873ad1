import type { Finding } from "./finding.ts";

/** A MITRE ATT&CK (Enterprise, Containers platform) technique or sub-technique and the tactic it serves. */
export interface AttackTechnique {
  /** `T1609`, or `T1552.007` for a sub-technique. */
  id: string;
  name: string;
  /** For a sub-technique: its parent technique. */
  parent?: { id: string; name: string };
  tactic: { id: string; name: string };
}

const EXECUTION = { id: "TA0002", name: "Execution" };
const PRIVILEGE_ESCALATION = { id: "TA0004", name: "Privilege Escalation" };
const CREDENTIAL_ACCESS = { id: "TA0006", name: "Credential Access" };

export const TECHNIQUES = {
  containerAdministrationCommand: {
    id: "T1609",
    name: "Container Administration Command",
    tactic: EXECUTION,
  },
  escapeToHost: { id: "T1611", name: "Escape to Host", tactic: PRIVILEGE_ESCALATION },
  containerApiCredentials: {
    id: "T1552.007",
    name: "Container API",
    parent: { id: "T1552", name: "Unsecured Credentials" },
    tactic: CREDENTIAL_ACCESS,
  },
} as const satisfies Record<string, AttackTechnique>;

/**
 * Which reasons (rule ids of functions/core/rules.ts) add which technique. Every write to
 * pods/ephemeralcontainers is T1609 (peers tag `kubectl debug` with it); host access is T1611; reaching the
 * pod's service-account token or secrets is T1552.007. An attempt that RBAC or admission refused is tagged
 * the same: the technique was tried.
 *
 * Interim: the rules table will carry technique ids itself (issue 11, item 4) and this table goes away.
 */
const TECHNIQUES_BY_REASON: Readonly<Record<string, readonly AttackTechnique[]>> = {
  "container.privileged": [TECHNIQUES.escapeToHost],
  "container.host-process": [TECHNIQUES.escapeToHost],
  "container.node-level-capability": [TECHNIQUES.escapeToHost],
  "reach.host-path-volume": [TECHNIQUES.escapeToHost],
  "reach.host-namespaces": [TECHNIQUES.escapeToHost],
  "reach.service-account-token": [TECHNIQUES.containerApiCredentials],
  "reach.secret-volume": [TECHNIQUES.containerApiCredentials],
  "reach.secret-env": [TECHNIQUES.containerApiCredentials],
};

/** The techniques a finding shows: T1609 first, then in the order of its reasons, each once. */
export function findingTechniques(finding: Pick<Finding, "reasons">): AttackTechnique[] {
  const found = new Map<string, AttackTechnique>([
    [TECHNIQUES.containerAdministrationCommand.id, TECHNIQUES.containerAdministrationCommand],
  ]);
  for (const reason of finding.reasons) {
    // hasOwn: a reason id is text from the finding, and "__proto__" must not reach Object.prototype.
    if (!Object.hasOwn(TECHNIQUES_BY_REASON, reason.id)) continue;
    for (const technique of TECHNIQUES_BY_REASON[reason.id] ?? []) found.set(technique.id, technique);
  }
  return [...found.values()];
}

/** The ATT&CK page of a technique: `T1552.007` → …/techniques/T1552/007/. */
export function techniqueUrl(id: string): string {
  return `https://attack.mitre.org/techniques/${id.replace(".", "/")}/`;
}
