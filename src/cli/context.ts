// What every command but serve shares: the settings in force and a database opened on them.
import { loadSettings } from "../config/load.ts";
import type { Settings } from "../config/schema.ts";
import { type Database, openDatabase } from "../db/index.ts";

/** The settings in force; their warnings (a misspelt name, a generated key) go to stderr. */
export function commandSettings(): Settings {
  const { settings, warnings } = loadSettings();
  for (const w of warnings) process.stderr.write(`Warning: ${w}\n`);
  return settings;
}

/** Opens DATABASE_URL, runs `fn` and closes it whatever happens (an unclosed PGlite keeps the process alive). */
export async function withDatabase<T>(
  settings: Settings,
  fn: (db: Database) => Promise<T>,
  poolSize = settings.DATABASE_POOL_SIZE,
): Promise<T> {
  const db = await openDatabase(settings.DATABASE_URL, { poolSize });
  try {
    await db.ping(); // an unreachable PostgreSQL is reported as such, with DATABASE_URL to check
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** withDatabase, on a schema brought up to date first when AUTO_MIGRATE is on (as serve does). */
export function withMigratedDatabase<T>(settings: Settings, fn: (db: Database) => Promise<T>, poolSize?: number) {
  return withDatabase(
    settings,
    async (db) => {
      if (settings.AUTO_MIGRATE) await db.migrate();
      return fn(db);
    },
    poolSize,
  );
}

/**
 * After a command changed sessions or users behind the servers' backs: every running server
 * empties its auth cache (over Redis, or PostgreSQL's NOTIFY). A failure is a warning: their
 * entries then last at most AUTH_CACHE_SECONDS.
 */
export async function tellServers(settings: Settings, db: Database): Promise<void> {
  const { broadcastForgetAll } = await import("../core/sessions/invalidations.ts");
  try {
    await broadcastForgetAll(settings.AUTH_CACHE_SECONDS > 0 ? settings.REDIS_URL : null, db.notify ?? null);
  } catch (e) {
    const wait = `their caches keep entries for at most AUTH_CACHE_SECONDS (${settings.AUTH_CACHE_SECONDS} s)`;
    process.stderr.write(`Warning: running servers could not be told (${(e as Error).message}); ${wait}.\n`);
  }
}
