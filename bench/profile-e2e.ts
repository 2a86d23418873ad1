import { stopDetectPeers, withDetectHandler } from "./detect-harness.ts";
import { findingsDelivery } from "./sections/end-to-end.ts";

/** `node --import tsx --cpu-prof bench/profile-e2e.ts [findings]`: one delivery through detect, for profiling. */
const size = Number(process.argv[2] ?? 1000);
await withDetectHandler(async (harness) => {
  await harness.invoke(findingsDelivery(20, "warm-up"));
  const event = findingsDelivery(size, `profile-${Date.now()}`);
  const result = await harness.invoke(event);
  console.error(JSON.stringify({ size, ...result }));
});
await stopDetectPeers();
