/** A MITRE ATT&CK (Enterprise) technique or sub-technique and the tactic it serves here. */
export interface AttackTechnique {
  /** `T1609`, or `T1552.007` for a sub-technique. */
  id: string;
  name: string;
  /** For a sub-technique: its parent technique. */
  parent?: { id: string; name: string };
  /**
   * The tactic a write to pods/ephemeralcontainers serves with it. ATT&CK lists several for some techniques
   * (T1078 is also Persistence and Initial Access); OCSF and Security Hub take one, so this is the one that
   * describes what the rule saw.
   */
  tactic: { id: string; name: string };
}

const EXECUTION = { id: "TA0002", name: "Execution" };
const PRIVILEGE_ESCALATION = { id: "TA0004", name: "Privilege Escalation" };
const DEFENSE_EVASION = { id: "TA0005", name: "Defense Evasion" };
const CREDENTIAL_ACCESS = { id: "TA0006", name: "Credential Access" };
const INITIAL_ACCESS = { id: "TA0001", name: "Initial Access" };

/**
 * The techniques the rules of functions/core/rules.ts name, in the order findings list them: T1609 (every
 * write) first, then what the container can do, then who sent it. A finding's `techniques` follow this order
 * whatever order its reasons are in, so the same rules always give the same list.
 */
export const ATTACK_TECHNIQUES = {
  T1609: { id: "T1609", name: "Container Administration Command", tactic: EXECUTION },
  T1611: { id: "T1611", name: "Escape to Host", tactic: PRIVILEGE_ESCALATION },
  "T1552.007": {
    id: "T1552.007",
    name: "Container API",
    parent: { id: "T1552", name: "Unsecured Credentials" },
    tactic: CREDENTIAL_ACCESS,
  },
  "T1003.007": {
    id: "T1003.007",
    name: "Proc Filesystem",
    parent: { id: "T1003", name: "OS Credential Dumping" },
    tactic: CREDENTIAL_ACCESS,
  },
  "T1548.001": {
    id: "T1548.001",
    name: "Setuid and Setgid",
    parent: { id: "T1548", name: "Abuse Elevation Control Mechanism" },
    tactic: PRIVILEGE_ESCALATION,
  },
  "T1548.005": {
    id: "T1548.005",
    name: "Temporary Elevated Cloud Access",
    parent: { id: "T1548", name: "Abuse Elevation Control Mechanism" },
    tactic: PRIVILEGE_ESCALATION,
  },
  T1078: { id: "T1078", name: "Valid Accounts", tactic: DEFENSE_EVASION },
  T1133: { id: "T1133", name: "External Remote Services", tactic: INITIAL_ACCESS },
} as const satisfies Record<string, AttackTechnique>;

export type TechniqueId = keyof typeof ATTACK_TECHNIQUES;

/** Every technique id, in the catalogue's order. */
export const TECHNIQUE_IDS: readonly TechniqueId[] = Object.freeze(
  Object.keys(ATTACK_TECHNIQUES) as TechniqueId[],
);

/** Whether `id` names a technique of the catalogue (text from a finding may name anything). */
export function isTechniqueId(id: string): id is TechniqueId {
  // hasOwn: "__proto__" or "toString" must not count as techniques.
  return Object.hasOwn(ATTACK_TECHNIQUES, id);
}

/** The ATT&CK page of a technique: `T1552.007` → …/techniques/T1552/007/. */
export function techniqueUrl(id: string): string {
  return `https://attack.mitre.org/techniques/${id.replace(".", "/")}/`;
}
