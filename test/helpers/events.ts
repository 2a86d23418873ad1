import { readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { type AuditEvent, AuditEventSchema } from "../../functions/core/audit-event-schema.ts";
import { decodeText } from "../../functions/core/decode-input.ts";
import {
  type DetectionConfig,
  type DetectionConfigInput,
  detectionConfig,
} from "../../functions/core/detection-config.ts";
import { type DetectionStats, Detector } from "../../functions/core/detector.ts";
import { extractWriteFacts } from "../../functions/core/extract-write-facts.ts";
import type { Finding } from "../../functions/core/finding.ts";
import type { InputProblem } from "../../functions/core/log-record.ts";
import type { WriteFacts } from "../../functions/core/write-facts.ts";

/** The sample events every test reads: one case per file, named for what it shows. */
export const EVENTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "events");

/** `name` is relative to events/ (`audit/rbac-forbidden.json`); a bare name means an audit event. */
export function eventPath(name: string): string {
  const withFolder = name.includes("/") ? name : `audit/${name}`;
  return join(
    EVENTS_DIR,
    withFolder.endsWith(".json") || withFolder.endsWith(".jsonl") ? withFolder : `${withFolder}.json`,
  );
}

export function readEventText(name: string): string {
  return readFileSync(eventPath(name), "utf8");
}

/** A single pretty-printed audit event from events/audit, validated as one. */
export function loadAuditEvent(name: string): AuditEvent {
  return AuditEventSchema.parse(JSON.parse(readEventText(name)));
}

/** A raw copy of an audit event, for tests that vary one field of a sample. */
export function loadAuditJson(name: string): Record<string, unknown> {
  return JSON.parse(readEventText(name)) as Record<string, unknown>;
}

/** A DetectionConfig input from events/config (`trusted-debuggers` → events/config/trusted-debuggers.json). */
export function loadConfig(name: string): DetectionConfig {
  const input = JSON.parse(
    readFileSync(join(EVENTS_DIR, "config", `${name}.json`), "utf8"),
  ) as DetectionConfigInput;
  return detectionConfig(input);
}

export interface Detection {
  findings: Finding[];
  stats: DetectionStats;
  problems: InputProblem[];
}

function asConfig(config: DetectionConfig | DetectionConfigInput | undefined): DetectionConfig {
  return detectionConfig(config ?? {});
}

/** Runs a file through the same path as the CLI: decodeText (form found by content), then one Detector. */
export function detectFile(name: string, config?: DetectionConfig | DetectionConfigInput): Detection {
  const path = eventPath(name);
  return detectText(readFileSync(path, "utf8"), relative(EVENTS_DIR, path), config);
}

export function detectText(
  text: string,
  source: string,
  config?: DetectionConfig | DetectionConfigInput,
): Detection {
  const detector = new Detector(asConfig(config));
  const findings = detector.ingest(decodeText(text, source));
  return { findings, stats: detector.stats, problems: detector.problems };
}

/** Runs an already-parsed audit event (e.g. a sample with one field changed). */
export function detectEvent(event: unknown, config?: DetectionConfig | DetectionConfigInput): Detection {
  return detectText(JSON.stringify(event), "inline.json", config);
}

/** The one finding a single-event file must produce; fails loudly when it produced none or several. */
export function onlyFinding(detection: Detection): Finding {
  const [finding, ...rest] = detection.findings;
  if (!finding || rest.length > 0) {
    throw new Error(
      `expected exactly one finding, got ${detection.findings.length}; skipped ${JSON.stringify(detection.stats.skipped)}; problems ${JSON.stringify(detection.problems)}`,
    );
  }
  return finding;
}

export function factsOf(name: string, logGroup?: string): WriteFacts {
  return extractWriteFacts(loadAuditEvent(name), logGroup);
}
