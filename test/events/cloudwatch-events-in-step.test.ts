import { Buffer } from "node:buffer";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  buildCloudWatchEvents,
  buildKinesisEvents,
  CLOUDWATCH_DIR,
  KINESIS_DIR,
} from "../../scripts/build-cloudwatch-events.ts";

const FIX =
  "events/cloudwatch or events/kinesis is out of step with events/audit: run `npm run events:build` and commit the result";

/** A record's data: the data message it carries when it is gzip, else the bytes as they are (a corrupt one). */
function decodedData(data: string): unknown {
  const bytes = Buffer.from(data, "base64");
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? JSON.parse(gunzipSync(bytes).toString("utf8")) : data;
}

/** The JSON a sample carries: gzip bytes may differ between zlib builds, the decoded payload may not. */
function decoded(document: unknown): unknown {
  if (typeof document === "object" && document !== null && "Records" in document) {
    const { Records } = document as { Records: Array<{ kinesis: { data: string } }> };
    return Records.map((record) => ({
      ...record,
      kinesis: { ...record.kinesis, data: decodedData(record.kinesis.data), partitionKey: undefined },
    }));
  }
  if (typeof document === "object" && document !== null && "awslogs" in document) {
    const { awslogs } = document as { awslogs: { data: string } };
    return {
      awslogs: { data: JSON.parse(gunzipSync(Buffer.from(awslogs.data, "base64")).toString("utf8")) },
    };
  }
  return document;
}

describe.each([
  { folder: "events/cloudwatch", dir: CLOUDWATCH_DIR, built: buildCloudWatchEvents() },
  { folder: "events/kinesis", dir: KINESIS_DIR, built: buildKinesisEvents() },
])("$folder", ({ dir, built }) => {
  it("holds exactly the files scripts/build-cloudwatch-events.ts builds", () => {
    const committed = readdirSync(dir).sort();
    expect(committed, FIX).toEqual([...built.keys()].sort());
  });

  it.each([...built.keys()])("%s decodes to what the script builds from events/audit", (file) => {
    const committed: unknown = JSON.parse(readFileSync(join(dir, file), "utf8"));
    expect(decoded(committed), `${file}: ${FIX}`).toEqual(decoded(built.get(file)));
  });
});
