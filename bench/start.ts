// `npm run bench:start`: start-up time and memory of the compiled server (dist/, what `npm start`
// runs) against the same code run from its TypeScript sources through tsx. PostgreSQL 15, one
// process, migrations already applied; alternating compiled, sources, compiled, … in one run.
// Start-up: from spawn to the first answer of /healthz. RSS: the process tree (tsx adds esbuild's
// helper) after start, and its peak after BENCH_DURATION seconds of GET /auth/users/me/ at 16 connections.
//
// Env: BENCH_ROUNDS (starts of each, default 5), BENCH_DURATION (default 5), BENCH_PG_ADMIN_URL.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { register, requestsFor } from "./cases.ts";
import { pickGenerator } from "./load.ts";
import { memoryOf } from "./proc.ts";
import { median } from "./report.ts";
import { freshDatabase, ROOT, startPortcullis } from "./servers.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_DURATION ?? 5);
const generator = pickGenerator();
const ENTRIES = {
  compiled: [join(ROOT, "bin/portcullis.js")],
  "sources through tsx": ["--import", "tsx", join(ROOT, "bench/from-source.ts")],
};
type Figures = { startMs: number[]; rssMb: number[]; peakMb: number[]; rps: number[] };

const db = await freshDatabase();
const dir = mkdtempSync(join(tmpdir(), "bench-start-"));
const figures = new Map<string, Figures>();
try {
  const first = await startPortcullis(db.url, dir, null); // applies the migrations, once
  await register(first.url);
  await first.stop();
  for (let round = 0; round < ROUNDS; round++)
    for (const [name, entry] of Object.entries(ENTRIES)) {
      const began = performance.now();
      const server = await startPortcullis(db.url, dir, null, undefined, {}, entry);
      const startMs = performance.now() - began;
      const rssMb = memoryOf(server.pid)?.rssMb ?? Number.NaN;
      const me = await (await requestsFor(server.url)).meToken();
      const { rps } = await generator.run(me, { connections: 16, seconds: SECONDS });
      const peakMb = memoryOf(server.pid)?.peakMb ?? Number.NaN;
      await server.stop();
      const f = figures.get(name) ?? { startMs: [], rssMb: [], peakMb: [], rps: [] };
      for (const [key, value] of Object.entries({ startMs, rssMb, peakMb, rps })) f[key as keyof Figures].push(value);
      figures.set(name, f);
      const line = `start ${Math.round(startMs)} ms, RSS ${rssMb} MB, peak ${peakMb} MB, ${Math.round(rps)} req/s`;
      console.error(`${name.padEnd(20)} ${line}`);
    }
} finally {
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`PostgreSQL ${db.version}, ${ROUNDS} starts each (median; range), ${generator.describe}, ${SECONDS} s of /me
| server | start-up to first answer | RSS after start | peak RSS under /me load | /me req/s |
| --- | --- | --- | --- | --- |`);
const cell = (xs: number[], unit: string) => {
  const range = `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;
  return `${Math.round(median(xs)).toLocaleString("en-US")}${unit && ` ${unit}`} (${range})`;
};
for (const [name, f] of figures)
  console.log(
    `| ${name} | ${cell(f.startMs, "ms")} | ${cell(f.rssMb, "MB")} | ${cell(f.peakMb, "MB")} | ${cell(f.rps, "")} |`,
  );
