// biome-ignore-all lint/suspicious/noExplicitAny: glue around untyped internals (wasm-bindgen, adapters)
// Prisma's schema engine as WebAssembly (@prisma/schema-engine-wasm), driven through a Prisma 7 driver
// adapter: the engine Prisma's CLI runs natively, here without a download. The database is
// `pglite:memory` (a scratch PGlite, also the shadow database), `pglite:<folder>` or `postgresql://…`
// (shadow database `<name>_shadow`, or SHADOW_DB, created beforehand: it is wiped before use).
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import * as bg from "@prisma/schema-engine-wasm/schema_engine_bg";

const require = createRequire(import.meta.url);

export const filters = { externalTables: [], externalEnums: [] };
export type SchemaFiles = { files: { path: string; content: string }[] };

export async function loadEngineClass() {
  const wasmPath = join(
    dirname(require.resolve("@prisma/schema-engine-wasm/schema_engine_bg")),
    "schema_engine_bg.wasm",
  );
  const mod = new WebAssembly.Module(await readFile(wasmPath));
  const inst = new WebAssembly.Instance(mod, { "./schema_engine_bg.js": bg as any });
  bg.__wbg_set_wasm(inst.exports);
  (inst.exports as any).__wbindgen_start();
  return bg.SchemaEngine;
}

export const engineVersion = () => bg.version();

/** An engine over the database at `url`, holding `schema` as its datamodel. Call `free()` when done. */
export async function openEngine(url: string, schema: SchemaFiles) {
  const SchemaEngine = await loadEngineClass();
  const factory = bindMigrationAwareSqlAdapterFactory((await makeAdapterFactory(url)) as any);
  return SchemaEngine.new(
    { datamodels: schema.files.map((f) => [f.path, f.content]) },
    (log: string) => process.env.SE_DEBUG && console.error("[engine]", log),
    factory,
  );
}

async function makeAdapterFactory(url: string) {
  if (url.startsWith("pglite:")) return pgliteFactory(url.slice("pglite:".length));
  const { PrismaPg } = await import("@prisma/adapter-pg");
  const { oidFixPool } = await import("./pg-oid-fix.ts");
  const u = new URL(url);
  const cfg = {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password) || undefined,
    database: u.pathname.slice(1),
  };
  // Returns a factory whose adapters run migration scripts as ONE simple-protocol query (atomic, no naive
  // split on ';' as in PrismaPgAdapter.executeScript) and map OID 18 "char" columns to text.
  const mk = (c: typeof cfg) => {
    const pool = process.env.NO_OID_FIX ? new (require("pg").Pool)(c) : oidFixPool(c);
    const f = new PrismaPg(pool);
    const origConnect = f.connect.bind(f);
    f.connect = async () => {
      const a: any = await origConnect();
      if (!process.env.NAIVE_SCRIPT)
        a.executeScript = async (script: string) => {
          try {
            await pool.query(script);
          } catch (e) {
            a.onError(e);
          }
        };
      return a;
    };
    return f;
  };
  const main = mk(cfg);
  const shadowDb = process.env.SHADOW_DB ?? `${cfg.database}_shadow`;
  return {
    provider: main.provider,
    adapterName: main.adapterName,
    connect: () => main.connect(),
    connectToShadowDb: async () => {
      // pre-created shadow DB, wiped before use
      const a = await mk({ ...cfg, database: shadowDb }).connect();
      await a.executeScript("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;");
      return a;
    },
  };
}

/** `memory` or a folder; the shadow database is always a fresh PGlite in memory. */
async function pgliteFactory(dir: string) {
  const { PGlite } = await import("@electric-sql/pglite");
  const { PrismaPGlite } = await import("pglite-prisma-adapter");
  // pglite-prisma-adapter 0.7.2 executeScript() does not await client.exec(): failing scripts are
  // reported as success. Patch adapters so scripts are awaited (and errors surface).
  const fixScript = (a: any, db: any) => {
    a.executeScript = async (s: string) => {
      try {
        await db.exec(s);
      } catch (e) {
        a.onError(e);
      }
    };
    return a;
  };
  const main = new PGlite(dir === "memory" ? undefined : dir);
  const f = new PrismaPGlite(main);
  return {
    provider: f.provider,
    adapterName: f.adapterName,
    connect: async () => fixScript(await f.connect(), main),
    connectToShadowDb: async () => {
      const sh = new PGlite();
      return fixScript(await new PrismaPGlite(sh).connect(), sh);
    },
  };
}

/** The migration history in the shape the engine reads (folders sorted by name, as Prisma does). */
export async function migrationsList(dir: string) {
  const lockPath = "migration_lock.toml";
  const lock = await readFile(join(dir, lockPath), "utf8").catch(() => null);
  const dirs = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((d) => d.isDirectory());
  const migrationDirectories = await Promise.all(
    dirs.map(async (d) => ({
      path: d.name,
      migrationFile: {
        path: "migration.sql",
        content: await readFile(join(dir, d.name, "migration.sql"), "utf8").then(
          (v) => ({ tag: "ok" as const, value: v }),
          (e) => ({ tag: "error" as const, value: String(e.message) }),
        ),
      },
    })),
  );
  migrationDirectories.sort((a, b) => a.path.localeCompare(b.path));
  return {
    baseDir: dir,
    lockfile: { path: lockPath, content: lock },
    migrationDirectories,
    shadowDbInitScript: "",
  };
}
