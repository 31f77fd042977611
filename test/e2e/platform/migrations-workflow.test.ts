// The schema workflow as a developer runs it: `npm run db:migration`, `db:drift`, `pretest`/`prestart` in
// child processes with nothing set in the environment, each pointed (`--schema`) at a copy of prisma/ in
// a temporary folder, so the repository's own schema and migrations are never touched.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { describeSql } from "../../../scripts/sql-words.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
// The engine replays the whole history on a fresh PGlite: tens of seconds on a busy machine.
const SLOW = 240_000;

type Run = { code: number | null; stdout: string; stderr: string };

/** `npm run -s <script> -- <args>` in the repository, with no DATABASE_URL or other setting. */
function npm(script: string, args: string[]): Promise<Run> {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME };
  const child = spawn("npm", ["run", "-s", script, "--", ...args], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => (stdout += c));
  child.stderr.on("data", (c) => (stderr += c));
  const guard = setTimeout(() => child.kill("SIGKILL"), SLOW - 10_000);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

/** A copy of prisma/ (schema and migrations) in a fresh folder; returns its schema path. */
function copyOfPrisma(): string {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-schema-"));
  temps.push(dir);
  cpSync(join(ROOT, "prisma"), join(dir, "prisma"), { recursive: true });
  return join(dir, "prisma", "schema.prisma");
}

/** The edit of the example: a new column on auth_user and a new table with a unique and a plain index. */
function addWidgets(schemaPath: string) {
  const schema = readFileSync(schemaPath, "utf8");
  const email = '  email       String    @default("") @db.VarChar(254)\n';
  expect(schema).toContain(email);
  const widget = `
model Widget {
  id      Int    @id @default(autoincrement())
  name    String @unique @db.VarChar(40)
  ownerId Int    @map("owner_id")
  owner   User   @relation(fields: [ownerId], references: [id], onDelete: Cascade)

  @@index([ownerId, name])
  @@map("widget")
}
`;
  const edited = schema.replace(email, `${email}  nickname    String?   @db.VarChar(30)\n  widgets     Widget[]\n`);
  writeFileSync(schemaPath, edited + widget);
}

const folders = (schemaPath: string) =>
  readdirSync(join(schemaPath, "..", "migrations"), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
const generated = (schemaPath: string) => join(schemaPath, "..", "..", "src", "generated", "prisma");

/** Every file under prisma/ with its hash: the repository's own copy must end as it began. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    out[path] = createHash("sha256").update(readFileSync(path)).digest("hex");
  }
  return out;
}
const repoPrisma = fingerprint(join(ROOT, "prisma"));
afterAll(() => expect(fingerprint(join(ROOT, "prisma"))).toEqual(repoPrisma));

describe("db:migration and db:drift, offline, with nothing set", () => {
  const schema = copyOfPrisma();
  const before = folders(schema);

  it("db:drift says the committed migrations and the schema agree, and exits 0", { timeout: SLOW }, async () => {
    const run = await npm("db:drift", ["--schema", schema]);
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.stdout).toMatch(/^in sync: /m);
    expect(run.code).toBe(0);
  });

  it("db:migration with an unchanged schema writes nothing and says no changes", { timeout: SLOW }, async () => {
    const run = await npm("db:migration", ["unchanged", "--schema", schema]);
    expect(run.stdout).toMatch(/^no changes/m);
    expect(run.code).toBe(0);
    expect(folders(schema)).toEqual(before);
  });

  it("after a schema edit db:drift names each table, column and index that differs, and exits 2", {
    timeout: SLOW,
  }, async () => {
    addWidgets(schema);
    const run = await npm("db:drift", ["--schema", schema]);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/^drift: /m);
    expect(run.stdout).toContain('  - add column "nickname" (VARCHAR(30)) to table "auth_user"\n');
    expect(run.stdout).toContain('  - create table "widget" (columns id, name, owner_id)\n');
    expect(run.stdout).toContain('  - create unique index "widget_name_key" on "widget"("name")\n');
    expect(run.stdout).toContain('  - create index "widget_owner_id_name_idx" on "widget"("owner_id","name")\n');
    expect(run.stdout).toContain(
      '  - add foreign key "widget_owner_id_fkey" ("owner_id") to table "widget" referencing "auth_user"',
    );
    expect(run.stdout).toContain("npm run db:migration -- <name>");
    expect(folders(schema)).toEqual(before);
  });

  it("db:migration -- <name> writes <timestamp>_<name>/migration.sql, says what, and regenerates the client", {
    timeout: SLOW,
  }, async () => {
    const stamp = (d: Date) => d.toISOString().replace(/\D/g, "").slice(0, 14);
    const start = stamp(new Date());
    const run = await npm("db:migration", ["AddWidgets", "--schema", schema]);
    const end = stamp(new Date());
    expect(run.code).toBe(0);
    const added = folders(schema).filter((f) => !before.includes(f));
    expect(added).toHaveLength(1);
    const [name] = added as [string];
    // Prisma's naming: UTC yyyymmddhhmmss, then the name as `migrate dev --name` slugs it.
    expect(name).toMatch(/^\d{14}_add_widgets$/);
    expect(name.slice(0, 14) >= start && name.slice(0, 14) <= end).toBe(true);
    const file = join(schema, "..", "migrations", name, "migration.sql");
    expect(run.stdout).toContain(`wrote ${file}:`);
    expect(run.stdout).toContain('  - create table "widget" (columns id, name, owner_id)\n');
    const sql = readFileSync(file, "utf8");
    expect(sql).toMatch(/ALTER TABLE "auth_user" ADD COLUMN\s+"nickname" VARCHAR\(30\);/);
    expect(sql).toContain('CREATE TABLE "widget" (');
    expect(sql).toContain('CREATE UNIQUE INDEX "widget_name_key" ON "widget"("name");');
    expect(run.stdout).toContain(sql.trimEnd());
    expect(readFileSync(join(schema, "..", "migrations", "migration_lock.toml"), "utf8")).toContain(
      'provider = "postgresql"',
    );
    // The client beside the copy now knows the new model.
    expect(existsSync(join(generated(schema), "models", "Widget.ts"))).toBe(true);
  });

  it("then db:drift is in sync and db:migration has nothing to write", { timeout: 2 * SLOW }, async () => {
    const drift = await npm("db:drift", ["--schema", schema]);
    expect(drift.stdout).toMatch(/^in sync: /m);
    expect(drift.code).toBe(0);
    const count = folders(schema).length;
    const again = await npm("db:migration", ["add_widgets", "--schema", schema]);
    expect(again.stdout).toMatch(/^no changes/m);
    expect(again.code).toBe(0);
    expect(folders(schema)).toHaveLength(count);
  });

  it("db:migration without a name says how to call it", async () => {
    const run = await npm("db:migration", ["--schema", schema]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("usage: npm run db:migration -- <name>");
  });
});

describe("the generated client follows the schema", () => {
  const schema = copyOfPrisma();
  const client = () => join(generated(schema), "client.ts");

  it("pretest generates a missing client, and prestart leaves a current one alone", { timeout: SLOW }, async () => {
    const first = await npm("pretest", ["--schema", schema]);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain("regenerating");
    expect(existsSync(client())).toBe(true);
    expect(existsSync(join(generated(schema), ".schema-hash"))).toBe(true);
    const mtime = statSync(client()).mtimeMs;
    const second = await npm("prestart", ["--schema", schema]);
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain("regenerating");
    expect(statSync(client()).mtimeMs).toBe(mtime);
  });

  it("a schema edit makes pretest regenerate the client", { timeout: SLOW }, async () => {
    expect(existsSync(join(generated(schema), "models", "Widget.ts"))).toBe(false);
    addWidgets(schema);
    const run = await npm("pretest", ["--schema", schema]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("changed since");
    expect(existsSync(join(generated(schema), "models", "Widget.ts"))).toBe(true);
    expect(readFileSync(join(generated(schema), "models", "User.ts"), "utf8")).toContain("nickname");
  });
});

describe("drift in words", () => {
  it("names what each statement of a migration script changes", () => {
    const sql = `-- DropIndex
DROP INDEX "auth_token_user_id_idx";

-- AlterTable
ALTER TABLE "auth_user" DROP COLUMN "token_seed",
ALTER COLUMN "email" SET DATA TYPE VARCHAR(320),
ALTER COLUMN "first_name" DROP DEFAULT,
ALTER COLUMN "last_login" SET NOT NULL;

-- CreateEnum
CREATE TYPE "Role" AS ENUM ('admin', 'user');

-- DropTable
DROP TABLE "login_lock";

-- RenameIndex
ALTER INDEX "a_idx" RENAME TO "b_idx";

-- DropForeignKey
ALTER TABLE "mail_outbox" DROP CONSTRAINT "mail_outbox_user_id_fkey";

UPDATE "auth_user" SET "email" = 'a;b';
`;
    expect(describeSql(sql)).toEqual([
      'drop index "auth_token_user_id_idx"',
      'drop column "token_seed" from table "auth_user"',
      'change column "email" of table "auth_user": type to VARCHAR(320)',
      'change column "first_name" of table "auth_user": drop its default',
      'change column "last_login" of table "auth_user": make it NOT NULL',
      "create enum \"Role\" ('admin', 'user')",
      'drop table "login_lock"',
      'rename index "a_idx" to "b_idx"',
      'drop constraint "mail_outbox_user_id_fkey" from table "mail_outbox"',
      `UPDATE "auth_user" SET "email" = 'a;b'`,
    ]);
    expect(describeSql("-- This is an empty migration.\n")).toEqual([]);
  });
});
