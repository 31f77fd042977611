// Starts the HTTP server on the settings in force, and stops it cleanly.
import cluster from "node:cluster";
import { buildApp } from "./app.ts";
import { loadSettings, SettingsError } from "./config/load.ts";
import type { Settings } from "./config/schema.ts";
import { createDeps, createLogger } from "./core/container.ts";
import type { Deps } from "./core/deps.ts";
import { openDatabase } from "./db/index.ts";

export type RunningServer = {
  app: Awaited<ReturnType<typeof buildApp>>;
  url: string;
  settings: Settings;
  deps: Deps;
  close(): Promise<void>;
};

export async function startServer(settings: Settings, warnings: string[] = []): Promise<RunningServer> {
  const log = createLogger(settings);
  for (const w of warnings) log.warn(w);
  const resources = await createDeps(settings, log);
  // The app owns them from here: app.close() closes the survey, housekeeping, database and deps.
  const app = await buildApp(resources);
  try {
    await app.listen({ host: settings.HOST, port: settings.PORT });
  } catch (e) {
    await app.close();
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : settings.PORT;
  let closing: Promise<void> | undefined;
  // Stops accepting, lets in-flight requests finish, then closes what the app holds (its onClose).
  const close = () => (closing ??= app.close());

  return {
    app,
    deps: resources.deps,
    url: `http://${settings.HOST.includes(":") ? `[${settings.HOST}]` : settings.HOST}:${port}`,
    settings,
    close,
  };
}

/**
 * `portcullis serve --workers N`: N processes (node:cluster) sharing one port. Migrations run
 * once, here, before any worker starts; a worker that dies is replaced; SIGINT/SIGTERM stop all.
 * Workers share nothing in memory, so they need PostgreSQL, and Redis for shared throttles
 * (without REDIS_URL each worker throttles alone; the auth cache hears invalidations over PostgreSQL).
 */
export async function serveWorkers(count: number, env = process.env): Promise<void> {
  if (!cluster.isPrimary) {
    await serve(env);
    return;
  }
  const { settings, warnings } = loadSettings(env);
  const log = createLogger(settings);
  for (const w of warnings) log.warn(w);
  if (settings.DATABASE_URL.startsWith("pglite:"))
    throw new SettingsError(
      "--workers needs PostgreSQL: a PGlite database belongs to one process (set DATABASE_URL=postgresql://…)",
    );
  if (!settings.REDIS_URL)
    log.warn(`REDIS_URL is not set: each of the ${count} workers counts its own throttles (limits are ×${count})`);
  if (settings.AUTO_MIGRATE) {
    const db = await openDatabase(settings.DATABASE_URL, { poolSize: 1 });
    try {
      const applied = await db.migrate();
      if (applied.length) log.info({ applied }, "migrations applied");
    } finally {
      await db.close();
    }
  }
  let stopping = false;
  const fork = () => cluster.fork({ ...env, AUTO_MIGRATE: "false" });
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    log.error({ pid: worker.process.pid, code, signal }, "worker died; starting another");
    fork();
  });
  for (let i = 0; i < count; i++) fork();
  log.info(`Portcullis primary ${process.pid}: ${count} workers`);
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    log.info(`${signal} received, stopping ${count} workers`);
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
    cluster.disconnect(() => process.exit(0));
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}

/** `portcullis serve`: start, then stop on SIGINT/SIGTERM. */
export async function serve(env = process.env): Promise<RunningServer> {
  const { settings, warnings } = loadSettings(env);
  const server = await startServer(settings, warnings);
  const database = settings.DATABASE_URL.startsWith("pglite:") ? settings.DATABASE_URL : "postgresql";
  server.app.log.info(`Portcullis listening on ${server.url} (database: ${database})`);
  // SIGTERM drains: /readyz turns 503 and requests are served SHUTDOWN_DRAIN_SECONDS more, so a
  // load balancer stops sending before the listener closes; then in-flight requests finish.
  const stop = (signal: string) => {
    const drain = settings.SHUTDOWN_DRAIN_SECONDS;
    server.app.log.info(`${signal} received, shutting down${drain ? ` in ${drain} s (draining)` : ""}`);
    server.deps.lifecycle.draining = true;
    new Promise((r) => setTimeout(r, drain * 1000)).then(server.close).then(
      () => process.exit(0),
      (e) => {
        server.app.log.error({ err: e }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  return server;
}
