import { measureThroughput } from "./sections/throughput.ts";

/** The throughput section's passes, in a process started with its glibc settings (sections/throughput.ts). */
process.stdout.write(`${JSON.stringify(measureThroughput())}\n`);
