import { defineConfig } from "vitest/config";

// The tRPC tests that exercise the wire the most, run a second time with TRPC_FAST_PATH off: both
// tRPC paths (the lean one, src/trpc/fast.ts, and the stock adapter) pass them through @trpc/client.
const TRPC_WIRE = [
  "test/e2e/users/trpc-defaults.test.ts",
  "test/e2e/users/trpc-settings.test.ts",
  "test/e2e/users/password-checks.test.ts",
  "test/e2e/platform/transport-settings.test.ts",
  "test/e2e/platform/transport-parsing.test.ts",
  "test/e2e/platform/input-limits.test.ts",
  "test/e2e/platform/response-headers.test.ts",
  "test/e2e/platform/throttle-caller.test.ts",
];

export default defineConfig({
  test: {
    globalSetup: ["test/helpers/global-setup.ts"],
    // Generous: several files spawn real server processes (start-up takes seconds on a busy machine).
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end files each start their own server and database; two cores, so two at a time.
    maxWorkers: 2,
    projects: [
      // Unit tests sit beside the pure modules they test; end-to-end tests under test/.
      { extends: true, test: { name: "default", include: ["src/**/*.test.ts", "test/**/*.test.ts"] } },
      { extends: true, test: { name: "trpc-stock", include: TRPC_WIRE, env: { TEST_TRPC_FAST_PATH: "false" } } },
    ],
  },
});
