import { describe, expect, it } from "vitest";
import { stdoutFindingSink } from "../../../functions/adapters/lambda/finding-sinks.ts";
import { type Finding, FindingSchema } from "../../../functions/core/finding.ts";
import { detectEvent, detectFile, onlyFinding } from "../../helpers/events.ts";
import { variant } from "../../helpers/sample-variants.ts";

/** Local mode (PUBLISH_MODE=stdout) prints each message exactly as detect would publish it. */
describe("stdout finding sink", () => {
  it("prints one JSON line per finding: its attributes and the body SNS would get, and publishes nothing", async () => {
    const lines: string[] = [];
    const findings = detectFile("jsonl/batch-with-broken-line.jsonl").findings;
    const result = await stdoutFindingSink((line) => lines.push(line))(findings);

    expect(result).toEqual({ published: [], duplicates: [], unrecorded: [], shortened: [] });
    expect(lines).toHaveLength(findings.length);
    const first = JSON.parse(lines[0] ?? "") as { localMode: string; attributes: unknown; body: Finding };
    expect(first.localMode).toBe("not published");
    expect(first.attributes).toMatchObject({ messageType: { DataType: "String", StringValue: "finding" } });
    expect(FindingSchema.parse(first.body)).toEqual(findings[0]);
  });

  it("prints a 400-container finding bounded, as it would be published", async () => {
    const lines: string[] = [];
    const finding = onlyFinding(
      detectEvent(
        variant("privileged-sysadmin-profile", (event) => {
          event.requestObject = {
            spec: {
              ephemeralContainers: Array.from({ length: 400 }, (_, i) => ({
                name: `root-${i}`,
                securityContext: { privileged: true },
              })),
            },
          };
          delete event.responseObject;
        }),
      ),
    );
    await stdoutFindingSink((line) => lines.push(line))([finding]);
    expect(Buffer.byteLength(lines[0] ?? "")).toBeLessThan(240 * 1024);
    expect((JSON.parse(lines[0] ?? "") as { body: Finding }).body.omitted?.containers).toBe(380);
  });
});
