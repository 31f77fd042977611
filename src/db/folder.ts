// A PGlite folder is Postgres's data directory, run inside this process: it belongs to one process
// at a time and to its owner alone. Two processes on one folder both "work" and the loser's writes
// vanish (each has its own buffers and WAL), so the folder is locked at open; and it holds the
// password hashes and the staff flags, so nobody but the owner may read or write it.
import {
  chmodSync,
  closeSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";

export class FolderInUseError extends Error {}

const LOCK = "portcullis.lock";
// The holder refreshes its lock's time; a lock of another host (another container on a shared
// volume, whose process ids mean nothing here) is taken over once not refreshed for STALE_MS.
// Generous: a long PGlite statement blocks the holder's event loop, and so its refresh.
const REFRESH_MS = 5_000;
const STALE_MS = 120_000;

type Holder = { pid: number; host: string; raw: string; ageMs: number };

function readHolder(file: string): Holder | null {
  try {
    const raw = readFileSync(file, "utf8");
    const ageMs = Date.now() - statSync(file).mtimeMs;
    const [pid = "", host = ""] = raw.trim().split(" ");
    return { pid: Number(pid), host, raw, ageMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null; // released meanwhile
    throw e;
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, another user's
  }
}

/**
 * Takes the folder's lock (`portcullis.lock`: "<pid> <host>"), or throws FolderInUseError naming
 * the process that holds it. The lock of a dead process of this host is taken over at once; one of
 * another host once it is STALE_MS old. Released by `release()` and when the process exits.
 */
export function lockFolder(dir: string): { release(): void } {
  const file = join(dir, LOCK);
  const me = `${process.pid} ${hostname()}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600); // atomic: exactly one creator wins
      try {
        writeSync(fd, me);
      } finally {
        closeSync(fd);
      }
      return held(file, me);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const holder = readHolder(file);
    if (!holder) continue;
    const here = holder.host === hostname();
    if (here ? alive(holder.pid) : holder.ageMs < STALE_MS) {
      const where = here ? "" : ` on host ${holder.host} (taken over once not refreshed for ${STALE_MS / 1000} s)`;
      throw new FolderInUseError(
        `database folder ${dir} is in use by process ${holder.pid}${where}: ` +
          "a PGlite folder serves one process at a time. " +
          "Stop that process first, or use PostgreSQL (DATABASE_URL=postgresql://…) to run several.",
      );
    }
    // Stale. Move it aside under a name of our own: of two processes taking it over, one rename
    // finds nothing. Had a third process locked afresh between our read and our rename, we moved
    // its live lock: give it back (link fails only if yet another lock is there) and look again.
    const aside = `${file}.${process.pid}.stale`;
    try {
      renameSync(file, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw e;
    }
    if (readFileSync(aside, "utf8") !== holder.raw) {
      try {
        linkSync(aside, file);
      } catch {
        // a newer lock is in place: it decides
      }
    }
    unlinkSync(aside);
  }
  throw new FolderInUseError(
    `database folder ${dir}: could not take its lock (${file}); other processes keep taking it`,
  );
}

function held(file: string, me: string): { release(): void } {
  const refresh = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(file, now, now);
    } catch {
      // the next refresh tries again
    }
  }, REFRESH_MS).unref();
  const release = () => {
    clearInterval(refresh);
    process.off("exit", release);
    try {
      if (readFileSync(file, "utf8") === me) unlinkSync(file); // never another process's lock
    } catch {
      // already gone
    }
  };
  process.on("exit", release); // process.exit() and a normal end; a crash leaves a dead pid, taken over
  return { release };
}

/** Creates `dir` (and missing parents) owner-only, whatever the umask. */
export function makePrivateFolder(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * Folders 0700 and files 0600 under `dir` (symbolic links are left alone, not followed). PGlite's
 * file system layer creates files 0666 whatever the umask; the folder's own 0700 keeps those that
 * appear while it runs out of reach, and this puts the files themselves right at open and close.
 */
export function makePrivateTree(dir: string): void {
  const walk = (path: string) => {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    const want = st.isDirectory() ? 0o700 : 0o600;
    if ((st.mode & 0o777) !== want) chmodSync(path, want);
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
}
