// The servers under test, each a child process: Portcullis (`node bin/portcullis.js serve`) on a
// fresh PostgreSQL database, the bare-Fastify ceiling, and the real Djoser under gunicorn.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { processTree } from "./proc.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const PYTHON = "/usr/bin/python3";

export type Server = { label: string; url: string; pid: number; stop(): Promise<void> };

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Spawns a server, keeps the tail of its output, and resolves once `probe` gets any HTTP answer. */
async function launch(
  label: string,
  cmd: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; cwd: string; url: string; probe: string; timeoutMs: number },
): Promise<Server> {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
  let tail = "";
  const keep = (d: Buffer) => (tail = (tail + d.toString()).slice(-4000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let exited: number | null | undefined;
  child.on("exit", (code) => (exited = code));
  const server: Server = { label, url: opts.url, pid: child.pid!, stop: () => stopChild(child) };
  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`${label} exited (${exited}) while starting:\n${tail}`);
    try {
      await fetch(opts.url + opts.probe, { signal: AbortSignal.timeout(2000) });
      return server;
    } catch {
      await sleep(50); // fine enough to time a start-up (bench/start.ts)
    }
  }
  await server.stop();
  throw new Error(`${label} did not answer within ${opts.timeoutMs / 1000} s:\n${tail}`);
}

/** SIGTERM to the child, then to whatever it started that is still alive (by pid); SIGKILL after 10 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const tree = processTree(child.pid!);
  const gone = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await gone;
  clearTimeout(timer);
  for (const pid of tree.slice(1)) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
}

/** A clean environment: nothing from the caller's shell (DJOSER_*, SIMPLE_JWT_*, …) leaks in. */
const baseEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME, LANG: "C.UTF-8" });

// --- PostgreSQL ------------------------------------------------------------------------------
const PG_ADMIN_URL =
  process.env.BENCH_PG_ADMIN_URL ?? process.env.TEST_PG_ADMIN_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";

export async function freshDatabase(): Promise<{ url: string; version: string; drop(): Promise<void> }> {
  const name = `portcullis_bench_${process.pid}_${Date.now().toString(36)}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    try {
      return (await c.query(sql)).rows as Record<string, string>[];
    } finally {
      await c.end();
    }
  };
  const rows = await admin("SHOW server_version").catch((e: Error) => {
    throw new Error(
      `the bench needs PostgreSQL at ${PG_ADMIN_URL.replace(/:[^:@/]*@/, ":***@")} (BENCH_PG_ADMIN_URL): ${e.message}`,
    );
  });
  const version = rows[0]?.server_version ?? "?";
  await admin(`CREATE DATABASE ${name}`);
  return {
    url: PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`),
    version,
    drop: async () => void (await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}

// --- Redis: optional, for what instances share (throttle counts, cache invalidations) -----------

/**
 * BENCH_REDIS_URL (which must answer), shared by the Portcullis servers; by default none:
 * PostgreSQL alone, as most first deployments run (the auth cache then hears invalidations over
 * LISTEN/NOTIFY).
 */
export async function benchRedis(): Promise<{ url: string | null; note: string }> {
  const wanted = process.env.BENCH_REDIS_URL;
  if (!wanted || wanted === "none")
    return { url: null, note: "PostgreSQL alone, no Redis (auth cache invalidated over LISTEN/NOTIFY)" };
  const { hostname, port } = new URL(wanted);
  const answers = await new Promise<boolean>((resolve) => {
    const s = connect(Number(port || 6379), hostname, () => s.write("PING\r\n"));
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
    s.on("data", (d) => {
      s.destroy();
      resolve(/^(\+PONG|-NOAUTH)/.test(d.toString()));
    });
    s.on("error", () => resolve(false));
  });
  if (!answers) throw new Error(`BENCH_REDIS_URL=${wanted} does not answer PING`);
  return { url: wanted, note: `Redis ${wanted.replace(/:[^:@/]*@/, ":***@")} shared by the Portcullis servers` };
}

// --- Portcullis -------------------------------------------------------------------------------
export async function startPortcullis(
  databaseUrl: string,
  dataDir: string,
  redisUrl: string | null,
  workers?: number,
  extra: Record<string, string> = {},
  entry: string[] = [join(ROOT, "bin/portcullis.js")], // the compiled CLI; bench/start.ts also runs the sources
): Promise<Server> {
  const port = await freePort();
  const env = {
    ...baseEnv(),
    NODE_ENV: "production",
    DATABASE_URL: databaseUrl,
    HOST: "127.0.0.1",
    PORT: String(port),
    LOG_LEVEL: "warn",
    SECRET_KEY: "bench-secret-key-0123456789abcdef0123456789abcdef",
    DATA_DIR: dataDir,
    ALLOWED_HOSTS: '["127.0.0.1"]',
    EMAIL_BACKEND: "file", // production refuses "console"; the bench sends no mail
    EMAIL_FILE_PATH: join(dataDir, "mail"),
    DEFAULT_THROTTLE_RATES: "{}", // throttling off: the bench logs in hundreds of times a second
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    ...extra,
  };
  const args = [...entry, "serve", ...(workers ? ["--workers", String(workers)] : [])];
  const label = workers ? `Portcullis --workers ${workers}` : "Portcullis";
  return launch(label, process.execPath, args, {
    env,
    cwd: ROOT,
    url: `http://127.0.0.1:${port}`,
    probe: "/healthz",
    timeoutMs: 60_000,
  });
}

/** Node processes under a server's pid: 0 for one process, N for a cluster of N workers. */
export function nodeChildren(pid: number): number {
  const comm = (p: number) => {
    try {
      return readFileSync(`/proc/${p}/comm`, "utf8").trim();
    } catch {
      return "";
    }
  };
  return processTree(pid)
    .slice(1)
    .filter((p) => comm(p) === "node").length;
}

// --- the ceiling ------------------------------------------------------------------------------
export async function startCeiling(body: string): Promise<Server> {
  const port = await freePort();
  const args = ["--import", "tsx", join(ROOT, "bench/ceiling.ts"), String(port), body];
  return launch("bare Fastify (ceiling)", process.execPath, args, {
    env: baseEnv(),
    cwd: ROOT,
    url: `http://127.0.0.1:${port}`,
    probe: "/auth/users/me/",
    timeoutMs: 30_000,
  });
}

// --- the real Djoser --------------------------------------------------------------------------
export const DJOSER_DIR = process.env.DJOSER_DIR ?? join(ROOT, "../shared/djoser");

/** "djoser 2.1.0, Django 3.2.25, …" as installed for /usr/bin/python3. */
export function djoserVersions(): string {
  const code =
    "from importlib.metadata import version as v; " +
    "print(', '.join(f'{p} {v(p)}' for p in " +
    "['djoser', 'Django', 'djangorestframework', 'djangorestframework-simplejwt', 'gunicorn']))";
  return spawnSync(PYTHON, ["-c", code], { encoding: "utf8" }).stdout.trim() || "versions unknown";
}

/** Why the real Djoser cannot run here, or null when it can. */
export function djoserMissing(): string | null {
  if (!existsSync(join(DJOSER_DIR, "run.sh"))) return `no Djoser reference folder at ${DJOSER_DIR} (set DJOSER_DIR)`;
  const probe = spawnSync(PYTHON, ["-c", "import djoser, gunicorn, rest_framework_simplejwt"], { stdio: "ignore" });
  if (probe.status === 0) return null;
  const install = "apt-get install -y python3-djoser gunicorn …";
  return `${PYTHON} cannot import djoser, gunicorn and rest_framework_simplejwt (${install})`;
}

// SimpleJWT refresh without rotation, as Portcullis's default: one refresh token serves every
// request of the refresh row (the reference settings rotate and blacklist).
const DJOSER_OVERRIDES = `
# npm run bench: refresh without rotation, as Portcullis's default
SIMPLE_JWT["ROTATE_REFRESH_TOKENS"] = False
SIMPLE_JWT["BLACKLIST_AFTER_ROTATION"] = False
`;

/** A writable copy of the reference folder, then `WORKERS=2 ./run.sh PORT ref gunicorn`. */
export async function startDjoser(): Promise<Server & { dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "bench-djoser-"));
  cpSync(DJOSER_DIR, dir, { recursive: true, filter: (src) => !src.startsWith(join(DJOSER_DIR, "var")) });
  for (const f of [dir, ...readdirSync(dir, { recursive: true, encoding: "utf8" }).map((p) => join(dir, p))])
    chmodSync(f, statSync(f).mode | 0o200);
  appendFileSync(join(dir, "site/refsite/settings.py"), DJOSER_OVERRIDES);
  const port = await freePort();
  const env = { ...baseEnv(), WORKERS: "2" };
  try {
    const server = await launch(
      "Djoser (gunicorn, 2 sync workers)",
      "bash",
      [join(dir, "run.sh"), String(port), "ref", "gunicorn"],
      { env, cwd: dir, url: `http://127.0.0.1:${port}`, probe: "/auth/", timeoutMs: 90_000 },
    );
    const stop = async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    };
    return { ...server, dir, stop };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
