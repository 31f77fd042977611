// Throttling end to end (DRF's DEFAULT_THROTTLE_RATES): every scope over REST and tRPC with DRF's
// 429 words and a Retry-After that agrees, counted by address and by account.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../helpers/server.ts";
import { failure, trpcClient } from "../../helpers/trpc.ts";
import {
  ARGON2,
  call,
  expectThrottled,
  expectTrpcThrottled,
  from,
  notThrottled,
  PW,
  rest,
  sleep,
  trpc,
} from "./throttle-setup.ts";

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

    it(
      "login, by account: " +
        "one name (any case) from three addresses uses it up; other names from those addresses pass",
      async () => {
        const [a, b, c, d] = [nextIp(), nextIp(), nextIp(), nextIp()];
        expect(
          (await rest(s.url, "POST", "/auth/token/login/", from(a), { username: "ann", password: "wrong-1" })).status,
        ).toBe(400);
        expect(
          (await rest(s.url, "POST", "/auth/jwt/create/", from(b), { username: "ANN", password: "wrong-2" })).status,
        ).toBe(401);
        expect((await trpc(s.url, "token.login", { username: "Ann", password: "wrong-3" }, from(c))).status).toBe(400);
        expectThrottled(
          await rest(s.url, "POST", "/auth/token/login/", from(d), { username: "ann", password: PW }),
          60,
        );
        expectTrpcThrottled(await trpc(s.url, "jwt.create", { username: "aNN", password: PW }, from(d)), 60);
        expect(
          (await rest(s.url, "POST", "/auth/token/login/", from(a), { username: "kim", password: PW })).status,
        ).toBe(200);
      },
    );

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

    it(
      "email, by address of mail (any case) from four addresses: " + "three answered, then 429s and no more mail",
      async () => {
        const mails = () => s.mails().filter((m) => m.to === "erin@example.com").length;
        const before = mails();
        // As Djoser, only the exact address is mailed; every spelling counts against the same mailbox.
        for (const email of ["erin@example.com", "ERIN@example.com", "Erin@EXAMPLE.com"])
          expect((await rest(s.url, "POST", "/auth/users/reset_password/", from(nextIp()), { email })).status).toBe(
            204,
          );
        await s.deps.outbox.idle();
        expect(mails()).toBe(before + 1);
        expectThrottled(
          await rest(s.url, "POST", "/auth/users/reset_password/", from(nextIp()), { email: "erin@example.com" }),
          60,
        );
        expectTrpcThrottled(
          await trpc(s.url, "users.resetPassword", { email: "erin@EXAMPLE.com" }, from(nextIp())),
          60,
        );
        await s.deps.outbox.idle();
        expect(mails()).toBe(before + 1); // the exact address, throttled because of the other spellings
      },
    );

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
      // Refused before the throttle, as in DRF: not counted.
      expect((await rest(s.url, "GET", "/auth/users/me/", a)).status).toBe(401);
      expect((await rest(s.url, "OPTIONS", "/auth/token/login/", a)).status).toBe(200);
      expect((await rest(s.url, "POST", "/auth/jwt/verify/", a, { token: "x" })).status).toBe(401);
      notThrottled(await trpc(s.url, "jwt.verify", { token: "x" }, a));
      const wait = expectThrottled(await rest(s.url, "OPTIONS", "/auth/token/login/", a), 60);
      expectTrpcThrottled(await trpc(s.url, "users.resendActivation", { email: "a@example.com" }, a), 60);
      console.log(`anon: 3 requests, then 429 with Retry-After ${wait}`);
      // Another address.
      expect((await rest(s.url, "OPTIONS", "/auth/token/login/", from("203.0.113.2"))).status).toBe(200);
      // An authenticated request from the exhausted address is the user scope's business.
      expect((await rest(s.url, "GET", "/auth/users/me/", { ...a, authorization: `Token ${keys[0]}` })).status).toBe(
        200,
      );
    });

    it(
      "user: by user id across addresses and adapters; " + '"1 second." with Retry-After: 1; free again a second later',
      async () => {
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
      },
    );
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

  it(
    "counted per session across REST and tRPC: " +
      "the fourth refresh is a 429; another session of the user is not held up",
    async () => {
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
    },
  );

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
