// Starts the HTTP server on the settings in force, and stops it cleanly.
import { loadSettings } from "./config/load.ts";
import type { Settings } from "./config/schema.ts";
import { buildApp } from "./http/app.ts";
import { createDeps, createLogger } from "./services/container.ts";
import type { Deps } from "./services/deps.ts";

export type RunningServer = { app: Awaited<ReturnType<typeof buildApp>>; url: string; settings: Settings; deps: Deps; close(): Promise<void> };

export async function startServer(settings: Settings, warnings: string[] = []): Promise<RunningServer> {
  const log = createLogger(settings);
  for (const w of warnings) log.warn(w);
  const { deps, db } = await createDeps(settings, log);
  const app = await buildApp({ deps, db });
  try {
    await app.listen({ host: settings.HOST, port: settings.PORT });
  } catch (e) {
    await db.close();
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : settings.PORT;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await app.close(); // stops accepting, lets in-flight requests finish
      await deps.mailer.close();
      await db.close(); // an unclosed PGlite keeps the process alive
    })());
  return { app, deps, url: `http://${settings.HOST.includes(":") ? `[${settings.HOST}]` : settings.HOST}:${port}`, settings, close };
}

/** `portcullis serve`: start, then stop on SIGINT/SIGTERM. */
export async function serve(env = process.env): Promise<RunningServer> {
  const { settings, warnings } = loadSettings(env);
  const server = await startServer(settings, warnings);
  server.app.log.info(`Portcullis listening on ${server.url} (database: ${settings.DATABASE_URL.startsWith("pglite:") ? settings.DATABASE_URL : "postgresql"})`);
  const stop = (signal: string) => {
    server.app.log.info(`${signal} received, shutting down`);
    server.close().then(
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
