// Throttling end to end (DRF's DEFAULT_THROTTLE_RATES): every scope over REST and tRPC with DRF's
// 429 words and a Retry-After that agrees; counted by address and by account; whose
// X-Forwarded-For is believed; and Redis-backed counts shared by two real `portcullis serve`
// processes, failing open or closed (never a 500) while Redis is away, and resuming after.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../../src/db/index.ts";
import { type Instance, startInstance } from "../../helpers/instances.ts";
import { readResponse } from "../../helpers/net.ts";
import { freshPostgres, startTestServer, type TestServer } from "../../helpers/server.ts";
import { type PrivateRedis, privateRedis } from "../../helpers/services.ts";
import { failure, trpcClient } from "../../helpers/trpc.ts";

const ARGON2 = '{"MEMORY_COST":1024,"TIME_COST":1,"PARALLELISM":1}';
const PW = "Kq7!vLp2#Zx9";
type Answer = Awaited<ReturnType<typeof readResponse>>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const from = (ip: string) => ({ "x-forwarded-for": ip });
const words = (n: number) => `Request was throttled. Expected available in ${n} second${n === 1 ? "" : "s"}.`;

/** fetch a URL and read the whole answer. */
const call = async (url: string, method: string, headers: Record<string, string> = {}, json?: unknown) =>
  readResponse(
    await fetch(url, {
      method,
      headers: json === undefined ? headers : { "content-type": "application/json", ...headers },
      body: json === undefined ? undefined : JSON.stringify(json),
    }),
  );
const rest = (base: string, method: string, path: string, headers?: Record<string, string>, json?: unknown) =>
  call(base + path, method, headers, json);
/** One tRPC call over plain HTTP, to see the status and headers a client gets. */
const trpc = (base: string, path: string, input: unknown, headers: Record<string, string> = {}) =>
  input === undefined
    ? call(`${base}/trpc/${path}`, "GET", headers)
    : call(`${base}/trpc/${path}`, "POST", headers, input);

/** DRF's Throttled answer: its words ("1 second." singular) and Retry-After, within (0, max]. */
function expectThrottled(res: Answer, max: number): number {
  expect(res.status, res.text).toBe(429);
  const wait = Number(res.headers.get("retry-after"));
  expect(wait).toBeGreaterThanOrEqual(1);
  expect(wait).toBeLessThanOrEqual(max);
  expect(res.json).toEqual({ detail: words(wait) });
  return wait;
}
/** tRPC's side: TOO_MANY_REQUESTS as HTTP 429, data.code "throttled", data.retryAfter = Retry-After. */
function expectTrpcThrottled(res: Answer, max: number): number {
  expect(res.status, res.text).toBe(429);
  const wait = Number(res.headers.get("retry-after"));
  expect(wait).toBeGreaterThanOrEqual(1);
  expect(wait).toBeLessThanOrEqual(max);
  expect(res.json.error).toMatchObject({
    message: words(wait),
    code: -32029,
    data: { code: "throttled", httpStatus: 429, retryAfter: wait },
  });
  return wait;
}
/** Answered, and not by a throttle (nor a 500). */
const notThrottled = (res: Answer) => expect([429, 500, 503], res.text).not.toContain(res.status);

// The counts live in memory (or Redis, below) whatever the database: PostgreSQL only here.
const kind = "postgresql";
describe("throttle scopes", () => {
  // login, registration and email: NUM_PROXIES=1, so each test speaks from addresses of its own.
  describe("login, registration, email (NUM_PROXIES=1)", () => {
    let s: TestServer;
    let ip = 0;
    const nextIp = () => `198.51.100.${++ip}`;
    beforeAll(async () => {
      s = await startTestServer(kind, {
        ARGON2,
        NUM_PROXIES: "1",
        DEFAULT_THROTTLE_RATES: JSON.stringify({ login: "3/min", registration: "2/min", email: "3/min" }),
      });
      for (const name of ["ann", "erin", "kim"])
        expect(
          (
            await s.request("POST", "/auth/users/", {
              headers: from(nextIp()),
              json: { username: name, email: `${name}@example.com`, password: PW },
            })
          ).status,
        ).toBe(201);
    });
    afterAll(async () => s?.stop());

    it("login, by address: three names from one address use it up, on both endpoints and both adapters", async () => {
      const a = nextIp();
      for (const name of ["x1", "x2", "x3"])
        expect(
          (await rest(s.url, "POST", "/auth/token/login/", from(a), { username: name, password: PW })).status,
        ).toBe(400);
      const wait = expectThrottled(
        await rest(s.url, "POST", "/auth/token/login/", from(a), { username: "erin", password: PW }),
        60,
      ); // even the right password
      expect(wait).toBeGreaterThan(50);
      expectThrottled(await rest(s.url, "POST", "/auth/jwt/create/", from(a), { username: "x4", password: PW }), 60);
      expectTrpcThrottled(await trpc(s.url, "token.login", { username: "x5", password: PW }, from(a)), 60);
      const e = await failure(trpcClient(s, from(a)).jwt.create.mutate({ username: "x6", password: PW }));
      expect(e.data).toMatchObject({ code: "throttled", httpStatus: 429, retryAfter: expect.any(Number) });
      // Another address is not affected.
      expect(
        (await rest(s.url, "POST", "/auth/token/login/", from(nextIp()), { username: "x7", password: PW })).status,
      ).toBe(400);
    });

    it("login, by account: one name (any case) from three addresses uses it up; other names from those addresses pass", async () => {
      const [a, b, c, d] = [nextIp(), nextIp(), nextIp(), nextIp()];
      expect(
        (await rest(s.url, "POST", "/auth/token/login/", from(a), { username: "ann", password: "wrong-1" })).status,
      ).toBe(400);
      expect(
        (await rest(s.url, "POST", "/auth/jwt/create/", from(b), { username: "ANN", password: "wrong-2" })).status,
      ).toBe(401);
      expect((await trpc(s.url, "token.login", { username: "Ann", password: "wrong-3" }, from(c))).status).toBe(400);
      expectThrottled(await rest(s.url, "POST", "/auth/token/login/", from(d), { username: "ann", password: PW }), 60);
      expectTrpcThrottled(await trpc(s.url, "jwt.create", { username: "aNN", password: PW }, from(d)), 60);
      expect((await rest(s.url, "POST", "/auth/token/login/", from(a), { username: "kim", password: PW })).status).toBe(
        200,
      );
    });

    it("registration, by address: REST and tRPC count together", async () => {
      const a = nextIp();
      expect((await rest(s.url, "POST", "/auth/users/", from(a), { username: "reg1", password: PW })).status).toBe(201);
      expect((await trpc(s.url, "users.create", { username: "reg2", password: PW }, from(a))).status).toBe(200);
      expectThrottled(await rest(s.url, "POST", "/auth/users/", from(a), { username: "reg3", password: PW }), 60);
      expectTrpcThrottled(await trpc(s.url, "users.create", { username: "reg4", password: PW }, from(a)), 60);
      expect(
        (await rest(s.url, "POST", "/auth/users/", from(nextIp()), { username: "reg5", password: PW })).status,
      ).toBe(201);
      expect(await s.deps.prisma.user.count({ where: { username: { startsWith: "reg" } } })).toBe(3);
    });

    it("email, by address: resend_activation, reset_password and reset_username share one count", async () => {
      const a = nextIp();
      notThrottled(await rest(s.url, "POST", "/auth/users/resend_activation/", from(a), { email: "e1@example.com" }));
      expect(
        (await rest(s.url, "POST", "/auth/users/reset_password/", from(a), { email: "e2@example.com" })).status,
      ).toBe(204);
      expect(
        (await rest(s.url, "POST", "/auth/users/reset_username/", from(a), { email: "e3@example.com" })).status,
      ).toBe(204);
      expectThrottled(
        await rest(s.url, "POST", "/auth/users/reset_password/", from(a), { email: "e4@example.com" }),
        60,
      );
      expectTrpcThrottled(await trpc(s.url, "users.resetUsername", { email: "e5@example.com" }, from(a)), 60);
      expect(
        (await rest(s.url, "POST", "/auth/users/reset_password/", from(nextIp()), { email: "e6@example.com" })).status,
      ).toBe(204);
    });

    it("email, by address of mail (any case) from four addresses: three answered, then 429s and no more mail", async () => {
      const mails = () => s.mails().filter((m) => m.to === "erin@example.com").length;
      const before = mails();
      // As Djoser, only the exact address is mailed; every spelling counts against the same mailbox.
      for (const email of ["erin@example.com", "ERIN@example.com", "Erin@EXAMPLE.com"])
        expect((await rest(s.url, "POST", "/auth/users/reset_password/", from(nextIp()), { email })).status).toBe(204);
      await s.deps.outbox.idle();
      expect(mails()).toBe(before + 1);
      expectThrottled(
        await rest(s.url, "POST", "/auth/users/reset_password/", from(nextIp()), { email: "erin@example.com" }),
        60,
      );
      expectTrpcThrottled(await trpc(s.url, "users.resetPassword", { email: "erin@EXAMPLE.com" }, from(nextIp())), 60);
      await s.deps.outbox.idle();
      expect(mails()).toBe(before + 1); // the exact address, throttled because of the other spellings
    });

    it("scopes do not leak: an address out of login attempts still registers and asks for mails", async () => {
      const a = nextIp();
      for (const name of ["l1", "l2", "l3"])
        expect(
          (await rest(s.url, "POST", "/auth/token/login/", from(a), { username: name, password: PW })).status,
        ).toBe(400);
      expectThrottled(await rest(s.url, "POST", "/auth/token/login/", from(a), { username: "l4", password: PW }), 60);
      expect((await rest(s.url, "POST", "/auth/users/", from(a), { username: "leak1", password: PW })).status).toBe(
        201,
      );
      expect(
        (await rest(s.url, "POST", "/auth/users/reset_password/", from(a), { email: "leak@example.com" })).status,
      ).toBe(204);
      for (let i = 0; i < 5; i++)
        expect((await rest(s.url, "OPTIONS", "/auth/token/login/", from(a))).status).toBe(200); // anon is off
    });
  });

  describe("anon and user (anon 3/min, user 2/s)", () => {
    let s: TestServer;
    const keys: string[] = [];
    beforeAll(async () => {
      s = await startTestServer(kind, {
        ARGON2,
        NUM_PROXIES: "1",
        DEFAULT_THROTTLE_RATES: JSON.stringify({ anon: "3/min", user: "2/s" }),
      });
      for (const [i, name] of ["u1", "u2"].entries()) {
        expect(
          (
            await s.request("POST", "/auth/users/", {
              headers: from(`192.0.2.${i + 1}`),
              json: { username: name, password: PW },
            })
          ).status,
        ).toBe(201);
        keys.push(
          (
            await s.request("POST", "/auth/token/login/", {
              headers: from(`192.0.2.${i + 1}`),
              json: { username: name, password: PW },
            })
          ).json.auth_token,
        );
      }
    });
    afterAll(async () => s?.stop());

    it("anon: every anonymous request of an address, REST and tRPC public procedures together", async () => {
      const a = from("203.0.113.1");
      expect((await rest(s.url, "GET", "/auth/users/me/", a)).status).toBe(401); // refused before the throttle, as in DRF: not counted
      expect((await rest(s.url, "OPTIONS", "/auth/token/login/", a)).status).toBe(200);
      expect((await rest(s.url, "POST", "/auth/jwt/verify/", a, { token: "x" })).status).toBe(401);
      notThrottled(await trpc(s.url, "jwt.verify", { token: "x" }, a));
      const wait = expectThrottled(await rest(s.url, "OPTIONS", "/auth/token/login/", a), 60);
      expectTrpcThrottled(await trpc(s.url, "users.resendActivation", { email: "a@example.com" }, a), 60);
      console.log(`anon: 3 requests, then 429 with Retry-After ${wait}`);
      expect((await rest(s.url, "OPTIONS", "/auth/token/login/", from("203.0.113.2"))).status).toBe(200); // another address
      // An authenticated request from the exhausted address is the user scope's business.
      expect((await rest(s.url, "GET", "/auth/users/me/", { ...a, authorization: `Token ${keys[0]}` })).status).toBe(
        200,
      );
    });

    it('user: by user id across addresses and adapters; "1 second." with Retry-After: 1; free again a second later', async () => {
      await sleep(1100); // a fresh one-second window for u1
      const u1 = (ip: string) => ({ ...from(ip), authorization: `Token ${keys[0]}` });
      const u2 = { ...from("203.0.113.9"), authorization: `Token ${keys[1]}` };
      const answers = await Promise.all([
        rest(s.url, "GET", "/auth/users/me/", u1("203.0.113.10")),
        trpc(s.url, "users.me", undefined, u1("203.0.113.11")),
        rest(s.url, "GET", "/auth/users/me/", u1("203.0.113.12")),
        trpc(s.url, "users.me", undefined, u1("203.0.113.13")),
        rest(s.url, "GET", "/auth/users/me/", u2),
      ]);
      expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 200, 429, 429]);
      expect(answers[4]!.status).toBe(200); // u2, from the same kind of address, has a count of its own
      for (const [i, r] of answers.slice(0, 4).entries())
        if (r.status === 429) expect(i % 2 ? expectTrpcThrottled(r, 1) : expectThrottled(r, 1)).toBe(1);
      await sleep(1100);
      expect((await rest(s.url, "GET", "/auth/users/me/", u1("203.0.113.10"))).status).toBe(200);
    });
  });
});

describe("refresh (jwt/refresh, 3/min per session)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(kind, { ARGON2, DEFAULT_THROTTLE_RATES: JSON.stringify({ refresh: "3/min" }) });
    expect((await s.request("POST", "/auth/users/", { json: { username: "refresher", password: PW } })).status).toBe(
      201,
    );
  });
  afterAll(async () => s?.stop());
  const login = async () =>
    (await s.request("POST", "/auth/jwt/create/", { json: { username: "refresher", password: PW } })).json as {
      refresh: string;
      access: string;
    };
  const refreshes = () => s.deps.prisma.auditEvent.count({ where: { kind: "token_refreshed" } });

  it("counted per session across REST and tRPC: the fourth refresh is a 429; another session of the user is not held up", async () => {
    const [one, other] = [await login(), await login()];
    for (const via of ["rest", "trpc", "rest"]) {
      const res =
        via === "rest"
          ? await rest(s.url, "POST", "/auth/jwt/refresh/", {}, { refresh: one.refresh })
          : await trpc(s.url, "jwt.refresh", { refresh: one.refresh });
      expect(res.status, res.text).toBe(200);
    }
    expectThrottled(await rest(s.url, "POST", "/auth/jwt/refresh/", {}, { refresh: one.refresh }), 60);
    expectTrpcThrottled(await trpc(s.url, "jwt.refresh", { refresh: one.refresh }), 60);
    expect((await rest(s.url, "POST", "/auth/jwt/refresh/", {}, { refresh: other.refresh })).status).toBe(200);
  });

  it("a full tRPC batch of refreshes in one request writes no more than the rate's audit rows", async () => {
    const { refresh } = await login();
    const before = await refreshes();
    const n = 10; // TRPC_MAX_BATCH_SIZE's default: a batch cannot hold more
    const input = Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), { refresh }]));
    const res = await call(`${s.url}/trpc/${Array(n).fill("jwt.refresh").join(",")}?batch=1`, "POST", {}, input);
    const answers = res.json as { result?: unknown; error?: { data: { code: string } } }[];
    expect(answers).toHaveLength(n);
    expect(answers.filter((a) => a.result).length).toBe(3);
    expect(answers.filter((a) => a.error?.data.code === "throttled").length).toBe(n - 3);
    expect((await refreshes()) - before).toBe(3);
  });
});

// Whose X-Forwarded-For sets the client address: anon 2/min, so the third request of one client is a 429.
const PROXY_CASES: { name: string; env: Record<string, string>; sends: [string, 200 | 429][] }[] = [
  {
    name: "no proxy setting: X-Forwarded-For is ignored (anyone can send one)",
    env: {},
    sends: [
      ["192.0.2.1", 200],
      ["192.0.2.2", 200],
      ["192.0.2.3", 429],
    ],
  },
  {
    name: "NUM_PROXIES=1: the last address is the client's; what the client put before it is ignored",
    env: { NUM_PROXIES: "1" },
    sends: [
      ["192.0.2.1", 200],
      ["192.0.2.2", 200],
      ["6.6.6.6, 192.0.2.1", 200],
      ["7.7.7.7, 192.0.2.1", 429],
      ["192.0.2.2", 200],
      ["192.0.2.3", 200],
    ],
  },
  {
    name: "TRUSTED_PROXIES naming the peer and 10/8: the first untrusted address from the right",
    env: { TRUSTED_PROXIES: '["127.0.0.1","10.0.0.0/8"]' },
    sends: [
      ["192.0.2.1", 200],
      ["192.0.2.1, 10.1.2.3", 200],
      ["8.8.8.8, 192.0.2.1, 10.9.9.9", 429],
      ["192.0.2.1, 198.51.100.5", 200],
      ["192.0.2.2", 200],
    ],
  },
  {
    name: "TRUSTED_PROXIES not naming the peer: X-Forwarded-For is ignored",
    env: { TRUSTED_PROXIES: '["10.0.0.0/8"]' },
    sends: [
      ["192.0.2.1", 200],
      ["192.0.2.2", 200],
      ["192.0.2.3", 429],
    ],
  },
];

describe("client address (anon 2/min)", () => {
  const servers: TestServer[] = [];
  beforeAll(async () => {
    servers.push(
      ...(await Promise.all(
        PROXY_CASES.map(({ env }) =>
          startTestServer("postgresql", { ...env, DEFAULT_THROTTLE_RATES: '{"anon":"2/min"}' }),
        ),
      )),
    );
  });
  afterAll(async () => Promise.all(servers.map((s) => s.stop())));
  it.each(PROXY_CASES.map((c, i) => ({ ...c, i })))("$name", async ({ sends, i }) => {
    const got: number[] = [];
    for (const [xff] of sends)
      got.push((await rest(servers[i]!.url, "OPTIONS", "/auth/token/login/", from(xff))).status);
    expect(got).toEqual(sends.map(([, status]) => status));
  });
});

describe("Redis-backed throttling, shared by two server processes (PostgreSQL + one Redis)", () => {
  let redis: PrivateRedis;
  let pg: Awaited<ReturnType<typeof freshPostgres>>;
  let open: Instance; // THROTTLE_FAILURE_MODE=open (the default)
  let closed: Instance; // THROTTLE_FAILURE_MODE=closed
  const dir = mkdtempSync(join(tmpdir(), "portcullis-throttle-"));
  let n = 0;
  const attempt = (p: Instance, ip: string) =>
    rest(p.url, "POST", "/auth/token/login/", from(ip), { username: `nobody${++n}`, password: PW });
  /** The process's JSON log lines so far. */
  const logs = (p: Instance): { level: number; msg: string }[] =>
    p
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{") && l.endsWith("}"))
      .map((l) => JSON.parse(l));
  const storeDown = (p: Instance) => logs(p).filter((l) => l.msg.startsWith("throttle store (Redis) unavailable"));

  beforeAll(async () => {
    [redis, pg] = await Promise.all([privateRedis(), freshPostgres()]);
    const env = {
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      SECRET_KEY: `throttle-${randomBytes(24).toString("hex")}`,
      ARGON2,
      NUM_PROXIES: "1",
      EMAIL_BACKEND: "file",
      EMAIL_FILE_PATH: join(dir, "mail"),
      DATA_DIR: dir,
      DEFAULT_THROTTLE_RATES: '{"login":"4/min"}',
      LOG_LEVEL: "info",
    };
    const t0 = Date.now();
    // Migrate first, here, so that both processes can start at once without racing to migrate.
    const db = await openDatabase(pg.url, { poolSize: 1 });
    await db.migrate();
    await db.close();
    const both = { ...env, AUTO_MIGRATE: "false" };
    [open, closed] = await Promise.all([
      startInstance(both),
      startInstance({ ...both, THROTTLE_FAILURE_MODE: "closed" }),
    ]);
    console.log(`two serve processes up in ${Date.now() - t0} ms: ${open.url}, ${closed.url}`);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([open?.stop(), closed?.stop()]);
    await Promise.all([redis?.destroy(), pg?.drop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("one count spans both processes; Redis holds only HMACed keys", async () => {
    const ip = "198.51.100.1";
    const first = [
      await attempt(open, ip),
      await attempt(closed, ip),
      await attempt(open, ip),
      await attempt(closed, ip),
    ];
    expect(first.map((r) => r.status)).toEqual([400, 400, 400, 400]);
    expectThrottled(await attempt(open, ip), 60);
    expectThrottled(await attempt(closed, ip), 60);
    expectTrpcThrottled(await trpc(closed.url, "token.login", { username: "someone", password: PW }, from(ip)), 60);
    const client = new Redis(redis.url);
    const keys = await client.keys("portcullis:throttle:*");
    await client.quit();
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k).toMatch(/^portcullis:throttle:login:[A-Za-z0-9_-]{32}$/);
    console.log(
      `shared count: 4 attempts over 2 processes, then 429 on both; ${keys.length} Redis keys, none naming an address or login`,
    );
  });

  it("Redis down: open passes (one error line), closed answers 503 with Retry-After, never a 500; both resume when it is back", async () => {
    await redis.stop();
    const ip = "198.51.100.2";
    const during = [];
    for (let i = 0; i < 6; i++) during.push(await attempt(open, ip));
    expect(during.map((r) => r.status)).toEqual([400, 400, 400, 400, 400, 400]); // over the 4/min, yet let through
    expect(storeDown(open)).toHaveLength(1);
    expect(storeDown(open)[0]).toMatchObject({ level: 50, msg: expect.stringContaining("failing open") });
    for (let i = 0; i < 2; i++) {
      const r = await attempt(closed, ip);
      expect(r.status, r.text).toBe(503);
      expect(r.headers.get("retry-after")).toBe("5");
      expect(r.json.detail).toMatch(/^Rate limiting is unavailable/);
    }
    const t = await trpc(closed.url, "jwt.create", { username: "someone", password: PW }, from(ip));
    expect(t.status).toBe(503);
    expect(t.headers.get("retry-after")).toBe("5");
    expect(t.json.error.data).toMatchObject({ code: "service_unavailable", httpStatus: 503, retryAfter: 5 });
    expect(storeDown(closed)).toHaveLength(1);
    expect(storeDown(closed)[0]!.msg).toContain("failing closed");
    // What is not throttled keeps working on the closed process.
    expect((await rest(closed.url, "OPTIONS", "/auth/token/login/")).status).toBe(200);
    expect((await rest(closed.url, "GET", "/healthz")).status).toBe(200);

    await redis.start();
    const t0 = Date.now();
    // Each process reconnects on its own schedule (ioredis backs off up to 2 s): wait for both.
    const back = (p: Instance) => logs(p).some((l) => l.msg === "Redis reachable again");
    while (!(back(open) && back(closed)) && Date.now() - t0 < 15_000) await sleep(100);
    expect([back(open), back(closed)]).toEqual([true, true]);
    console.log(`both processes reconnected ${Date.now() - t0} ms after Redis restarted`);
    expect((await attempt(closed, "198.51.100.3")).status).toBe(400); // accepting again
    const ip2 = "198.51.100.4";
    const after = [
      await attempt(open, ip2),
      await attempt(closed, ip2),
      await attempt(open, ip2),
      await attempt(closed, ip2),
    ];
    expect(after.map((a) => a.status)).toEqual([400, 400, 400, 400]);
    expectThrottled(await attempt(open, ip2), 60);
    expectThrottled(await attempt(closed, ip2), 60);
    expect(logs(open).some((l) => l.msg.startsWith("throttle store reachable again"))).toBe(true);
    for (const p of [open, closed])
      expect(logs(p).filter((l) => /tRPC procedure failed|internal/i.test(l.msg))).toEqual([]);
  }, 60_000);
});
