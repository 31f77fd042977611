// Builds the service dependencies from settings: JWT keys, database, mailer, logger.
import pino, { type Logger } from "pino";
import type { Settings } from "../config/schema.ts";
import { openDatabase, type Database } from "../db/index.ts";
import type { Deps } from "./deps.ts";
import { loadKeyRing } from "./jwt-keys.ts";
import { createMailer } from "./mail.ts";

export function createLogger(settings: Settings): Logger {
  return pino({
    level: settings.LOG_LEVEL,
    // Belt and braces: nothing logs these, and if something ever does they come out redacted.
    redact: { paths: ["req.headers.authorization", "req.headers.cookie", "password", "*.password", "token", "*.token", "auth_token", "*.auth_token", "key"], censor: "[redacted]" },
  });
}

export async function createDeps(settings: Settings, log = createLogger(settings)): Promise<{ deps: Deps; db: Database }> {
  const keys = loadKeyRing(settings); // before the database: a bad key stops the start at once
  const db = await openDatabase(settings.DATABASE_URL, { poolSize: settings.DATABASE_POOL_SIZE });
  if (settings.AUTO_MIGRATE) {
    const applied = await db.migrate();
    if (applied.length) log.info({ applied }, "migrations applied");
  }
  const mailer = createMailer(settings, log);
  return { db, deps: { settings, prisma: db.prisma, mailer, keys, log } };
}
