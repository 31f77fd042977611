// Applies the committed migrations (prisma/migrations) without Prisma's native schema engine,
// writing _prisma_migrations exactly as `prisma migrate deploy` does, so Prisma can take over at
// any time (facts from prisma-engines, checked against rows Prisma wrote). Prisma's CLI cannot
// run its schema engine on offline machines; this is the one piece written by hand for that.
import { createHash, randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const MIGRATIONS_DIR = fileURLToPath(new URL("../../prisma/migrations", import.meta.url));
const LOCK_KEY = 72707369; // Prisma's advisory lock id

/** One database session: the advisory lock and the statements must share it. */
export type Session = {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a whole script in one call (one implicit transaction in PostgreSQL's simple protocol). */
  exec(script: string): Promise<void>;
};

export class MigrationError extends Error {}

/** Told of each migration as it starts and as it is recorded (`portcullis migrate` prints them). */
export type MigrationProgress = { applying?(name: string): void; applied?(name: string): void };

export async function pendingMigrations(session: Session, dir = MIGRATIONS_DIR): Promise<string[]> {
  const names = await migrationNames(dir);
  if (!(await tableExists(session))) return names;
  const rows = await session.query<{ migration_name: string }>(
    "SELECT migration_name FROM _prisma_migrations WHERE rolled_back_at IS NULL",
  );
  const applied = new Set(rows.map((r) => r.migration_name));
  return names.filter((n) => !applied.has(n));
}

export async function applyMigrations(
  session: Session,
  dir = MIGRATIONS_DIR,
  progress: MigrationProgress = {},
): Promise<string[]> {
  const lock = await readFile(join(dir, "migration_lock.toml"), "utf8");
  if (!/provider\s*=\s*"postgresql"/.test(lock))
    throw new MigrationError(`${dir}/migration_lock.toml does not say provider = "postgresql"`);
  await session.query("SELECT pg_advisory_lock($1)", [LOCK_KEY]);
  try {
    if (!(await tableExists(session))) {
      const others = await session.query(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() LIMIT 1",
      );
      if (others.length > 0) {
        throw new MigrationError(
          "The database schema is not empty and has no migration history (Prisma's P3005): " +
            "point DATABASE_URL at an empty database, or baseline it with `prisma migrate resolve`.",
        );
      }
      await session.exec(`CREATE TABLE "_prisma_migrations" (
        "id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ,
        "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ,
        "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    }
    const failed = await session.query<{ migration_name: string }>(
      "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NULL AND rolled_back_at IS NULL",
    );
    if (failed[0]) {
      throw new MigrationError(
        `Migration ${failed[0].migration_name} failed earlier (Prisma's P3009); ` +
          "fix it and mark it with `prisma migrate resolve` before applying more.",
      );
    }
    const applied: string[] = [];
    for (const name of await pendingMigrations(session, dir)) {
      const script = await readFile(join(dir, name, "migration.sql"));
      progress.applying?.(name);
      const id = randomUUID();
      const checksum = createHash("sha256").update(script).digest("hex");
      await session.query(
        "INSERT INTO _prisma_migrations (id, checksum, started_at, migration_name) VALUES ($1, $2, now(), $3)",
        [id, checksum, name],
      );
      try {
        await session.exec(script.toString("utf8"));
      } catch (e) {
        await session.query("UPDATE _prisma_migrations SET logs = $1 WHERE id = $2", [
          String((e as Error).message),
          id,
        ]);
        throw new MigrationError(`Migration ${name} failed: ${(e as Error).message}`);
      }
      await session.query(
        "UPDATE _prisma_migrations SET applied_steps_count = applied_steps_count + 1, finished_at = now() " +
          "WHERE id = $1",
        [id],
      );
      applied.push(name);
      progress.applied?.(name);
    }
    return applied;
  } finally {
    await session.query("SELECT pg_advisory_unlock($1)", [LOCK_KEY]);
  }
}

async function migrationNames(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

async function tableExists(session: Session): Promise<boolean> {
  const rows = await session.query<{ t: string | null }>("SELECT to_regclass('_prisma_migrations')::text AS t");
  return rows[0]?.t != null;
}
