// Upgrading a database from before activation_pending existed: which inactive accounts may still
// activate by link. The migrations up to the previous one are applied, rows written as that
// version wrote them, then the rest applied. On PGlite and PostgreSQL.
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { applyMigrations, MIGRATIONS_DIR, type Session } from "../../../src/db/migrate.ts";
import { DATABASES, freshPostgres } from "../../helpers/server.ts";

const MIGRATION = "20261202060450_link_purposes";

/** The committed migrations before `MIGRATION`, as a folder of their own. */
function migrationsBefore(): string {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-migrations-"));
  cpSync(join(MIGRATIONS_DIR, "migration_lock.toml"), join(dir, "migration_lock.toml"));
  for (const name of readdirSync(MIGRATIONS_DIR).filter((n) => n < MIGRATION && !n.endsWith(".toml"))) {
    cpSync(join(MIGRATIONS_DIR, name), join(dir, name), { recursive: true });
  }
  return dir;
}

async function openSession(kind: (typeof DATABASES)[number]) {
  if (kind === "pglite") {
    const db = await PGlite.create();
    const session: Session = {
      query: async <T>(sql: string, params?: unknown[]) => (await db.query<T>(sql, params)).rows,
      exec: async (s) => void (await db.exec(s)),
    };
    return { session, close: () => db.close() };
  }
  const { url, drop } = await freshPostgres();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const session: Session = {
    query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
    exec: async (s) => void (await client.query(s)),
  };
  return { session, close: async () => (await client.end(), await drop()) };
}

describe.each(DATABASES)("upgrading to activation_pending on %s", (kind) => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("an inactive account waits for activation only if it never logged in and staff never deactivated it", async () => {
    const { session, close } = await openSession(kind);
    try {
      const before = migrationsBefore();
      dirs.push(before);
      expect(await applyMigrations(session, before)).not.toContain(MIGRATION);
      const insert = "INSERT INTO auth_user (username, password, is_active, last_login) VALUES ($1, 'x', $2, $3)";
      const user = (name: string, active: boolean, at: string | null) => session.query(insert, [name, active, at]);
      await user("registered", false, null); // mailed an activation link, not used yet
      await user("suspended", false, "2026-11-20T10:00:00Z"); // was active, then switched off
      await user("suspended_early", false, null); // switched off by staff before a first login
      await user("active", true, null);
      const [early] = await session.query<{ id: number }>("SELECT id FROM auth_user WHERE username='suspended_early'");
      const deactivated = '{"session":"all","reason":"deactivated","by":1}'; // what setActive audits
      const audit = "INSERT INTO audit_event (kind, user_id, data) VALUES ('session_revoked', $1, $2)";
      await session.query(audit, [early!.id, deactivated]);

      // This migration, and those committed after it.
      expect((await applyMigrations(session))[0]).toBe(MIGRATION);
      const rows = await session.query<{ username: string; pending: boolean }>(
        "SELECT username, activation_pending AS pending FROM auth_user ORDER BY id",
      );
      expect(Object.fromEntries(rows.map((r) => [r.username, r.pending]))).toEqual({
        registered: true,
        suspended: false,
        suspended_early: false,
        active: false,
      });
    } finally {
      await close();
    }
  });
});
