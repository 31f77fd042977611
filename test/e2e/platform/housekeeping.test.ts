// What expires is deleted (src/core/housekeeping.ts), through `portcullis flushexpiredtokens`
// and the server's own timer, over PostgreSQL: expired refresh tokens and dead JWT sessions go,
// live ones stay and keep working; a lockout count left quiet for FORGET_AFTER is forgotten, a
// locked name stays locked; opaque keys past TOKEN_TTL go (a shared key's seed with them) and
// audit events past AUDIT_RETENTION_DAYS. Rows are aged with SQL where waiting a day is not an option.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommand } from "../../helpers/instances.ts";
import { freshPostgres, startTestServer, type TestServer } from "../../helpers/server.ts";

const PW = "Kq7!vLp2#Zx9";
const SECRET_KEY = "housekeeping-secret-key-0123456789abcdef";
const ARGON2 = '{"MEMORY_COST":1024,"TIME_COST":1,"PARALLELISM":1}';
// Tokens that expire within the test: an access token lives 1 s, a refresh token 2 s.
const SHORT = { SIMPLE_JWT_ACCESS_TOKEN_LIFETIME: "1", SIMPLE_JWT_REFRESH_TOKEN_LIFETIME: "2" };
const LOCKOUT = { LOGIN_LOCKOUT: '{"FREE_FAILURES":1,"BASE_DELAY":1,"MAX_DELAY":1,"MAX_FAILURES":3}' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const deleted = (
  tokens: number,
  sessions: number,
  locks: number,
  keys = 0,
  events = 0,
  logins = 0,
  challenges = 0,
  states = 0,
) =>
  `Deleted ${tokens} expired refresh token(s), ${sessions} dead JWT session(s), ${locks} forgotten lockout count(s), ` +
  `${keys} expired opaque token(s), ${events} audit event(s) past AUDIT_RETENTION_DAYS, ` +
  `${logins} expired second-factor login(s), ${challenges} expired WebAuthn challenge(s), ` +
  `${states} expired social sign-in state(s).`;

describe("housekeeping (PostgreSQL)", () => {
  let db: Awaited<ReturnType<typeof freshPostgres>>;
  let sql: pg.Client;
  let short: TestServer; // the settings above, no timer
  let long: TestServer; // SimpleJWT's default lifetimes, over the same database
  const common = () => ({ DATABASE_URL: db.url, SECRET_KEY, ARGON2, FLUSH_EXPIRED_INTERVAL: "0", ...LOCKOUT });
  const flush = () => runCommand(["flushexpiredtokens"], { ...common(), ...SHORT, LOG_LEVEL: "warn" });
  const count = async (table: string) => Number((await sql.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

  beforeAll(async () => {
    db = await freshPostgres();
    short = await startTestServer("postgresql", { ...common(), ...SHORT });
    long = await startTestServer("postgresql", { ...common(), AUTO_MIGRATE: "false" });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    expect((await short.request("POST", "/auth/users/", { json: { username: "kim", password: PW } })).status).toBe(201);
  });
  afterAll(async () => {
    await sql?.end();
    await Promise.all([short?.stop(), long?.stop()]);
    await db?.drop();
  });

  it(
    "flushexpiredtokens: expired refresh tokens and their dead sessions go; " +
      "live ones stay and keep working; a second run finds nothing",
    async () => {
      const expiring = (await short.request("POST", "/auth/jwt/create/", { json: { username: "kim", password: PW } }))
        .json;
      const lasting = (await long.request("POST", "/auth/jwt/create/", { json: { username: "kim", password: PW } }))
        .json;
      expect([await count("jwt_refresh_token"), await count("jwt_session")]).toEqual([2, 2]);
      await sleep(2_200); // the short refresh token and its access token have expired

      const first = await flush();
      expect([first.code, first.output.trim()]).toEqual([0, deleted(1, 1, 0)]);
      expect([await count("jwt_refresh_token"), await count("jwt_session")]).toEqual([1, 1]);
      // The flushed token is refused as it was before (never taken for one issued before the move).
      const refused = await long.request("POST", "/auth/jwt/refresh/", { json: { refresh: expiring.refresh } });
      expect([refused.status, refused.json.code]).toEqual([401, "token_not_valid"]);
      expect(await count("jwt_session")).toBe(1);
      // The live session is untouched: its refresh token works, its access token lists it.
      expect((await long.request("POST", "/auth/jwt/refresh/", { json: { refresh: lasting.refresh } })).status).toBe(
        200,
      );
      const mine = await long.request("GET", "/auth/sessions/", {
        headers: { authorization: `Bearer ${lasting.access}` },
      });
      expect([mine.status, mine.json.map((s: { kind: string; current: boolean }) => [s.kind, s.current])]).toEqual([
        200,
        [["jwt", true]],
      ]);

      const again = await flush();
      expect([again.code, again.output.trim()]).toEqual([0, deleted(0, 0, 0)]);
    },
  );

  it(
    "a lockout count quiet for FORGET_AFTER is forgotten; " + "a locked name stays locked until a password reset",
    async () => {
      const login = (username: string) =>
        short.request("POST", "/auth/token/login/", { json: { username, password: "wrong-password" } });
      // "waiting": two failures (one short of the lock). "locked": three (MAX_FAILURES).
      for (const [name, failures] of [
        ["waiting", 2],
        ["locked", 3],
      ] as const) {
        for (let i = 0; i < failures; i++) {
          expect((await login(name)).status, `${name} #${i + 1}`).toBe(400);
          await sleep(1_100); // BASE_DELAY
        }
      }
      expect((await login("locked")).status).toBe(403);
      expect((await flush()).output.trim()).toBe(deleted(0, 0, 0)); // nothing is a day old yet
      await sql.query("UPDATE login_lock SET updated_at = updated_at - interval '25 hours'");

      // Gone: the waiting name's count, and both names' counts per client network (waits only,
      // never a lock); kept: the locked name's count.
      expect((await flush()).output.trim()).toBe(deleted(0, 0, 3));
      expect((await login("locked")).status).toBe(403);
      // Forgotten: one more failure is the first of a new count, so the name at most waits (429,
      // or 400 once the 1 s is over); had the count stayed, it would have been the third: a lock.
      expect((await login("waiting")).status).toBe(400);
      expect([400, 429]).toContain((await login("waiting")).status);
    },
  );

  it(
    "opaque keys past TOKEN_TTL are deleted, the shared key's seed with them: " + "the next login hands out a new key",
    async () => {
      const ttl = { DJOSER_TOKEN_TTL: "1" };
      const keyed = await startTestServer("postgresql", { ...common(), ...ttl, AUTO_MIGRATE: "false" });
      try {
        const login = async () =>
          (await keyed.request("POST", "/auth/token/login/", { json: { username: "kim", password: PW } })).json
            .auth_token;
        const key = await login();
        expect(await count("auth_token")).toBe(1);
        await sleep(1_200);
        const flushed = await runCommand(["flushexpiredtokens"], { ...common(), ...ttl, LOG_LEVEL: "warn" });
        expect([flushed.code, flushed.output.trim()]).toEqual([0, deleted(0, 0, 0, 1)]);
        expect(await count("auth_token")).toBe(0);
        const next = await login();
        expect(next).not.toBe(key);
        const old = await keyed.request("GET", "/auth/users/me/", { headers: { authorization: `Token ${key}` } });
        expect([old.status, old.json]).toEqual([401, { detail: "Invalid token." }]);
        expect(
          (await keyed.request("GET", "/auth/users/me/", { headers: { authorization: `Token ${next}` } })).status,
        ).toBe(200);
      } finally {
        await keyed.stop();
      }
    },
  );

  it("audit events older than AUDIT_RETENTION_DAYS are deleted; newer ones stay", async () => {
    const before = await count("audit_event");
    expect(before).toBeGreaterThan(2);
    await sql.query(
      "UPDATE audit_event SET at = at - interval '31 days' " +
        "WHERE id IN (SELECT id FROM audit_event ORDER BY id LIMIT 2)",
    );
    const kept = await runCommand(["flushexpiredtokens"], { ...common(), LOG_LEVEL: "warn" }); // default: 180 days
    expect(kept.output.trim()).toBe(deleted(0, 0, 0));
    const flushed = await runCommand(["flushexpiredtokens"], {
      ...common(),
      AUDIT_RETENTION_DAYS: "30",
      LOG_LEVEL: "warn",
    });
    expect([flushed.code, flushed.output.trim()]).toEqual([0, deleted(0, 0, 0, 0, 2)]);
    expect(await count("audit_event")).toBe(before - 2);
  });

  it("logins waiting for a second factor, WebAuthn challenges and social states go once expired", async () => {
    await sql.query(
      "INSERT INTO mfa_login (token_hash, user_id, factor, credential, expires_at) VALUES " +
        "(repeat('a', 64), 1, 'pwd', 'token', now() - interval '1 second'), " +
        "(repeat('b', 64), 1, 'pwd', 'token', now() + interval '1 hour')",
    );
    await sql.query(
      "INSERT INTO webauthn_challenge (key_hash, challenge, purpose, expires_at) VALUES " +
        "(repeat('c', 64), 'x', 'login', now() - interval '1 second'), " +
        "(repeat('d', 64), 'y', 'login', now() + interval '1 hour')",
    );
    await sql.query(
      "INSERT INTO social_state (id_hash, expires_at) VALUES " +
        "(repeat('e', 64), now() - interval '1 second'), (repeat('f', 64), now() + interval '1 hour')",
    );
    const flushed = await runCommand(["flushexpiredtokens"], { ...common(), LOG_LEVEL: "warn" });
    expect([flushed.code, flushed.output.trim()]).toEqual([0, deleted(0, 0, 0, 0, 0, 1, 1, 1)]);
    const left = [await count("mfa_login"), await count("webauthn_challenge"), await count("social_state")];
    expect(left).toEqual([1, 1, 1]);
  });

  it("a server deletes expired rows by itself every FLUSH_EXPIRED_INTERVAL seconds", async () => {
    const timed = await startTestServer("postgresql", {
      ...common(),
      ...SHORT,
      AUTO_MIGRATE: "false",
      FLUSH_EXPIRED_INTERVAL: "1",
    });
    try {
      const before = await count("jwt_refresh_token");
      await timed.request("POST", "/auth/jwt/create/", { json: { username: "kim", password: PW } });
      expect(await count("jwt_refresh_token")).toBe(before + 1);
      const t0 = Date.now();
      while ((await count("jwt_refresh_token")) > before && Date.now() - t0 < 15_000) await sleep(200);
      expect(await count("jwt_refresh_token")).toBe(before);
      expect(Date.now() - t0).toBeGreaterThan(1_500); // not before the token expired
    } finally {
      await timed.stop();
    }
  });
});
