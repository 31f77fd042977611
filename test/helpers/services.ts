// Private, disposable PostgreSQL and Redis instances for fault tests: each on its own free port and
// (PostgreSQL) its own data directory, so a test can stop and start them without touching the
// machine's shared servers (PostgreSQL on 5432, Redis on 6379) that other test files use.
//
// Everything here is asynchronous on purpose: the server under test runs in the same process, and
// a synchronous spawn would freeze it along with the test.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  accessSync,
  appendFileSync,
  chownSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./net.ts";

export type PrivatePostgres = {
  /** postgresql://postgres@127.0.0.1:PORT/postgres (trust auth). */
  url: string;
  port: number;
  /** pg_ctl stop: "fast" (default) rolls back and disconnects; "immediate" is a crash (recovery at next start). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts again on the same data directory and port; resolves once connections are accepted. */
  start(): Promise<void>;
  /** Stops (immediately) and deletes the data directory. Idempotent. */
  destroy(): Promise<void>;
};

export type PrivateRedis = {
  /** redis://127.0.0.1:PORT */
  url: string;
  port: number;
  /** SIGTERM, then waits for the process to exit. */
  stop(): Promise<void>;
  /** Spawns redis-server again on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  destroy(): Promise<void>;
};

// ── process-exit cleanup (best effort: a SIGKILLed test runner leaves them behind) ────────────
const cleanups = new Set<() => void>();
let exitHookInstalled = false;
function onExit(fn: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const f of cleanups) {
        try {
          f();
        } catch {
          /* best effort */
        }
      }
    });
  }
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

type Run = { code: number | null; stdout: string; stderr: string };
function run(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs) : undefined;
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function mustRun(cmd: string, args: string[], what: string, timeoutMs = 60_000): Promise<Run> {
  const r = await run(cmd, args, { timeoutMs });
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr || r.stdout}`);
  return r;
}

// ── PostgreSQL ─────────────────────────────────────────────────────────────────────────────────

/** The newest PostgreSQL bin directory (override with PG_BIN). */
function pgBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (!versions.length) throw new Error(`no PostgreSQL binaries under ${root}/*/bin (set PG_BIN)`);
  return join(root, versions[0]!, "bin");
}

/** initdb and pg_ctl refuse to run as root: as root, run them as the `postgres` OS user. */
function asPostgresUser(): { wrap: (cmd: string, args: string[]) => [string, string[]]; uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return { wrap: (cmd, args) => [cmd, args] };
  const id = (flag: string) => Number(spawnSync("id", [flag, "postgres"], { encoding: "utf8" }).stdout.trim());
  const uid = id("-u");
  const gid = id("-g");
  if (!Number.isInteger(uid) || uid === 0)
    throw new Error("running as root and there is no `postgres` OS user to run initdb/pg_ctl as");
  const runuser = existsSync("/usr/sbin/runuser") || existsSync("/sbin/runuser") || existsSync("/usr/bin/runuser");
  return {
    uid,
    gid,
    wrap: runuser
      ? (cmd, args) => ["runuser", ["-u", "postgres", "--", cmd, ...args]]
      : (cmd, args) => [
          "su",
          ["postgres", "-s", "/bin/sh", "-c", [cmd, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ")],
        ],
  };
}

/** Memory-backed when the machine has one (initdb there takes about half the time of a disk); PG_TMPDIR overrides. */
function scratchRoot(): string {
  if (process.env.PG_TMPDIR) return process.env.PG_TMPDIR;
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return tmpdir();
  }
}

/** A fresh PostgreSQL cluster in a temp dir, trust auth, on 127.0.0.1 at a free port, fsync off. */
export async function privatePostgres(): Promise<PrivatePostgres> {
  const bin = pgBin();
  const user = asPostgresUser();
  const dir = mkdtempSync(join(scratchRoot(), "portcullis-pg-"));
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid!);
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  const pgctl = (...args: string[]) => user.wrap(join(bin, "pg_ctl"), ["-D", data, ...args]);
  let running = false;
  let destroyed = false;

  const unregister = onExit(() => {
    // Synchronous on purpose: nothing asynchronous runs in an "exit" handler.
    if (running) spawnSync(...pgctl("-m", "immediate", "-w", "-t", "10", "stop"), { stdio: "ignore" });
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async () => {
    if (destroyed) throw new Error("privatePostgres: start() after destroy()");
    if (running) return;
    const [cmd, args] = pgctl("-l", log, "-w", "-t", "30", "start");
    const r = await run(cmd, args, { timeoutMs: 40_000 });
    if (r.code !== 0) throw new Error(`pg_ctl start failed (exit ${r.code}): ${r.stderr || r.stdout}\n${tail(log)}`);
    running = true;
  };

  const stop = async (mode: "fast" | "immediate" = "fast") => {
    if (!running) return;
    const [cmd, args] = pgctl("-m", mode, "-w", "-t", "30", "stop");
    await mustRun(cmd, args, `pg_ctl stop -m ${mode}`, 40_000);
    running = false;
  };

  try {
    // --no-sync: a throwaway cluster need not survive an OS crash; saves most of initdb's time.
    const [icmd, iargs] = user.wrap(join(bin, "initdb"), [
      "-D",
      data,
      "-U",
      "postgres",
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ]);
    await mustRun(icmd, iargs, "initdb");
    let port = 0;
    // The free port may be taken between the probe and the bind: try a few.
    for (let attempt = 0; ; attempt++) {
      port = await freePort();
      const conf = [
        "",
        "# privatePostgres (test/helpers/services.ts)",
        "listen_addresses = '127.0.0.1'",
        `port = ${port}`,
        `unix_socket_directories = '${dir}'`,
        // fsync off only skips flushing the OS cache: a stopped or crashed (-m immediate) server
        // loses nothing, only an OS crash would. synchronous_commit stays on: off, a crash loses
        // the last commits that were already acknowledged, which is the thing fault tests look for.
        "fsync = off",
        "full_page_writes = off",
        "max_connections = 100",
        "shared_buffers = 32MB",
        "log_min_messages = warning",
        "",
      ].join("\n");
      // Rewrite the managed tail on each attempt (initdb's file + our block).
      if (attempt === 0) appendFileSync(join(data, "postgresql.conf"), conf);
      else writeFileSync(join(data, "postgresql.auto.conf"), `port = ${port}\n`);
      try {
        await start();
        break;
      } catch (e) {
        if (attempt >= 3 || !/could not bind|address already in use/i.test(String(e))) throw e;
      }
    }
    const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    return {
      url,
      port,
      start,
      stop,
      async destroy() {
        if (destroyed) return;
        await stop("immediate").catch(() => {});
        destroyed = true;
        unregister();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (running) spawnSync(...pgctl("-m", "immediate", "-w", "stop"), { stdio: "ignore" });
    unregister();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

function tail(file: string, lines = 20): string {
  try {
    return spawnSync("tail", ["-n", String(lines), file], { encoding: "utf8" }).stdout;
  } catch {
    return "";
  }
}

// ── Redis ──────────────────────────────────────────────────────────────────────────────────────

/** Resolves when a Redis on `port` answers PING with +PONG; rejects after `timeoutMs`. */
async function waitForRedis(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode}) before accepting connections`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect({ host: "127.0.0.1", port });
      let buf = "";
      const done = (v: boolean) => {
        sock.destroy();
        resolve(v);
      };
      sock.setTimeout(500, () => done(false));
      sock.on("error", () => done(false));
      sock.on("connect", () => sock.write("PING\r\n"));
      sock.on("data", (d) => {
        buf += d;
        if (buf.includes("\r\n")) done(buf.startsWith("+PONG"));
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
}

/** A redis-server child on a free port: no persistence, stoppable and restartable on the same port. */
export async function privateRedis(): Promise<PrivateRedis> {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-redis-"));
  let port = await freePort();
  let child: ChildProcess | null = null;
  let log = "";
  let destroyed = false;

  const unregister = onExit(() => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async () => {
    if (destroyed) throw new Error("privateRedis: start() after destroy()");
    if (child) return;
    log = "";
    const c = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        dir,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    c.stdout!.on("data", (d) => (log += d));
    c.stderr!.on("data", (d) => (log += d));
    c.on("exit", () => {
      if (child === c) child = null;
    });
    child = c;
    try {
      await waitForRedis(port, c);
    } catch (e) {
      c.kill("SIGKILL");
      child = null;
      throw new Error(`${(e as Error).message}\n${log.slice(-2000)}`);
    }
  };

  const stop = async () => {
    const c = child;
    if (!c) return;
    const exited = new Promise<void>((resolve) =>
      c.exitCode !== null || c.signalCode !== null ? resolve() : c.once("exit", () => resolve()),
    );
    c.kill("SIGTERM");
    const timer = setTimeout(() => c.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
    child = null;
  };

  for (let attempt = 0; ; attempt++) {
    try {
      await start();
      break;
    } catch (e) {
      if (attempt >= 3 || !/Address already in use|did not answer|exited/i.test(String(e))) {
        unregister();
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
      port = await freePort();
    }
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async destroy() {
      if (destroyed) return;
      await stop();
      destroyed = true;
      unregister();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
