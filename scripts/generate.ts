// Keeps the generated Prisma client (the schema's `generator client` output, src/generated/prisma) in
// step with prisma/schema.prisma. `prisma generate` leaves `.schema-hash` beside the client: the SHA-256
// of the schema and the Prisma version it was generated from. `--if-stale` (prestart, pretest, and
// db:migration after writing a migration) regenerates only when that hash differs or is missing.
// Usage: tsx scripts/generate.ts [--if-stale] [--schema prisma/schema.prisma]
// Generation is offline: it never needs Prisma's schema engine, so the download is switched off.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
export const HASH_FILE = ".schema-hash";

/** The folder a schema's Prisma client generator writes to (its `output`, relative to the schema file). */
export function clientDir(schemaPath: string, schema = readFileSync(schemaPath, "utf8")): string {
  for (const block of schema.matchAll(/^\s*generator\s+\w+\s*\{([^}]*)\}/gm)) {
    const body = block[1] ?? "";
    if (!/provider\s*=\s*"prisma-client(-js)?"/.test(body)) continue;
    const output = /^\s*output\s*=\s*"([^"]+)"/m.exec(body)?.[1];
    if (output) return resolve(dirname(schemaPath), output);
  }
  throw new Error(`${schemaPath}: no prisma-client generator with an output folder`);
}

function prismaCli(): { bin: string; version: string } {
  const pkgPath = require.resolve("prisma/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8"));
  return { bin: join(dirname(pkgPath), pkg.bin.prisma), version: pkg.version };
}

/** What `.schema-hash` must hold for a client generated from this schema by this Prisma. */
export function schemaHash(schema: string, prismaVersion = prismaCli().version): string {
  return createHash("sha256").update(`prisma ${prismaVersion}\n`).update(schema).digest("hex");
}

/** Why the client must be regenerated (missing, or generated from another schema or Prisma), or null. */
export function staleness(schemaPath: string): string | null {
  const schema = readFileSync(schemaPath, "utf8");
  const dir = clientDir(schemaPath, schema);
  if (!existsSync(join(dir, "client.ts"))) return `${shown(dir)} holds no client`;
  if (!existsSync(join(dir, HASH_FILE))) return `${shown(dir)} does not say which schema it was generated from`;
  if (readFileSync(join(dir, HASH_FILE), "utf8").trim() === schemaHash(schema)) return null;
  return `${shown(schemaPath)} changed since ${shown(dir)} was generated`;
}

/** Runs `prisma generate` for the schema, then records its hash. */
export async function generate(schemaPath: string): Promise<void> {
  let cli: { bin: string; version: string };
  try {
    cli = prismaCli();
  } catch {
    throw new Error("the Prisma client must be regenerated but the prisma CLI is not installed (npm ci)");
  }
  // Read before generating: an edit made meanwhile leaves the client stale, not wrongly marked fresh.
  const schema = readFileSync(schemaPath, "utf8");
  const env = {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? "/bin/false",
    CHECKPOINT_DISABLE: "1",
    PRISMA_HIDE_UPDATE_MESSAGE: "1",
  };
  const code = await new Promise<number | null>((done, fail) => {
    const child = spawn(process.execPath, [cli.bin, "generate", "--schema", schemaPath], { env, stdio: "inherit" });
    child.on("error", fail);
    child.on("close", done);
  });
  if (code !== 0) throw new Error(`prisma generate exited with code ${code}`);
  await writeFile(join(clientDir(schemaPath, schema), HASH_FILE), `${schemaHash(schema, cli.version)}\n`);
}

/** A path as the user typed it, more or less: relative below the working folder, else absolute. */
export const shown = (p: string) =>
  relative(process.cwd(), p).startsWith("..") ? p : relative(process.cwd(), p) || ".";

/** Regenerates when stale; says whether it did. */
export async function generateIfStale(schemaPath: string): Promise<boolean> {
  const why = staleness(schemaPath);
  if (!why) return false;
  console.error(`${why}: regenerating the Prisma client`);
  await generate(schemaPath);
  return true;
}

/** `--schema <path>` / `--schema=<path>` out of argv; the rest stays in order. */
export function schemaArg(argv: string[]): { schema: string; rest: string[] } {
  const rest: string[] = [];
  let schema = "prisma/schema.prisma";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--schema") schema = argv[++i] ?? schema;
    else if (a.startsWith("--schema=")) schema = a.slice("--schema=".length);
    else rest.push(a);
  }
  return { schema: resolve(schema), rest };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { schema, rest } = schemaArg(process.argv.slice(2));
  try {
    if (rest.includes("--if-stale")) await generateIfStale(schema);
    else await generate(schema);
  } catch (e) {
    console.error(`generate: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
