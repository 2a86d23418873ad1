import { Buffer } from "node:buffer";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { buildCloudWatchEvents, CLOUDWATCH_DIR } from "../../scripts/build-cloudwatch-events.ts";

const FIX =
  "events/cloudwatch is out of step with events/audit: run `npm run events:build` and commit the result";

/** The JSON a sample carries: gzip bytes may differ between zlib builds, the decoded payload may not. */
function decoded(document: unknown): unknown {
  if (typeof document === "object" && document !== null && "awslogs" in document) {
    const { awslogs } = document as { awslogs: { data: string } };
    return {
      awslogs: { data: JSON.parse(gunzipSync(Buffer.from(awslogs.data, "base64")).toString("utf8")) },
    };
  }
  return document;
}

describe("events/cloudwatch", () => {
  const built = buildCloudWatchEvents();

  it("holds exactly the files scripts/build-cloudwatch-events.ts builds", () => {
    const committed = readdirSync(CLOUDWATCH_DIR).sort();
    expect(committed, FIX).toEqual([...built.keys()].sort());
  });

  it.each([...built.keys()])("%s decodes to what the script builds from events/audit", (file) => {
    const committed: unknown = JSON.parse(readFileSync(join(CLOUDWATCH_DIR, file), "utf8"));
    expect(decoded(committed), `${file}: ${FIX}`).toEqual(decoded(built.get(file)));
  });
});
