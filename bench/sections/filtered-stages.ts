import { type AuditEvent, parseAuditEvent } from "../../functions/core/audit-event-schema.ts";
import { buildFinding } from "../../functions/core/build-finding.ts";
import { decodeDocument } from "../../functions/core/decode-input.ts";
import { detectionConfig } from "../../functions/core/detection-config.ts";
import { extractWriteFacts } from "../../functions/core/extract-write-facts.ts";
import type { LogRecord } from "../../functions/core/log-record.ts";
import { type Scored, scoreWrite } from "../../functions/core/score-write.ts";
import { skipReason } from "../../functions/core/select-write.ts";
import type { WriteFacts } from "../../functions/core/write-facts.ts";
import { CLUSTER, LOG_GROUP } from "../make-events.ts";
import { makeStream } from "../make-payloads.ts";
import { type Contender, timeInterleaved } from "../measure.ts";
import type { Section, SectionResult } from "../section.ts";
import { streamNamed } from "../streams.ts";
import { floorPass } from "./throughput.ts";

const CONFIG = detectionConfig({ cluster: CLUSTER });

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function texts(records: readonly LogRecord[]): string[] {
  return records.map((record) => record.text ?? "");
}

/**
 * Where the filtered stream's time goes: each stage of Detector.process timed on its own over the same
 * events, against the floor. The stages after JSON.parse are the detector's own work on top of the floor,
 * so their sum is what the 1.2x target leaves room for (0.2x the floor).
 */
export const filteredStagesSection: Section = {
  key: "stages",
  title: "Filtered stream, stage by stage (each stage timed alone over every event)",
  async run(): Promise<SectionResult> {
    const batch = makeStream(streamNamed("filtered").spec);
    const decoded = batch.payloads.map((payload, index) => decodeDocument(payload, `payload ${index}`));
    // Cut events are left out: they take the cut-event reader, not these stages.
    const messages = decoded.flatMap((input) => texts(input.records)).filter(parses);
    const values: unknown[] = messages.map((message) => JSON.parse(message));
    const events: AuditEvent[] = values.flatMap((value) => {
      const parsed = parseAuditEvent(value);
      return parsed.success ? [parsed.data] : [];
    });
    const facts: WriteFacts[] = events.map((event) => extractWriteFacts(event, LOG_GROUP, CLUSTER));
    const scored: Scored[] = facts.map((fact) => scoreWrite(fact, CONFIG));

    const stages: Contender[] = [
      { name: "floor (b64 + gunzip + JSON.parse all)", run: () => floorPass(batch) },
      {
        name: "decode payloads (b64 + gunzip + records)",
        run: () =>
          batch.payloads.reduce((n, p, i) => n + decodeDocument(p, `payload ${i}`).records.length, 0),
      },
      {
        name: "JSON.parse of each event",
        run: () => messages.reduce((n, m) => n + (JSON.parse(m) ? 1 : 0), 0),
      },
      {
        name: "validate (parseAuditEvent)",
        run: () => values.filter((v) => parseAuditEvent(v).success).length,
      },
      {
        name: "select (skipReason)",
        run: () => events.filter((e) => skipReason(e, CONFIG) === undefined).length,
      },
      {
        name: "extractWriteFacts",
        run: () => events.reduce((n, e) => n + extractWriteFacts(e, LOG_GROUP, CLUSTER).containers.length, 0),
      },
      { name: "scoreWrite", run: () => facts.reduce((n, f) => n + scoreWrite(f, CONFIG).score, 0) },
      {
        name: "buildFinding",
        run: () => facts.reduce((n, f, i) => n + (scored[i] ? buildFinding(f, scored[i]).score : 0), 0),
      },
    ];
    const { timings } = timeInterleaved(stages, { warmup: 2, repetitions: 7 });
    const floorMs = timings.get(stages[0]?.name ?? "")?.medianMs ?? Number.NaN;
    const rows = stages.map((stage) => {
      const ms = timings.get(stage.name)?.medianMs ?? Number.NaN;
      return [stage.name, ms.toFixed(1), ((ms * 1000) / batch.events).toFixed(1), (ms / floorMs).toFixed(2)];
    });
    return {
      tables: [{ columns: ["stage", "ms", "us/event", "x floor"], rows }],
      notes: [
        `${batch.events} filtered events (stages after decoding: the ${messages.length} that parse); medians of 7 ` +
          "interleaved passes; the detector's work beyond the floor is validate + select + extract + score + build " +
          "(the 1.2x target allows 0.2x the floor for it, with the per-delivery work)",
      ],
      targets: [],
    };
  },
};
