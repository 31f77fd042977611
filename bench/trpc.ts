// `npm run bench:trpc`: tRPC's users.me against REST's /me on the same server, through the lean
// path (TRPC_FAST_PATH, the default) and through the stock adapter (a second server with it off),
// with Portcullis's auth cache on (Redis) and off (PostgreSQL alone); wrk, 16 connections,
// alternating A B C … C B A in one run, each tRPC figure divided by REST's of the same pass.
//
// Env: BENCH_DURATION (seconds per figure, default 5), BENCH_PG_ADMIN_URL, BENCH_REDIS_URL (default: none).
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { register, requestsFor } from "./cases.ts";
import { pickGenerator, type Request } from "./load.ts";
import { benchRedis, freshDatabase, type Server, startPortcullis } from "./servers.ts";

const SECONDS = Number(process.env.BENCH_DURATION ?? 5);
const generator = pickGenerator();
const load = { connections: 16, seconds: SECONDS };
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

async function pass(cache: boolean, redisUrl: string | null): Promise<string[]> {
  const db = await freshDatabase();
  const dir = mkdtempSync(join(tmpdir(), "bench-trpc-"));
  const servers: Server[] = [];
  try {
    const env: Record<string, string> = cache ? {} : { AUTH_CACHE_SECONDS: "0" };
    const url = cache ? redisUrl : null;
    const lean = await startPortcullis(db.url, dir, url, undefined, env);
    servers.push(lean);
    const stock = await startPortcullis(db.url, dir, url, undefined, { ...env, TRPC_FAST_PATH: "false" });
    servers.push(stock);
    await register(lean.url);
    const [L, S] = [await requestsFor(lean.url), await requestsFor(stock.url)];
    const rows: [string, Request][] = [
      ["REST /auth/users/me/", await L.meToken()],
      ["tRPC users.me, lean path", await L.trpcMe()],
      ["tRPC users.me, stock adapter", await S.trpcMe()],
      ["REST /auth/users/me/ (stock adapter's server)", await S.meToken()],
    ];
    for (const [, r] of rows) await generator.run(r, { connections: 16, seconds: 1 }); // warm-up
    const rps = new Map<string, number[]>();
    for (const order of [rows, [...rows].reverse()])
      for (const [name, r] of order) {
        const res = await generator.run(r, load);
        rps.set(name, [...(rps.get(name) ?? []), res.rps]);
        console.error(`${cache ? "cache on " : "cache off"}  ${name.padEnd(46)} ${fmt(res.rps).padStart(7)} req/s`);
      }
    // A pass's REST figure for each server: its own.
    const base = (name: string) => rps.get(name.includes("stock") ? rows[3]![0] : rows[0]![0])!;
    return rows.slice(0, 3).map(([name]) => {
      const [a, b] = rps.get(name)!;
      const [ra, rb] = base(name);
      const ratio = name.startsWith("REST") ? "1" : `${(a! / ra!).toFixed(2)} / ${(b! / rb!).toFixed(2)}`;
      return `| ${cache ? "on" : "off"} | ${name} | ${fmt(a!)} / ${fmt(b!)} | ${ratio} |`;
    });
  } finally {
    for (const s of servers.reverse()) await s.stop().catch(() => {});
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const redis = await benchRedis();
const load0 = loadavg()[0]!.toFixed(1);
const lines = [...(redis.url ? await pass(true, redis.url) : []), ...(await pass(false, null))];
const head = `${generator.describe}, 16 connections, ${SECONDS} s a figure; load average ${load0} at the start`;
console.log(`${head}; ${redis.note}
| auth cache | request | req/s (pass 1 / pass 2) | ÷ REST /me, same pass |
| --- | --- | --- | --- |
${lines.join("\n")}`);
