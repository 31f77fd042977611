// The auth cache with PostgreSQL alone (no REDIS_URL): invalidations travel over LISTEN/NOTIFY.
// Two instances over one database, each with its own cache and its own listening connection:
// what ends a session on one ends it on the other at once; an instance that loses its channel
// (its connection killed, or PostgreSQL restarted) empties its cache, and once the channel is back
// invalidations reach it again.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Auth, bearer, PW, type Server, tokenAuth, withActors } from "../../helpers/fixture.ts";
import { freshPostgres, startTestServer } from "../../helpers/server.ts";
import { type PrivatePostgres, privatePostgres } from "../../helpers/services.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// This database's listeners only: other test files' servers listen on the same PostgreSQL.
const LISTENERS =
  "SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN portcullis%' AND datname = current_database()";

async function query(url: string, text: string, params: unknown[] = []) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows;
  } finally {
    await c.end();
  }
}
/** Waits until both instances listen on connections other than `old` (so each noticed the loss). */
async function relistened(url: string, old: number[]) {
  const t0 = Date.now();
  for (;;) {
    const pids = (await query(url, LISTENERS)).map((r) => r.pid as number);
    if (pids.length === 2 && !pids.some((p) => old.includes(p))) return;
    if (Date.now() - t0 > 15_000) throw new Error("the instances did not listen again within 15 s");
    await sleep(50);
  }
}
/** Waits until `n` instances listen (their channel is up), for up to 15 s. */
async function listening(url: string, n: number) {
  const t0 = Date.now();
  while ((await query(url, LISTENERS)).length !== n) {
    if (Date.now() - t0 > 15_000) throw new Error(`not ${n} listeners after 15 s`);
    await sleep(100);
  }
}
const statuses = async (s: Server, auth: Auth, times: number) => {
  const out: number[] = [];
  for (let i = 0; i < times; i++) out.push((await s.me(auth)).status);
  return out;
};

/** Two servers over the database at `url`; B starts once A has migrated it. */
async function pair(url: string, kind: "postgresql" | "pglite", extra: Record<string, string> = {}) {
  const env = { DATABASE_URL: url, ARGON2: '{"MEMORY_COST":1024,"TIME_COST":1,"PARALLELISM":1}', ...extra };
  const a = withActors(await startTestServer(kind, env));
  const b = withActors(await startTestServer(kind, { ...env, AUTO_MIGRATE: "false" }));
  return { a, b };
}

describe("two instances on PostgreSQL, no Redis", () => {
  let db: Awaited<ReturnType<typeof freshPostgres>>;
  let a: Server;
  let b: Server;
  beforeAll(async () => {
    db = await freshPostgres();
    ({ a, b } = await pair(db.url, "postgresql"));
    await listening(db.url, 2);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await db?.drop();
  });

  it("the cache is in play: B serves a token deleted behind the services' back, until A changes the user", async () => {
    await a.signUp("cara", "cara@example.com");
    const key = await a.tokenLogin("cara");
    expect(await statuses(b, tokenAuth(key), 3)).toEqual([200, 200, 200]);
    await query(db.url, "DELETE FROM auth_token");
    expect((await a.me(tokenAuth(key))).status).toBe(401);
    expect((await b.me(tokenAuth(key))).status).toBe(200); // from memory
    const jwt = await a.jwtLogin("cara");
    expect((await a.request("POST", "/auth/jwt/logout/", { json: { refresh: jwt.refresh } })).status).toBe(204);
    expect((await b.me(tokenAuth(key))).status).toBe(401);
  });

  it("logouts on A are honoured on B at once, opaque tokens and JWTs, many rounds", async () => {
    const stale: string[] = [];
    for (let i = 0; i < 10; i++) {
      const name = `round${i}`;
      await a.signUp(name, `${name}@example.com`);
      const key = await a.tokenLogin(name);
      const jwt = await a.jwtLogin(name);
      expect(await statuses(b, tokenAuth(key), 2)).toEqual([200, 200]);
      expect(await statuses(b, bearer(jwt.access), 2)).toEqual([200, 200]);
      await a.request("POST", "/auth/token/logout/", { headers: tokenAuth(key) });
      await a.request("POST", "/auth/jwt/logout/", { json: { refresh: jwt.refresh } });
      const [t, j] = [(await b.me(tokenAuth(key))).status, (await b.me(bearer(jwt.access))).status];
      if (t !== 401 || j !== 401) stale.push(`round ${i}: token ${t}, jwt ${j}`);
    }
    expect(stale).toEqual([]);
  });

  it("a lost channel empties the cache; once back, invalidations reach the instance again", async () => {
    await a.signUp("dina", "dina@example.com");
    const key = await a.tokenLogin("dina");
    expect(await statuses(b, tokenAuth(key), 2)).toEqual([200, 200]);
    const old = (await query(db.url, LISTENERS)).map((r) => r.pid as number);
    await query(db.url, `SELECT pg_terminate_backend(pid) FROM (${LISTENERS}) l`);
    // What B cached before the gap may be stale (a change made meanwhile was heard by nobody):
    // once B noticed the loss it holds nothing from before it.
    await relistened(db.url, old);
    await query(db.url, "DELETE FROM auth_token");
    expect((await b.me(tokenAuth(key))).status).toBe(401);
    const again = await a.tokenLogin("dina");
    expect(await statuses(b, tokenAuth(again), 2)).toEqual([200, 200]);
    await a.request("POST", "/auth/token/logout/", { headers: tokenAuth(again) });
    expect((await b.me(tokenAuth(again))).status).toBe(401);
  });
});

describe("two instances through a PostgreSQL restart, no Redis", () => {
  let pgsrv: PrivatePostgres;
  let a: Server;
  let b: Server;
  beforeAll(async () => {
    pgsrv = await privatePostgres();
    // kind "pglite" only means "no database on the shared server": DATABASE_URL points at ours.
    ({ a, b } = await pair(pgsrv.url, "pglite"));
    await listening(pgsrv.url, 2);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await pgsrv?.destroy();
  });

  it("after the restart the cache starts empty, and invalidations reach B again", async () => {
    await a.signUp("erin", "erin@example.com", PW);
    const key = await a.tokenLogin("erin");
    expect(await statuses(b, tokenAuth(key), 2)).toEqual([200, 200]);
    await pgsrv.stop("fast");
    await pgsrv.start();
    await query(pgsrv.url, "DELETE FROM auth_token"); // behind the services' back
    // Until B listens again it answers from the database; after, from an empty cache: 401 either way.
    expect((await b.me(tokenAuth(key))).status).toBe(401);
    await listening(pgsrv.url, 2);
    const again = await a.tokenLogin("erin");
    expect(await statuses(b, tokenAuth(again), 2)).toEqual([200, 200]);
    await a.request("POST", "/auth/token/logout/", { headers: tokenAuth(again) });
    expect((await b.me(tokenAuth(again))).status).toBe(401);
  });
});
