import { decodeDocument } from "../functions/core/decode-input.ts";
import { detectionConfig } from "../functions/core/detection-config.ts";
import { Detector } from "../functions/core/detector.ts";
import { CLUSTER } from "./make-events.ts";
import { makeStream } from "./make-payloads.ts";
import { gunzipLimitPass } from "./sections/throughput.ts";
import { streamNamed } from "./streams.ts";

/** `node --import tsx --cpu-prof bench/profile-unfiltered.ts [stream]`: detector passes over one stream, for profiling. */
const batch = makeStream(streamNamed(process.argv[2] ?? "unfiltered").spec);
const config = detectionConfig({ cluster: CLUSTER });
let findings = 0;
const started = performance.now();
for (let pass = 0; pass < 20; pass++) {
  for (let index = 0; index < batch.payloads.length; index++) {
    findings += new Detector(config).ingest(decodeDocument(batch.payloads[index], `payload ${index}`)).length;
  }
  gunzipLimitPass(batch);
}
console.error({ findings, ms: performance.now() - started });
