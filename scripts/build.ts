// `npm run build`: the compiled server in dist/ (JavaScript, declarations and source maps), which
// `npm start`, the CLI and the package's `exports` run. tsc's incremental build: with nothing
// changed a second run takes under a second, so `prestart` and the tests' global set-up run it
// every time. Files tsc does not emit (the password list) are copied beside the code that reads them.
// Usage: tsx scripts/build.ts [--clean]   (--clean: empty dist/ first, e.g. after deleting a module)
import { spawnSync } from "node:child_process";
import { cpSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SRC = join(ROOT, "src");
export const DIST = join(ROOT, "dist");

/** The files under src/ that are not TypeScript (tsc copies none of them). */
function assets(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return assets(path);
    return e.name.endsWith(".ts") || e.name.startsWith(".") ? [] : [path];
  });
}

export function build({ clean = false } = {}): void {
  if (clean) rmSync(DIST, { recursive: true, force: true });
  const tsc = join(dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc");
  const run = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json")], { stdio: "inherit" });
  if (run.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${run.status ?? run.signal})`);
  for (const file of assets()) cpSync(file, join(DIST, relative(SRC, file)));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    build({ clean: process.argv.includes("--clean") });
  } catch (e) {
    console.error((e as Error).message);
    process.exitCode = 1;
  }
}
