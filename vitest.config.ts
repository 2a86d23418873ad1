import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // No test may take more than 5 s on a loaded 2-core machine (DEVELOPERS.md): a slower one fails here first.
    testTimeout: 5_000,
    hookTimeout: 60_000,
    pool: "forks",
    // The AWS SDK's documented switch for its notice that releases from January 2027 need Node 22, printed by
    // every process that makes a client on Node 20 (workers and the CLIs the tests start). The suite runs on
    // Node 22 as well (npm run test:node22), where there is no notice to hide.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
