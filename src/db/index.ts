// The Prisma client over PGlite (embedded default: Postgres in WASM, zero set-up) or PostgreSQL
// (production, @prisma/adapter-pg). One schema and one migration history serve both.
import pg from "pg";
import { PrismaClient } from "../generated/prisma/client.ts";
import { unreachable } from "./connect-errors.ts";
import { lockFolder, makePrivateFolder, makePrivateTree } from "./folder.ts";
import { applyMigrations, MIGRATIONS_DIR, type MigrationProgress, pendingMigrations, type Session } from "./migrate.ts";

export type Prisma = PrismaClient;
export type Database = {
  prisma: PrismaClient;
  kind: "pglite" | "postgresql";
  /** Applies the pending migrations; the names of those applied. */
  migrate(progress?: MigrationProgress): Promise<string[]>;
  pending(): Promise<string[]>;
  /** Connects once: a database that cannot be reached fails here, with what to check. */
  ping(): Promise<void>;
  /** Closes every connection; an unclosed PGlite keeps the process alive. */
  close(): Promise<void>;
  /** PostgreSQL's NOTIFY on the pool's connections (PGlite has no other process to tell). */
  notify?(channel: string, payload: string): Promise<void>;
  /** PostgreSQL's connection pool: open, idle and waiting (PGlite has none). */
  pool?(): { total: number; idle: number; waiting: number };
};

export async function openDatabase(url: string, opts: { poolSize?: number } = {}): Promise<Database> {
  return url.startsWith("pglite:") ? openPglite(url.slice("pglite:".length)) : openPostgres(url, opts.poolSize ?? 10);
}

async function openPglite(dir: string): Promise<Database> {
  if (dir === "memory") return pgliteDatabase(undefined, () => {});
  // Owner-only and one process at a time (folder.ts); the lock is taken before PGlite reads a file.
  makePrivateFolder(dir);
  const lock = lockFolder(dir);
  try {
    makePrivateTree(dir); // a folder an older version made, or one copied in with lax modes
    return await pgliteDatabase(dir, () => {
      makePrivateTree(dir); // the files PGlite made while it ran
      lock.release();
    });
  } catch (e) {
    lock.release();
    throw e;
  }
}

async function pgliteDatabase(dir: string | undefined, closed: () => void): Promise<Database> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { PrismaPGlite } = await import("pglite-prisma-adapter");
  const pglite = await PGlite.create(dir);
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  // PGlite is one session, so the advisory lock and the statements share it. Its exec (not the
  // adapter's executeScript, which does not await errors) runs a migration script.
  const session: Session = {
    query: async <T>(sql: string, params?: unknown[]) => (await pglite.query<T>(sql, params)).rows,
    exec: async (script) => void (await pglite.exec(script)),
  };
  return {
    prisma,
    kind: "pglite",
    migrate: (progress) => applyMigrations(session, MIGRATIONS_DIR, progress),
    pending: () => pendingMigrations(session),
    ping: async () => void (await session.query("SELECT 1")),
    close: async () => {
      await prisma.$disconnect();
      if (!pglite.closed) await pglite.close();
      closed();
    },
  };
}

async function openPostgres(url: string, poolSize: number): Promise<Database> {
  const { PrismaPg } = await import("@prisma/adapter-pg");
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // A dropped idle connection must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const withSession = async <T>(fn: (s: Session) => Promise<T>): Promise<T> => {
    const client = await pool.connect().catch((e) => Promise.reject(unreachable(url, e)));
    try {
      // One simple-protocol query per script: atomic, no naive split on ";".
      return await fn({
        query: async <R>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as R[],
        exec: async (s) => void (await client.query(s)),
      });
    } finally {
      client.release();
    }
  };
  return {
    prisma,
    kind: "postgresql",
    migrate: (progress) => withSession((s) => applyMigrations(s, MIGRATIONS_DIR, progress)),
    pending: () => withSession(pendingMigrations),
    ping: () => withSession(async (s) => void (await s.query("SELECT 1"))),
    notify: async (channel, payload) => void (await pool.query("SELECT pg_notify($1, $2)", [channel, payload])),
    pool: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    close: async () => {
      await prisma.$disconnect();
      await pool.end().catch(() => {});
    },
  };
}
