// Issue 6, several instances over one PostgreSQL database and one Redis: two real `portcullis
// serve` processes (A and B) and one `serve --workers 2`. Each caches credential → user in memory
// (src/core/sessions/auth-cache.ts); what ends a session on one instance must end it on every other at
// once (Redis pub/sub), throttles must count across them, and the JWT blacklist is shared.
//
// The machine's Redis is shared with other test files: a SECRET_KEY of this run's own keeps the
// throttle counts apart (their keys are HMACed with it). The cache's invalidation channel is global,
// so other tests' messages can only drop entries here: harmless, never a false pass of a 401.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Answer, call, type Instance, runCommand, startInstance } from "../../helpers/instances.ts";
import { freshPostgres } from "../../helpers/server.ts";

const PW = "Kq7!vLp2#Zx9";
const ROUNDS = 20;
const dir = mkdtempSync(join(tmpdir(), "portcullis-scale-"));
let db: Awaited<ReturnType<typeof freshPostgres>>;
let sql: pg.Client;
let A: Instance, B: Instance, W: Instance;
let pgliteWorkers: ReturnType<typeof runCommand>;

const env = () => ({
  DATABASE_URL: db.url,
  REDIS_URL: "redis://127.0.0.1:6379",
  SECRET_KEY: `scale-out-${randomBytes(24).toString("hex")}`,
  LOG_LEVEL: "warn",
  ARGON2: '{"MEMORY_COST":1024,"TIME_COST":1,"PARALLELISM":1}',
  EMAIL_BACKEND: "file",
  EMAIL_FILE_PATH: join(dir, "mail"),
  DATA_DIR: dir,
  // Every login speaks from an address of its own (X-Forwarded-For, one proxy), so the login
  // throttle (test 3) binds only where a test means it to.
  NUM_PROXIES: "1",
  DEFAULT_THROTTLE_RATES: '{"login":"4/min"}',
  SIMPLE_JWT_ROTATE_REFRESH_TOKENS: "true",
  SIMPLE_JWT_BLACKLIST_AFTER_ROTATION: "true",
  // No grace window: a rotated token presented again (test 4) is reuse at once.
  SIMPLE_JWT_REFRESH_TOKEN_REUSE_INTERVAL: "0",
});

// ── the client's side ─────────────────────────────────────────────────────────────────────────
type User = { id: number; username: string; ip: string };
let serial = 0;
async function newUser(): Promise<User> {
  const n = ++serial;
  const username = `scale${n}`;
  const ip = `10.6.${n >> 8}.${n & 255}`;
  const res = await call(A.url, "POST", "/auth/users/", {
    json: { username, password: PW },
    headers: { "x-forwarded-for": ip },
  });
  expect(res.status, res.text).toBe(201);
  return { id: res.json.id, username, ip };
}
const tokenLogin = (on: Instance, u: User) =>
  call(on.url, "POST", "/auth/token/login/", {
    json: { username: u.username, password: PW },
    headers: { "x-forwarded-for": u.ip },
  });
async function tokenOf(on: Instance, u: User): Promise<string> {
  const res = await tokenLogin(on, u);
  expect(res.status, res.text).toBe(200);
  return res.json.auth_token;
}
async function jwtOf(on: Instance, u: User): Promise<{ access: string; refresh: string }> {
  const res = await call(on.url, "POST", "/auth/jwt/create/", {
    json: { username: u.username, password: PW },
    headers: { "x-forwarded-for": u.ip },
  });
  expect(res.status, res.text).toBe(200);
  return res.json;
}
const token = (key: string) => ({ authorization: `Token ${key}` });
const bearer = (access: string) => ({ authorization: `Bearer ${access}` });
const me = (on: Instance, auth: Record<string, string>) => call(on.url, "GET", "/auth/users/me/", { headers: auth });
/** `times` answers of /auth/users/me/ in a row; their statuses. */
async function meTimes(on: Instance, auth: Record<string, string>, times: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < times; i++) statuses.push((await me(on, auth)).status);
  return statuses;
}
const expectStatus = (res: Answer, status: number) => expect(res.status, res.text).toBe(status);

beforeAll(async () => {
  db = await freshPostgres();
  sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  const settings = env();
  // The refusal needs no database: it runs while the others start.
  pgliteWorkers = runCommand(["serve", "--workers", "2"], { ...settings, DATABASE_URL: "pglite:memory" });
  A = await startInstance(settings); // alone first: it applies the migrations
  // W logs at info so that each worker says it listens, and each request names the worker's pid.
  [B, W] = await Promise.all([
    startInstance(settings),
    startInstance({ ...settings, LOG_LEVEL: "info" }, ["--workers", "2"], {
      ready: (out) => (out.match(/Portcullis listening on/g) ?? []).length >= 2,
    }),
  ]);
}, 180_000);

afterAll(async () => {
  const codes = await Promise.all([A, B, W].map((i) => i?.stop()));
  await sql?.end();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
  expect(codes).toEqual([0, 0, 0]); // a clean SIGTERM stop, workers included
}, 60_000);

// Loaded machines are slow: the loops below take 5–15 s, the whole file about 1–2 min.
describe("several instances over PostgreSQL + Redis", { timeout: 90_000 }, () => {
  it(
    "the cache is really in play: " +
      "B serves a token deleted behind the services' back, until A publishes an invalidation",
    async () => {
      const u = await newUser();
      const key = await tokenOf(A, u);
      expect(await meTimes(B, token(key), 3)).toEqual([200, 200, 200]); // B has it cached now
      await sql.query("DELETE FROM auth_token WHERE user_id = $1", [u.id]); // no service call, no invalidation
      expectStatus(await me(A, token(key)), 401); // A never cached it: the database says no
      expectStatus(await me(B, token(key)), 200); // B answers from memory
      // Any change to the user through the services (here: another session's logout on A) reaches B.
      const pair = await jwtOf(A, u);
      expectStatus(await call(A.url, "POST", "/auth/jwt/logout/", { json: { refresh: pair.refresh } }), 204);
      expectStatus(await me(B, token(key)), 401);
      console.log(
        "scale-out: cache in play — B answered 200 for a token deleted in the database, " +
          "401 once A published an invalidation",
      );
    },
  );

  it("a logout on A is honoured on B at once (opaque tokens and JWTs, many rounds)", async () => {
    const users = await Promise.all(Array.from({ length: 2 * ROUNDS }, newUser));
    const stale: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const key = await tokenOf(A, users[i]!);
      expect(await meTimes(B, token(key), 3)).toEqual([200, 200, 200]);
      expectStatus(await call(A.url, "POST", "/auth/token/logout/", { headers: token(key) }), 204);
      const after = await me(B, token(key));
      if (after.status !== 401) stale.push(`token round ${i}: ${after.status} ${after.text}`);
    }
    for (let i = 0; i < ROUNDS; i++) {
      const pair = await jwtOf(A, users[ROUNDS + i]!);
      expect(await meTimes(B, bearer(pair.access), 3)).toEqual([200, 200, 200]);
      expectStatus(await call(A.url, "POST", "/auth/jwt/logout/", { json: { refresh: pair.refresh } }), 204);
      const after = await me(B, bearer(pair.access));
      if (after.status !== 401) stale.push(`jwt round ${i}: ${after.status} ${after.text}`);
      else expect(after.json.code).toBe("token_not_valid");
    }
    const honoured = 2 * ROUNDS - stale.length;
    console.log(
      `scale-out: ${honoured}/${2 * ROUNDS} logouts on A honoured on B at once ` +
        `(${ROUNDS} opaque tokens, ${ROUNDS} JWTs)`,
    );
    expect(stale).toEqual([]);
  });

  it("a password change on A ends the user's other sessions on B; so does a deactivation by staff", async () => {
    const u = await newUser();
    const caller = await jwtOf(A, u); // the session that changes the password
    const key = await tokenOf(A, u);
    const other = await jwtOf(A, u);
    expect(await meTimes(B, token(key), 2)).toEqual([200, 200]);
    expect(await meTimes(B, bearer(other.access), 2)).toEqual([200, 200]);
    expect(await meTimes(B, bearer(caller.access), 2)).toEqual([200, 200]);
    const change = await call(A.url, "POST", "/auth/users/set_password/", {
      headers: bearer(caller.access),
      json: { new_password: "Nw8#pQr4!tUv", current_password: PW },
    });
    expectStatus(change, 204);
    expectStatus(await me(B, token(key)), 401);
    expectStatus(await me(B, bearer(other.access)), 401);
    // The caller's own session: whatever the policy, both instances agree on it.
    expect((await me(B, bearer(caller.access))).status).toBe((await me(A, bearer(caller.access))).status);

    const staff = await newUser();
    await sql.query("UPDATE auth_user SET is_staff = true WHERE id = $1", [staff.id]); // setup only
    const staffKey = await tokenOf(A, staff);
    const v = await newUser();
    const [vKey, vJwt] = [await tokenOf(A, v), await jwtOf(A, v)];
    expect(await meTimes(B, token(vKey), 2)).toEqual([200, 200]);
    expect(await meTimes(B, bearer(vJwt.access), 2)).toEqual([200, 200]);
    const off = await call(A.url, "POST", "/trpc/users.setActive", {
      headers: token(staffKey),
      json: { id: v.id, active: false },
    });
    expectStatus(off, 200);
    expectStatus(await me(B, token(vKey)), 401);
    expectStatus(await me(B, bearer(vJwt.access)), 401);
  });

  it(
    "throttles count across both instances " + "(login 4/min: 2 on A + 2 on B pass, the 5th is 429 on either)",
    async () => {
      const u = await newUser();
      const statuses = [];
      for (const on of [A, B, A, B]) statuses.push((await tokenLogin(on, u)).status);
      expect(statuses).toEqual([200, 200, 200, 200]);
      for (const on of [A, B]) {
        const res = await tokenLogin(on, u);
        expectStatus(res, 429);
        const wait = Number(res.headers["retry-after"]);
        expect(wait).toBeGreaterThanOrEqual(1);
        expect(wait).toBeLessThanOrEqual(60);
        expect(res.json.detail).toMatch(/^Request was throttled\. Expected available in \d+ seconds?\.$/);
      }
      console.log("scale-out: login throttle counted across A and B: 4 passed (2 + 2), then 429 on both");
    },
  );

  it(
    "the JWT blacklist is shared: " +
      "a refresh token rotated on A is blacklisted on B, and the session ends everywhere",
    async () => {
      const u = await newUser();
      const first = await jwtOf(A, u);
      const rotated = await call(A.url, "POST", "/auth/jwt/refresh/", { json: { refresh: first.refresh } });
      expectStatus(rotated, 200);
      expect(rotated.json.refresh).toEqual(expect.any(String));
      expect(await meTimes(A, bearer(rotated.json.access), 2)).toEqual([200, 200]); // cached on A
      const again = await call(B.url, "POST", "/auth/jwt/refresh/", { json: { refresh: first.refresh } });
      expectStatus(again, 401);
      expect(again.json).toMatchObject({ detail: "Token is blacklisted", code: "token_not_valid" });
      // The reuse ended the whole session on B; A's cached access token dies with it at once.
      expectStatus(await me(A, bearer(rotated.json.access)), 401);
      expectStatus(await call(A.url, "POST", "/auth/jwt/refresh/", { json: { refresh: rotated.json.refresh } }), 401);
    },
  );

  it(
    "serve --workers 2 answers on one port with both workers, " +
      "and a logout through it is honoured by every later request",
    async () => {
      const health = await call(W.url, "GET", "/healthz");
      expect(health.json).toMatchObject({ status: "ok", database: "postgresql" });
      const rounds = 3;
      let after = 0;
      let honoured = 0;
      for (let i = 0; i < rounds; i++) {
        const u = await newUser();
        const key = await tokenOf(W, u);
        expect(await meTimes(W, token(key), 10)).toEqual(Array(10).fill(200)); // fills both workers' caches
        expectStatus(await call(W.url, "POST", "/auth/token/logout/", { headers: token(key) }), 204);
        const statuses = await meTimes(W, token(key), 20);
        after += statuses.length;
        honoured += statuses.filter((s) => s === 401).length;
      }
      // Both workers' caches are in play: a key deleted behind the services' back is still served by
      // either, until an invalidation published through the port (another session's logout) lands.
      const u = await newUser();
      const key = await tokenOf(W, u);
      expect(await meTimes(W, token(key), 4)).toEqual([200, 200, 200, 200]);
      await sql.query("DELETE FROM auth_token WHERE user_id = $1", [u.id]);
      expect(await meTimes(W, token(key), 6)).toEqual(Array(6).fill(200));
      expectStatus(
        await call(W.url, "POST", "/auth/jwt/logout/", { json: { refresh: (await jwtOf(W, u)).refresh } }),
        204,
      );
      expect(await meTimes(W, token(key), 10)).toEqual(Array(10).fill(401));
      // Fastify's request log names the pid of the worker that answered: both took their share.
      const pids = new Set(
        W.output()
          .split("\n")
          .filter((l) => l.includes('"url":"/auth/users/me/"'))
          .map((l) => (JSON.parse(l) as { pid: number }).pid),
      );
      console.log(
        `scale-out: serve --workers 2 — ${honoured}/${after} requests after a logout answered 401; ` +
          "a key deleted in the database still served 6/6 from the workers' caches, 10/10 401 once invalidated; " +
          `/me served by ${pids.size} worker pids`,
      );
      expect(honoured).toBe(after);
      expect(pids.size).toBe(2);
    },
  );

  it("serve --workers 2 over PGlite refuses to start, naming PostgreSQL", async () => {
    const { code, output } = await pgliteWorkers;
    expect(code).not.toBe(0);
    expect(output).toContain("--workers needs PostgreSQL");
  });
});
