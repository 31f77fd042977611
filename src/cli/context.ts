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
