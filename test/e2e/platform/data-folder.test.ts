// The embedded database folder and the other files a server writes, as an operator meets them:
// real `portcullis` processes on one PGlite folder (the second is refused, naming the first; a dead
// one's lock is taken over), and owner-only modes under the laxest umask (000), fixed at start for
// a folder an older version left world-writable.
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { call, runCommand, startInstance } from "../../helpers/instances.ts";

vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

const PW = "Kq7!vLp2#Zx9";
const tmp = mkdtempSync(join(tmpdir(), "portcullis-folder-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A fresh data folder (DATA_DIR) with the PGlite folder and the mail folder in it. */
function setup() {
  const data = join(tmp, `data${++n}`);
  const folder = join(data, "pglite");
  const files = { DATA_DIR: data, EMAIL_BACKEND: "file", EMAIL_FILE_PATH: join(data, "mail") };
  const env = { ...files, DATABASE_URL: `pglite:${folder}`, LOG_LEVEL: "warn" };
  return { data, folder, env };
}

/** Runs `fn` (which spawns) with the process umask at 000: children inherit it. */
async function withUmask<T>(mask: number, fn: () => Promise<T>): Promise<T> {
  const old = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(old);
  }
}

/** Every entry under `dir` (itself included) whose mode lets anyone but the owner in: "0666 path". */
function laxEntries(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string) => {
    const st = lstatSync(path);
    if (st.mode & 0o077) out.push(`${(st.mode & 0o777).toString(8)} ${path}`);
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(dir);
  return out;
}

/** The process id in a server's log lines (pino writes it in each; no SECRET_KEY: a warning is logged at start). */
const pidOf = (output: string) => Number(/"pid":(\d+)/.exec(output)?.[1]);

const SUPERUSER = ["createsuperuser", "--username", "root", "--email", "r@example.com", "--no-input"];
const register = (url: string, username: string) =>
  call(url, "POST", "/auth/users/", { json: { username, email: `${username}@example.com`, password: PW } });

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe("one PGlite folder, one process", () => {
  it(
    "a second server and a CLI command on a folder a server holds are refused, " + "naming its process; then they run",
    async () => {
      const { folder, env } = setup();
      const first = await startInstance(env);
      try {
        const pid = pidOf(first.output());
        expect(pid).toBeGreaterThan(0);
        const [second, command] = await Promise.all([
          runCommand(["serve"], { ...env, PORT: "0" }),
          runCommand(SUPERUSER, { ...env, PORTCULLIS_SUPERUSER_PASSWORD: PW }),
        ]);
        for (const r of [second, command]) {
          expect(r.code, r.output).toBe(1);
          expect(r.output).toContain(`database folder ${folder} is in use by process ${pid}`);
        }
        // The first server is unharmed and still the only writer.
        expect((await register(first.url, "alice")).status).toBe(201);
      } finally {
        expect(await first.stop()).toBe(0);
      }
      expect(existsSync(join(folder, "portcullis.lock"))).toBe(false); // released on close
      const after = await runCommand(SUPERUSER, { ...env, PORTCULLIS_SUPERUSER_PASSWORD: PW });
      expect(after.code, after.output).toBe(0);
      expect(after.output).toContain("Superuser created: id 2.");
    },
  );

  it("the lock of a process that died (SIGKILL) is taken over by the next start, and the data is there", async () => {
    const { folder, env } = setup();
    const first = await startInstance(env);
    expect((await register(first.url, "alice")).status).toBe(201);
    const pid = pidOf(first.output());
    process.kill(pid, "SIGKILL");
    await first.stop();
    expect(existsSync(join(folder, "portcullis.lock"))).toBe(true); // left behind by the dead process
    const next = await startInstance(env);
    try {
      expect(readFileSync(join(folder, "portcullis.lock"), "utf8").split(" ")[0]).not.toBe(String(pid));
      const login = await call(next.url, "POST", "/auth/token/login/", { json: { username: "alice", password: PW } });
      expect(login.status, login.text).toBe(200);
    } finally {
      await next.stop();
    }
  });
});

describe("owner-only files, whatever the umask", () => {
  it("migrate under umask 000: DATA_DIR, its secret key and the PGlite folder are the owner's alone", async () => {
    const { data, folder, env } = setup();
    const r = await withUmask(0, () => runCommand(["migrate"], env));
    expect(r.code, r.output).toBe(0);
    expect(mode(data)).toBe("700");
    expect(mode(folder)).toBe("700");
    expect(mode(join(data, "secret_key"))).toBe("600");
    expect(laxEntries(data)).toEqual([]);
  });

  it("a folder left world-writable (as earlier versions made it) is put right at the next start", async () => {
    const { data, folder, env } = setup();
    expect((await runCommand(["migrate"], env)).code).toBe(0);
    execFileSync("chmod", ["-R", "a+rwX", data]);
    expect(laxEntries(data).length).toBeGreaterThan(900);
    const r = await runCommand(["migrate"], env);
    expect(r.code, r.output).toBe(0);
    expect(mode(folder)).toBe("700");
    expect(mode(join(data, "secret_key"))).toBe("600");
    expect(laxEntries(folder)).toEqual([]);
  });

  it(
    "serve under umask 000: " + "after registrations, mails and SIGTERM, nothing under DATA_DIR is open to others",
    async () => {
      const { data, env } = setup();
      const server = await withUmask(0, () => startInstance({ ...env, DJOSER_SEND_ACTIVATION_EMAIL: "true" }));
      try {
        for (const username of ["alice", "bob"]) {
          const created = await register(server.url, username);
          expect(created.status, created.text).toBe(201);
        }
        const mails = () => readdirSync(join(data, "mail")).filter((f) => f.endsWith(".eml"));
        await vi.waitFor(() => expect(mails()).toHaveLength(2), { timeout: 20_000, interval: 200 });
        // While it runs: the folders keep everyone else out (PGlite makes its new files 0666 inside).
        expect(mode(join(data, "mail"))).toBe("700");
        expect(mode(join(data, "pglite"))).toBe("700");
      } finally {
        expect(await server.stop()).toBe(0);
      }
      expect(laxEntries(data)).toEqual([]);
    },
  );
});
