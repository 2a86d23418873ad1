import { findingMessage } from "../adapters/aws/sns-message.ts";
import type { Finding } from "../core/finding.ts";
import { ocsfFindingLine } from "../core/ocsf-finding.ts";
import { choice } from "./command-options.ts";
import { formatFindingText } from "./format-finding-text.ts";

/** How findings are printed on stdout, by every command that prints them (scan, hunt). */
export const FORMATS = ["text", "json", "ocsf"] as const;
export type Format = (typeof FORMATS)[number];
export const FormatOption = choice(FORMATS, "an output format");

/** The text for one finding, with its trailing newline(s). May throw: the caller reports and counts it. */
export const RENDER: Record<Format, (finding: Finding, colour: boolean) => string> = {
  text: (finding, colour) => `${formatFindingText(finding, colour)}\n\n`,
  // The message detect publishes, so that what the scanner prints and what subscribers receive agree.
  json: (finding) => `${findingMessage(finding).body}\n`,
  ocsf: (finding) => `${ocsfFindingLine(finding)}\n`,
};
