// The CLI as an operator runs it: `node bin/portcullis.js <command>` in a child process, set up
// through the environment only.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, type CliRun, cliEnv, runCli } from "../../helpers/cli.ts";
import { freePort } from "../../helpers/net.ts";
import { freshPostgres, startTestServer } from "../../helpers/server.ts";

// Every committed migration, in order: a fresh database gets them all.
const MIGRATIONS = readdirSync(new URL("../../../prisma/migrations/", import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();
// What `portcullis migrate` prints, in Django's words: each migration as it is applied, or that there is none.
const APPLIED_ALL = `Running migrations:\n${MIGRATIONS.map((m) => `  Applying ${m}... OK\n`).join("")}`;
const NOTHING_TO_APPLY = "Running migrations:\n  No migrations to apply.\n";
const SUPERUSER_PASSWORD = "Sup3r-Secret-Pass!";
const PW = "Kq7!vLp2#Zx9";

// Two migrates, three createsuperusers and two starts, each a process opening PGlite: on a busy
// machine that takes minutes, not the default minute.
const SEVEN_PROCESSES = 180_000;

const tmp = mkdtempSync(join(tmpdir(), "portcullis-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

type Run = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

function collect(child: ChildProcess): Promise<Run> {
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c) => (stdout += c));
  child.stderr!.on("data", (c) => (stderr += c));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs one command to completion (test/helpers/cli.ts: killed if it hangs, so the test fails, not the run). */
const cli = (args: string[], env: Record<string, string>, cwd = tmp): Promise<CliRun> => runCli(args, env, cwd);

/** `serve` in the background, once /healthz answers 200. */
async function serve(env: Record<string, string>) {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, "serve"], {
    cwd: tmp,
    env: cliEnv({ ...env, HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "info" }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const done = collect(child);
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  void done.then(() => (exited = true));
  for (let i = 0; ; i++) {
    if (exited) throw new Error(`serve exited early: ${JSON.stringify(await done)}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error("serve did not answer /healthz");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    child,
    /** SIGTERM, then what the process printed and how it ended. */
    async stop(): Promise<Run> {
      const guard = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.kill("SIGTERM");
      try {
        return await done;
      } finally {
        clearTimeout(guard);
      }
    },
  };
}

async function post(url: string, path: string, body: unknown, key?: string) {
  const res = await fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Token ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json().catch(() => undefined)) as any };
}

describe("portcullis CLI", () => {
  it(
    "migrate → createsuperuser → serve → SIGTERM → serve again, " +
      "on one PGlite folder (and the generated dev key is reused)",
    async () => {
      const folder = join(tmp, "pglite");
      const dataDir = join(tmp, "data");
      // No SECRET_KEY: development generates one under DATA_DIR.
      const env = {
        DATABASE_URL: `pglite:${folder}`,
        DATA_DIR: dataDir,
        EMAIL_BACKEND: "file",
        EMAIL_FILE_PATH: join(tmp, "mail"),
      };

      const first = await cli(["migrate"], env);
      expect(first, first.stderr).toMatchObject({ code: 0, stdout: APPLIED_ALL });
      const keyFile = join(dataDir, "secret_key");
      expect(existsSync(keyFile)).toBe(true);
      const devKey = readFileSync(keyFile, "utf8");
      expect(devKey.trim().length).toBeGreaterThanOrEqual(32);

      const second = await cli(["migrate"], env);
      expect(second, second.stderr).toMatchObject({ code: 0, stdout: NOTHING_TO_APPLY });
      expect(readFileSync(keyFile, "utf8")).toBe(devKey);

      const noPassword = await cli(
        ["createsuperuser", "--username", "root", "--email", "root@example.com", "--no-input"],
        env,
      );
      expect(noPassword.code).toBe(2);
      expect(noPassword.stderr).toContain("PORTCULLIS_SUPERUSER_PASSWORD");

      const su = await cli(["createsuperuser", "--username", "root", "--email", "root@example.com", "--no-input"], {
        ...env,
        PORTCULLIS_SUPERUSER_PASSWORD: SUPERUSER_PASSWORD,
      });
      expect(su.code, su.stderr).toBe(0);
      expect(su.stdout).toMatch(/^Superuser created: id \d+\.\n$/);
      const dupe = await cli(["createsuperuser", "--username", "root", "--email", "root@example.com", "--no-input"], {
        ...env,
        PORTCULLIS_SUPERUSER_PASSWORD: SUPERUSER_PASSWORD,
      });
      expect(dupe.code).toBe(1);
      expect(dupe.stderr).toContain("already exists");

      const server = await serve(env);
      const health = await fetch(`${server.url}/healthz`);
      expect(await health.json()).toEqual({ status: "ok", database: "pglite" });
      const login = await post(server.url, "/auth/token/login/", { username: "root", password: SUPERUSER_PASSWORD });
      expect(login.status).toBe(200);
      const rootKey: string = login.json.auth_token;
      // Staff: the list shows other users too (HIDE_USERS hides them from everyone else).
      expect((await post(server.url, "/auth/users/", { username: "plain", password: PW })).status).toBe(201);
      const list = await fetch(`${server.url}/auth/users/`, { headers: { authorization: `Token ${rootKey}` } });
      expect(((await list.json()) as { username: string }[]).map((u) => u.username)).toEqual(["root", "plain"]);
      const stopped = await server.stop();
      expect(stopped.signal).toBeNull();
      expect(stopped.code).toBe(0);
      expect(stopped.stdout).toContain("SIGTERM received, shutting down");
      expect(stopped.stderr).toBe("");

      // The folder is reusable: a second serve just starts, with the data and the dev key of the first.
      const again = await serve(env);
      const relogin = await post(again.url, "/auth/token/login/", { username: "root", password: SUPERUSER_PASSWORD });
      expect(relogin.status).toBe(200);
      // Shared tokens derive from SECRET_KEY: the same key comes back only if the same secret was reused.
      expect(relogin.json.auth_token).toBe(rootKey);
      expect((await post(again.url, "/auth/token/login/", { username: "plain", password: PW })).status).toBe(200);
      const stoppedAgain = await again.stop();
      expect(stoppedAgain.code).toBe(0);
      expect(stoppedAgain.stdout).not.toContain("migrations applied");
      expect(readFileSync(keyFile, "utf8")).toBe(devKey);
    },
    SEVEN_PROCESSES,
  );

  it("createsuperuser with USERNAME_FIELD=email: a taken address is refused with the email's message", async () => {
    const env = {
      DATABASE_URL: `pglite:${join(tmp, "pglite-email")}`,
      SECRET_KEY: "cli-test-secret-key-long-enough-0123456789",
      USERNAME_FIELD: "email",
      PORTCULLIS_SUPERUSER_PASSWORD: SUPERUSER_PASSWORD,
    };
    const first = await cli(["createsuperuser", "--email", "boss@example.com", "--no-input"], env);
    expect(first.code, first.stderr).toBe(0);
    // The unique key is the lower-cased address: another case of it is the same login.
    const dupe = await cli(["createsuperuser", "--email", "Boss@Example.com", "--no-input"], env);
    expect(dupe.code).toBe(1);
    expect(dupe.stderr).toBe("Error: user with this email address already exists.\n");
  });

  it("migrate on a fresh PostgreSQL database", async () => {
    const db = await freshPostgres();
    try {
      const env = { DATABASE_URL: db.url, SECRET_KEY: "cli-test-secret-key-long-enough-0123456789" };
      const first = await cli(["migrate"], env);
      expect(first, first.stderr).toMatchObject({ code: 0, stdout: APPLIED_ALL });
      const second = await cli(["migrate"], env);
      expect(second, second.stderr).toMatchObject({ code: 0, stdout: NOTHING_TO_APPLY });
    } finally {
      await db.drop();
    }
  });

  it("invalid settings stop the start with exit code 1, naming the setting", async () => {
    const base = { DATABASE_URL: "pglite:memory", SECRET_KEY: "cli-test-secret-key-long-enough-0123456789" };
    const [activation, port, backend] = await Promise.all([
      cli(["serve"], { ...base, DJOSER_SEND_ACTIVATION_EMAIL: "maybe" }),
      cli(["serve"], { ...base, PORT: "abc" }),
      cli(["migrate"], { ...base, EMAIL_BACKEND: "carrier-pigeon" }),
    ]);
    expect(activation.code).toBe(1);
    expect(activation.stderr).toContain("Invalid settings");
    expect(activation.stderr).toContain("DJOSER.SEND_ACTIVATION_EMAIL");
    expect(port.code).toBe(1);
    expect(port.stderr).toMatch(/^\s+PORT: /m);
    expect(backend.code).toBe(1);
    expect(backend.stderr).toContain("EMAIL_BACKEND");
    for (const r of [activation, port, backend]) expect(r.stdout).toBe("");
  });

  it("NODE_ENV=production refuses to start without a SECRET_KEY or with a short one", async () => {
    const base = {
      NODE_ENV: "production",
      DATABASE_URL: "pglite:memory",
      DATA_DIR: join(tmp, "prod-data"),
      ALLOWED_HOSTS: '["localhost"]',
      EMAIL_BACKEND: "file",
    };
    const [missing, short] = await Promise.all([
      cli(["serve"], base),
      cli(["serve"], { ...base, SECRET_KEY: "too-short" }),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("SECRET_KEY is required when NODE_ENV=production");
    expect(short.code).toBe(1);
    expect(short.stderr).toContain("SECRET_KEY must be at least 32 bytes when NODE_ENV=production");
    // No key was generated for production.
    expect(existsSync(join(tmp, "prod-data", "secret_key"))).toBe(false);
  });

  it("NODE_ENV=Production counts as production, in any case and with spaces around it", async () => {
    const db = `pglite:${join(tmp, "prod-case-db")}`;
    const data = join(tmp, "prod-case-data");
    const base = { DATA_DIR: data, ALLOWED_HOSTS: '["localhost"]', EMAIL_BACKEND: "file", DATABASE_URL: db };
    const cases = ["Production", "PRODUCTION", " production\n"];
    const runs = await Promise.all(cases.map((NODE_ENV) => cli(["migrate"], { ...base, NODE_ENV })));
    for (const r of runs) {
      expect(r.code, r.stdout).toBe(1);
      expect(r.stderr).toContain("Refusing to start with NODE_ENV=production");
      expect(r.stderr).toContain("SECRET_KEY is required when NODE_ENV=production");
    }
    // Taken for development, it would have generated a key and migrated a database.
    expect(existsSync(join(tmp, "prod-case-data", "secret_key"))).toBe(false);
    expect(existsSync(join(tmp, "prod-case-db"))).toBe(false);
  });

  it("NODE_ENV=production with DATABASE_URL=pglite:memory is refused: every account would be lost", async () => {
    const r = await cli(["serve"], {
      NODE_ENV: "production",
      SECRET_KEY: "cli-test-secret-key-long-enough-0123456789",
      ALLOWED_HOSTS: '["localhost"]',
      EMAIL_BACKEND: "file",
      DATA_DIR: join(tmp, "prod-memory"),
      DATABASE_URL: "pglite:memory",
    });
    expect(r.code, r.stdout).toBe(1);
    expect(r.stderr).toContain("Refusing to start with NODE_ENV=production");
    expect(r.stderr).toContain(
      "DATABASE_URL: pglite:memory keeps every account in memory and loses them all at restart",
    );
    expect(r.stdout).not.toMatch(/listening/i);
  });

  it(
    "endallsessions after a SECRET_KEY rotation: " +
      "keys and JWTs issued under the old key stop working; new logins work",
    async () => {
      const db = await freshPostgres();
      // JWTs here have a SIGNING_KEY of their own, which the rotation leaves alone.
      const jwtKey = { SIMPLE_JWT_SIGNING_KEY: "a-jwt-signing-key-0123456789abcdefghijkl" };
      const before = await startTestServer("postgresql", {
        ...jwtKey,
        DATABASE_URL: db.url,
        SECRET_KEY: "the-old-secret-key-0123456789abcdefghij",
      });
      try {
        expect((await before.request("POST", "/auth/users/", { json: { username: "kim", password: PW } })).status).toBe(
          201,
        );
        const key = (await before.request("POST", "/auth/token/login/", { json: { username: "kim", password: PW } }))
          .json.auth_token;
        const pair = (await before.request("POST", "/auth/jwt/create/", { json: { username: "kim", password: PW } }))
          .json;
        await before.stop();
        const env = { ...jwtKey, DATABASE_URL: db.url, SECRET_KEY: "the-new-secret-key-0123456789abcdefghij" };
        const after = await startTestServer("postgresql", { ...env, AUTO_MIGRATE: "false" });
        try {
          const me = (authorization: string) => after.request("GET", "/auth/users/me/", { headers: { authorization } });
          // The shared key is stored by its hash, so it outlives the key it was derived from.
          expect((await me(`Token ${key}`)).status).toBe(200);
          expect((await me(`Bearer ${pair.access}`)).status).toBe(200);
          const refused = await cli(["endallsessions"], env);
          expect([refused.code, refused.stderr]).toEqual([2, expect.stringContaining("pass --yes")]);
          const ended = await cli(["endallsessions", "--yes"], env);
          expect([ended.code, ended.stdout.trim()]).toEqual([
            0,
            "Ended 1 opaque token(s) and 1 JWT session(s); every JWT issued until now is refused.",
          ]);
          expect([(await me(`Token ${key}`)).json]).toEqual([{ detail: "Invalid token." }]);
          expect((await after.request("POST", "/auth/jwt/refresh/", { json: { refresh: pair.refresh } })).json).toEqual(
            {
              detail: "Token is blacklisted",
              code: "token_not_valid",
            },
          );
          expect((await me(`Bearer ${pair.access}`)).status).toBe(401);
          const fresh = (await after.request("POST", "/auth/token/login/", { json: { username: "kim", password: PW } }))
            .json.auth_token;
          expect(fresh).not.toBe(key);
          expect((await me(`Token ${fresh}`)).status).toBe(200);
        } finally {
          await after.stop();
        }
      } finally {
        await db.drop();
      }
    },
  );

  it("unknown commands print the usage and exit 2", async () => {
    const r = await cli(["frobnicate"], { DATABASE_URL: "pglite:memory" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Unknown command "frobnicate".');
    expect(r.stderr).toContain("Usage: portcullis <command>");
  });
});
