// Starts a real Portcullis server on a free port over a fresh database: PGlite in memory, or a
// new PostgreSQL database (dropped afterwards) on the local server.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { loadSettings } from "../../src/config/load.ts";
import type { Settings } from "../../src/config/schema.ts";
import { type RunningServer, startServer } from "../../src/server.ts";
import { type Mail, readMails } from "./mail.ts";
import { readResponse } from "./net.ts";

export const DATABASES = ["pglite", "postgresql"] as const;
export type DatabaseKind = (typeof DATABASES)[number];
export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export type TestServer = RunningServer & {
  /** Mails delivered so far (request() and trpcClient() wait for the outbox after each call). */
  mails(): Mail[];
  /** fetch against the server; JSON bodies are serialised for you. */
  request(
    method: string,
    path: string,
    init?: { json?: unknown; body?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Headers; text: string; json: any }>;
  stop(): Promise<void>;
};

export async function freshPostgres(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `portcullis_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** How a test server starts on its settings: `portcullis serve`'s startServer, or a host app (helpers/embed.ts). */
export type Start = (settings: Settings) => Promise<RunningServer>;

export async function startTestServer(
  kind: DatabaseKind,
  env: Record<string, string> = {},
  start: Start = startServer,
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-test-"));
  const pgdb = kind === "postgresql" && !env.DATABASE_URL ? await freshPostgres() : null;
  const { settings } = loadSettings({
    SECRET_KEY: "test-secret-key-that-is-long-enough-0123456789",
    DATABASE_URL: pgdb?.url ?? "pglite:memory",
    PORT: "0",
    LOG_LEVEL: "silent",
    EMAIL_BACKEND: "file",
    EMAIL_FILE_PATH: join(dir, "mail"),
    DATA_DIR: dir,
    // Tests send many requests from one address; the throttle tests turn it on.
    DEFAULT_THROTTLE_RATES: "{}",
    // TEST_TRPC_FAST_PATH=false runs the tRPC tests through the stock adapter (the trpc-stock project).
    TRPC_FAST_PATH: process.env.TEST_TRPC_FAST_PATH ?? "true",
    ...env,
  });
  const server = await start(settings);
  return {
    ...server,
    mails: () => readMails(join(dir, "mail")),
    async request(method, path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      let body = init.body;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        headers["content-type"] ??= "application/json";
      }
      const response = await readResponse(
        await fetch(server.url + path, { method, headers, body, redirect: "manual" }),
      );
      await server.deps.outbox.idle(); // mails are queued by the request and sent just after it
      return response;
    },
    async stop() {
      await server.close();
      await pgdb?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A staff superuser, made by the same code as `portcullis createsuperuser` (setup only). */
export async function createStaff(
  server: RunningServer,
  username = "admin",
  password = "Adm1n-Passw0rd!",
  email = "admin@example.com",
) {
  const { createSuperuser } = await import("../../src/core/users/admin.ts");
  return createSuperuser(server.settings, server.deps.prisma, { username, email, password });
}
