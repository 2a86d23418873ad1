import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // No test may take more than 5 s on a loaded 2-core machine (DEVELOPERS.md): a slower one fails here first.
    testTimeout: 5_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
