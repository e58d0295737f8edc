import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/tmpdir.ts"],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Integration files each start their own sshd; two cores: keep files in parallel but few.
    maxWorkers: 2,
    reporters: ["default", "json"],
    outputFile: { json: "test-results/vitest.json" }
  }
})
