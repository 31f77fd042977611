// The production start that refuses weak settings: the CLI (portcullis serve) in child processes,
// all started with the file so they run alongside one another.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHEAP, withHost } from "./transport-setup.ts";

const BIN = fileURLToPath(new URL("../../../bin/portcullis.js", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "portcullis-prod-"));
// A PGlite folder: production refuses pglite:memory, a database that forgets every account at restart.
const GOOD = {
  NODE_ENV: "production",
  DATABASE_URL: `pglite:${join(tmp, "db")}`,
  EMAIL_BACKEND: "file",
  EMAIL_FILE_PATH: join(tmp, "mail"),
  DATA_DIR: tmp,
  ALLOWED_HOSTS: '["localhost"]',
  SECRET_KEY: randomBytes(36).toString("base64"),
  PORT: "0",
  LOG_LEVEL: "info",
};
const WEAK = {
  ...GOOD,
  SECRET_KEY: "short",
  DEBUG: "true",
  ALLOWED_HOSTS: undefined,
  EMAIL_BACKEND: "console",
  ARGON2: CHEAP.ARGON2,
  CORS_ALLOW_ALL_ORIGINS: "true",
  CORS_ALLOW_CREDENTIALS: "true",
  SIMPLE_JWT_SIGNING_KEY: "short-hmac-key",
};
type Run = { code: number | null; signal: string | null; stdout: string; stderr: string };

/**
 * `serve` with exactly `env` (undefined: unset); `onStdout` sees the output as it comes and may
 * signal the process.
 */
function serve(
  env: Record<string, string | undefined>,
  onStdout?: (out: string, kill: (sig: NodeJS.Signals) => void) => void,
): Promise<Run> {
  const child = spawn(process.execPath, [BIN, "serve"], {
    cwd: tmp,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const guard = setTimeout(() => child.kill("SIGKILL"), 150_000); // generous: a busy two-core box is slow to start four
  let [stdout, stderr] = ["", ""];
  child.stdout.on("data", (c) => onStdout?.((stdout += c), (sig) => child.kill(sig)));
  child.stderr.on("data", (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => (clearTimeout(guard), resolve({ code, signal, stdout, stderr })));
  });
}

/** The good config: once it listens, /healthz with an allowed and a refused Host, then SIGTERM. */
async function goodStart() {
  let checked: Promise<number[]> | undefined;
  const run = await serve(GOOD, (out, kill) => {
    const url = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(out);
    if (!url || checked) return;
    checked = Promise.all(
      [`localhost:${url[2]}`, `127.0.0.1:${url[2]}`].map(
        async (host) => (await withHost(url[1]!, host, "/healthz")).status,
      ),
    ).finally(() => kill("SIGTERM"));
  });
  return { run, statuses: await checked };
}

// (No SECRET_KEY at all: cli.test.ts.)
let prod: { weak: Promise<Run>; dull: Promise<Run>; hmac: Promise<Run>; good: ReturnType<typeof goodStart> };
beforeAll(() => {
  prod = {
    weak: serve(WEAK),
    dull: serve({ ...GOOD, SECRET_KEY: "ab".repeat(24) }),
    hmac: serve({ ...GOOD, SIMPLE_JWT_SIGNING_KEY: "short-hmac-key" }),
    good: goodStart(),
  };
  // Unhandled until awaited by their tests: keep a failure from surfacing as an unhandled rejection.
  for (const p of Object.values(prod)) p.catch(() => {});
});
afterAll(async () => {
  await Promise.allSettled(Object.values(prod ?? {}));
  rmSync(tmp, { recursive: true, force: true });
});

describe("NODE_ENV=production start (portcullis serve)", () => {
  const PROBLEMS = [
    /SECRET_KEY must be at least 32 bytes/,
    /DEBUG: must be false/,
    /ALLOWED_HOSTS: list the host names/,
    /EMAIL_BACKEND: "console"/,
    /ARGON2: m=1024 KiB, t=1 is below OWASP/,
    /CORS_ALLOW_ALL_ORIGINS with CORS_ALLOW_CREDENTIALS/,
  ];

  it("weak settings: exit 1, every problem named in one go", async () => {
    const r = await prod.weak;
    expect(r, r.stderr).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("Refusing to start with NODE_ENV=production"),
    });
    for (const p of PROBLEMS) expect(r.stderr).toMatch(p);
    expect(r.stdout).not.toMatch(/listening/i);
  }, 160_000);

  it("a short HMAC SIGNING_KEY is named with the other problems, not only once they are fixed", async () => {
    expect((await prod.weak).stderr).toMatch(/SIMPLE_JWT\.SIGNING_KEY: an HMAC key must be at least 32 bytes/);
  }, 160_000);

  it("each alone is refused too: a long key of few characters, a short HMAC key", async () => {
    const [dull, hmac] = await Promise.all([prod.dull, prod.hmac]);
    expect(dull).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("SECRET_KEY must hold at least 5 different characters"),
    });
    expect(hmac).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("SIMPLE_JWT.SIGNING_KEY: an HMAC key must be at least 32 bytes"),
    });
  }, 160_000);

  it("a good production config starts, honours ALLOWED_HOSTS, and stops on SIGTERM", async () => {
    const { run, statuses } = await prod.good;
    expect(run, `${run.stdout}\n${run.stderr}`).toMatchObject({ code: 0, signal: null });
    expect(statuses, "Host localhost, Host 127.0.0.1").toEqual([200, 400]);
    expect(run.stdout).toContain("SIGTERM received, shutting down");
  }, 160_000);
});
