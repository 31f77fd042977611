// `npm run bench`: Portcullis (on a fresh PostgreSQL database), a bare-Fastify ceiling and, when
// installed, the real Djoser, each a child process, measured in one run with one load generator,
// alternating A B … B A; the table goes to stdout and into BENCHMARKS.md's generated section.
//
// Env: BENCH_DURATION (seconds per row, default 10: two halves), BENCH_GENERATOR (wrk|autocannon),
// BENCH_WRITE=0 (do not touch BENCHMARKS.md), DJOSER_DIR, BENCH_PG_ADMIN_URL, BENCH_REDIS_URL (default:
// none, PostgreSQL alone).
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { argon2Cost } from "./argon2.ts";
import { expectOk, meBody, type Requests, register, requestsFor } from "./cases.ts";
import { failures, pickGenerator, type Request, type Result } from "./load.ts";
import { memoryOf } from "./proc.ts";
import { failedCell, ms, type Row, writeSection } from "./report.ts";
import {
  benchRedis,
  djoserMissing,
  djoserVersions,
  freshDatabase,
  nodeChildren,
  ROOT,
  type Server,
  startCeiling,
  startDjoser,
  startPortcullis,
} from "./servers.ts";
import { summary } from "./summary.ts";

const DURATION = Number(process.env.BENCH_DURATION ?? 10);
if (!(DURATION >= 2)) throw new Error("BENCH_DURATION must be a number of seconds ≥ 2");
const HALF = Math.round(DURATION / 2);
const SHORT = Math.max(1, Math.round(DURATION / 4)); // the one-at-a-time login: its p50 settles fast
const CONNECTIONS = 16;
const T0 = performance.now();
const log = (msg: string) =>
  console.error(`bench ${((performance.now() - T0) / 1000).toFixed(0).padStart(3)} s: ${msg}`);
const WORKERS = 2;
const generator = pickGenerator();

// Everything started is stopped, last first, however the run ends.
const cleanups: (() => Promise<unknown>)[] = [];
let cleaning: Promise<void> | undefined;
const cleanUp = () =>
  (cleaning ??= (async () => {
    for (const f of cleanups.reverse())
      await f().catch((e: unknown) => console.error(`cleanup: ${(e as Error).message}`));
  })());
/** Registers an undo; after an interrupt, runs it at once (something finished starting too late). */
function onCleanup(f: () => Promise<unknown>) {
  if (cleaning) void f();
  else cleanups.push(f);
}
let interrupted = false; // tsx forwards the terminal's SIGINT too: clean up once, ignore the echo
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping the servers, dropping the database`);
    void cleanUp().then(() => process.exit(130));
  });
}

async function started<T extends Server>(p: Promise<T>): Promise<T> {
  const s = await p;
  onCleanup(() => s.stop());
  return s;
}

/** Starts all in parallel; if any fails, the others are still stopped by cleanUp. */
async function startAll<T extends unknown[]>(...ps: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(ps);
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as T;
}

type Target = {
  id: string;
  server: Server;
  what: string;
  connections?: number;
  warmup?: number;
  request(): Promise<Request>;
  background?(): Promise<Request>;
};
const rows = new Map<string, Row>();

async function measure(t: Target, seconds: number): Promise<{ fg: Result; bg?: Result }> {
  const req = await t.request();
  await expectOk(req);
  const load = { connections: t.connections ?? CONNECTIONS, seconds };
  if (!t.background) return { fg: await generator.run(req, load) };
  const bg = await t.background();
  await expectOk(bg);
  const [fg, b] = await Promise.all([
    generator.run(req, load),
    generator.run(bg, { connections: CONNECTIONS, seconds }),
  ]);
  return { fg, bg: b };
}

/** A warm-up of each (1 s unless said), then two halves: A B C, then C B A. */
async function group(targets: (Target | null)[], half = HALF): Promise<void> {
  const ts = targets.filter((t) => t !== null);
  for (const t of ts) await measure(t, t.warmup ?? 1);
  for (const [i, order] of [ts, [...ts].reverse()].entries()) {
    for (const t of order) {
      const { fg, bg } = await measure(t, half);
      const row = rows.get(t.id) ?? {
        server: t.server.label,
        what: t.what,
        connections: t.connections ?? CONNECTIONS,
        halves: [],
        memory: null,
      };
      row.halves.push(fg);
      if (bg) {
        row.background ??= [];
        row.background.push(bg);
      }
      row.memory = memoryOf(t.server.pid);
      rows.set(t.id, row);
      const rps = Math.round(fg.rps).toString().padStart(6);
      const failed = failures(fg) ? `  failed ${failedCell([fg])}` : "";
      const latency = `p50 ${ms(fg.p50)}  p99 ${ms(fg.p99)} ms${failed}`;
      log(`half ${i + 1}  ${t.server.label.padEnd(34)} ${t.what.padEnd(48)} ${rps} req/s  ${latency}`);
    }
  }
}

/** `serve --workers 2`, if the CLI offers it (`portcullis serve --help`) and it works: node workers under it. */
async function clusteredPortcullis(
  dbUrl: string,
  dataDir: string,
  redisUrl: string | null,
): Promise<{ server: Server | null; note: string }> {
  if (!(await cliHelp()).includes("--workers"))
    return {
      server: null,
      note: `\`portcullis serve --help\` offers no \`--workers\`: no 1-vs-${WORKERS}-workers row`,
    };
  let s: Server;
  try {
    s = await started(startPortcullis(dbUrl, dataDir, redisUrl, WORKERS));
  } catch (e) {
    return {
      server: null,
      note: `\`serve --workers ${WORKERS}\` does not start: ${(e as Error).message.split("\n").slice(0, 2).join(" ")}`,
    };
  }
  let workers = 0;
  for (let i = 0; i < 50 && workers < WORKERS; i++, await new Promise((r) => setTimeout(r, 200)))
    workers = nodeChildren(s.pid);
  if (workers > 0) return { server: s, note: `\`serve --workers ${WORKERS}\`: ${workers} worker processes` };
  await s.stop();
  return {
    server: null,
    note: `\`serve --workers ${WORKERS}\` started one process, no workers: no 1-vs-${WORKERS}-workers row`,
  };
}

const cliHelp = () =>
  new Promise<string>((resolve) =>
    execFile(
      process.execPath,
      [join(ROOT, "bin/portcullis.js"), "serve", "--help"],
      { cwd: ROOT, timeout: 60_000 },
      (_e, out) => resolve(String(out)),
    ),
  );

function commandLine(): string {
  const env = Object.entries(process.env)
    .filter(([k]) => k.startsWith("BENCH_") || k === "DJOSER_DIR")
    .map(([k, v]) => `${k}=${(v ?? "").replace(/(\/\/[^:/@]+):[^@]*@/, "$1:***@")}`);
  return [...env, process.env.npm_lifecycle_event === "bench" ? "npm run bench" : "npx tsx bench/run.ts"].join(" ");
}

async function main() {
  const startedAt = new Date();
  const loadAtStart = loadavg();
  const db = await freshDatabase();
  onCleanup(db.drop);
  const dataDir = mkdtempSync(join(tmpdir(), "bench-portcullis-"));
  onCleanup(async () => rmSync(dataDir, { recursive: true, force: true }));
  const noDjoser = djoserMissing();
  const redis = await benchRedis();
  const djoser = noDjoser ?? "starting";
  log(`${generator.describe}, ${CONNECTIONS} connections, halves of ${HALF} s; ${redis.note}; Djoser: ${djoser}`);

  const [p, dj, cluster] = await startAll(
    started(startPortcullis(db.url, dataDir, redis.url)),
    noDjoser ? Promise.resolve(null) : started(startDjoser()),
    clusteredPortcullis(db.url, dataDir, redis.url), // the same database (migrations take a lock)
  );
  await register(p.url);
  const P = await requestsFor(p.url);
  const D: Requests | null = dj ? await requestsFor(dj.url) : null;
  const P2 = cluster.server ? await requestsFor(cluster.server.url) : null;
  const ceiling = await started(startCeiling(await meBody(await P.meToken())));
  log(`servers up; ${cluster.note}`);

  const me = "GET /auth/users/me/";
  const t = (
    id: string,
    server: Server | null,
    what: string,
    request: (() => Promise<Request>) | undefined,
    more: Partial<Target> = {},
  ): Target | null => (server && request ? { id, server, what, request, ...more } : null);
  // tRPC's users.me beside REST's /me, alternating with it: their ratio divides figures of one pass.
  await group([
    t("p.token", p, `${me} (Token)`, P.meToken),
    t("p.trpc", p, "GET /trpc/users.me (Token)", P.trpcMe),
    t("p.batch", p, "GET /trpc/users.me,users.me?batch=1 (Token)", P.trpcBatch),
    t("c.me", ceiling, `${me} (fixed body)`, async () => ({ url: `${ceiling.url}/auth/users/me/` })),
    t("d.token", dj, `${me} (Token)`, D?.meToken),
    t("p.jwt", p, `${me} (Bearer JWT)`, P.meJwt),
    t("d.jwt", dj, `${me} (Bearer JWT)`, D?.meJwt),
    t("p2.token", cluster.server, `${me} (Token)`, P2?.meToken, { warmup: 3 }), // each worker warms up on its own
  ]);
  const argon2 = await argon2Cost();
  await group([
    t("p.login", p, "POST /auth/token/login/", P.login),
    t("d.login", dj, "POST /auth/token/login/", D?.login),
  ]);
  await group([t("p.login1", p, "POST /auth/token/login/, one at a time", P.login, { connections: 1 })], SHORT);
  await group([
    t("p.refresh", p, "POST /auth/jwt/refresh/", P.refresh),
    t("d.refresh", dj, "POST /auth/jwt/refresh/", D?.refresh),
  ]);
  const whileLogins = `${me} (Token) while 16 logins run`;
  await group([
    t("p.mixed", p, whileLogins, P.meToken, { background: P.login }),
    t("d.mixed", dj, whileLogins, D?.meToken, { background: D?.login }),
  ]);
  const memory = memoryOf(p.pid);

  const markdown = summary(rows, {
    startedAt,
    loadAtStart,
    command: commandLine(),
    generator,
    pgVersion: db.version,
    djoser: noDjoser ? { missing: noDjoser } : { versions: djoserVersions() },
    clusterNote: cluster.note,
    redisNote: redis.note,
    workers: WORKERS,
    argon2,
    memory,
    connections: CONNECTIONS,
    half: HALF,
    short: SHORT,
  });
  console.log(markdown);
  if (process.env.BENCH_WRITE !== "0") {
    writeSection(join(ROOT, "BENCHMARKS.md"), markdown);
    log("BENCHMARKS.md updated (BENCH_WRITE=0 to leave it alone)");
  }
}

try {
  await main();
} finally {
  await cleanUp();
  log("done");
}
