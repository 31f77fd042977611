// import-django's work, loaded only when it runs: the source, the target, progress on stderr.
import { existsSync } from "node:fs";
import type { Settings } from "../config/schema.ts";
import { type Database, openDatabase } from "../db/index.ts";
import { formatReport, importDjango } from "../django-import/import.ts";
import { openDjangoSource } from "../django-import/source.ts";
import { tellServers } from "./context.ts";

export async function runImport(
  settings: Settings,
  spec: string,
  opts: { dryRun: boolean; batchSize: number; json: boolean },
) {
  const { dryRun, batchSize } = opts;
  const source = await openDjangoSource(spec);
  const bar = progress(dryRun ? "checked" : "imported");
  let db: Database | undefined;
  try {
    // A dry run creates nothing, not even an empty PGlite folder.
    const pgliteDir = settings.DATABASE_URL.startsWith("pglite:")
      ? settings.DATABASE_URL.slice("pglite:".length)
      : null;
    let emptyTarget = dryRun && pgliteDir !== null && pgliteDir !== "memory" && !existsSync(pgliteDir);
    db = await openDatabase(emptyTarget ? "pglite:memory" : settings.DATABASE_URL, {
      poolSize: settings.DATABASE_POOL_SIZE,
    });
    const pending = emptyTarget ? [] : await db.pending();
    if (pending.length && dryRun) {
      // Never migrated: every user would be new. Half-migrated: the tables cannot be read as they will be.
      const [row] = await db.prisma.$queryRawUnsafe<{ t: string | null }[]>(
        "SELECT to_regclass('auth_user')::text AS t",
      );
      if (row?.t)
        throw new Error(
          `the database has pending migrations (${pending.join(", ")}): ` +
            "run `portcullis migrate` first (a dry run writes nothing).",
        );
      emptyTarget = true;
    } else if (pending.length && !settings.AUTO_MIGRATE) {
      throw new Error(
        `the database has pending migrations (${pending.join(", ")}) and AUTO_MIGRATE is off: ` +
          "run `portcullis migrate` first.",
      );
    } else if (pending.length) {
      await db.migrate();
    }
    const report = await importDjango(db.prisma, settings, source, {
      dryRun,
      batchSize,
      emptyTarget,
      onProgress: bar.update,
    }).finally(bar.end);
    process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    // A re-run may change users a running server has cached (a password, is_active, a revoked key).
    if (!dryRun) await tellServers(settings, db);
    return 0;
  } finally {
    await source.close();
    await db?.close();
  }
}

/** "imported 1500/20000 users" on stderr: one line rewritten in place on a terminal, a line per batch otherwise. */
function progress(verb: string) {
  const tty = process.stderr.isTTY === true;
  let open = false; // a terminal line not ended yet
  return {
    update(done: number, total: number) {
      const text = `${verb} ${done}/${total} users`;
      if (!tty) return void process.stderr.write(`${text}\n`);
      const width = 30;
      const filled = total > 0 ? Math.min(width, Math.round((width * done) / total)) : width;
      process.stderr.write(`\r[${"#".repeat(filled)}${".".repeat(width - filled)}] ${text}`);
      open = true;
    },
    end() {
      if (open) process.stderr.write("\n");
      open = false;
    },
  };
}
