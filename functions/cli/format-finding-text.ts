import type { Finding } from "../core/finding.ts";
import type { Severity } from "../core/severity.ts";

/** ANSI colours per severity, used only when stdout is a terminal. */
const SEVERITY_COLOUR: Record<Severity, string> = {
  info: "\u001b[2m",
  low: "\u001b[36m",
  medium: "\u001b[33m",
  high: "\u001b[31m",
  critical: "\u001b[1;97;41m",
};
const RESET = "\u001b[0m";
const BOLD = "\u001b[1m";
const DIM = "\u001b[2m";

/**
 * Strings in a finding come from the audit event and so from whoever sent the request: control characters
 * (ANSI escapes that could rewrite the terminal, newlines that could fake another finding) are shown escaped.
 */
export function inert(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  return value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (char) => {
    const code = char.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

export function formatFindingText(finding: Finding, colour: boolean): string {
  const paint = (style: string, text: string) => (colour ? `${style}${text}${RESET}` : text);
  const label = (name: string) => paint(DIM, name.padEnd(10));
  const severity = paint(SEVERITY_COLOUR[finding.severity], ` ${finding.severity.toUpperCase()} `);
  const where = `${finding.cluster ? `${inert(finding.cluster)} ` : ""}${inert(finding.pod.namespace)}/${inert(finding.pod.name)}`;
  const lines = [
    `${severity} ${paint(BOLD, String(finding.score))}  ${finding.outcome}${finding.responseCode !== undefined ? ` (${finding.responseCode})` : ""}  ${paint(BOLD, where)}  ${inert(finding.time)}`,
  ];

  const actor = finding.actor;
  const actorParts = [
    inert(actor.username),
    actor.impersonatedUser ? `as ${inert(actor.impersonatedUser.username)}` : undefined,
    // An IAM identity mapped without a username template is named by its ARN: say it once.
    actor.arn && actor.arn !== actor.username ? `(${inert(actor.arn)})` : undefined,
    actor.sourceIPs.length > 0 ? `from ${actor.sourceIPs.map(inert).join(", ")}` : undefined,
    actor.userAgent ? `via ${inert(actor.userAgent.slice(0, 100))}` : undefined,
  ].filter((part): part is string => part !== undefined);
  lines.push(`  ${label("actor")}${actorParts.join(" ")}`);

  for (const container of finding.containers) {
    const parts = [
      paint(BOLD, inert(container.name)),
      container.image ? `image ${inert(container.image)}` : undefined,
      `profile ${container.profile}`,
      container.targetContainerName ? `target ${inert(container.targetContainerName)}` : undefined,
      container.riskyFields.length > 0 ? `risky: ${container.riskyFields.map(inert).join("; ")}` : undefined,
    ].filter((part): part is string => part !== undefined);
    lines.push(`  ${label("container")}${parts.join("  ")}`);
  }

  finding.reasons.forEach((reason, index) => {
    const tag = paint(SEVERITY_COLOUR[reason.severity], `[${reason.severity}]`);
    lines.push(
      `  ${label(index === 0 ? "why" : "")}${tag} ${inert(reason.text)} ${paint(DIM, `(${reason.id})`)}`,
    );
  });
  const omitted = finding.omitted;
  if (omitted) {
    const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
    const counts = [
      omitted.containers > 0 ? count(omitted.containers, "container") : undefined,
      omitted.reasons > 0 ? count(omitted.reasons, "reason") : undefined,
      omitted.fields > 0
        ? `${count(omitted.fields, "value")} (${omitted.paths.map(inert).join(", ")})`
        : undefined,
    ].filter((part): part is string => part !== undefined);
    lines.push(`  ${label("omitted")}${counts.join(", ")}: ${omitted.why.map(inert).join("; ")}`);
  }
  lines.push(`  ${label("auditID")}${inert(finding.auditID)}`);
  return lines.join("\n");
}
