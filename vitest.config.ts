import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Unit tests sit beside the pure modules they test; end-to-end tests under test/.
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // Generous: several files spawn real server processes (tsx start-up takes seconds on a busy machine).
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end files each start their own server and database; two cores, so two at a time.
    maxWorkers: 2,
  },
});
