import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Lab tests create network namespaces; keep files from fighting over them.
    fileParallelism: true,
    pool: "forks",
  },
});
