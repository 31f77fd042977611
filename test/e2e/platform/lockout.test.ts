// Login lockout end to end (LOGIN_LOCKOUT, small numbers: FREE_FAILURES 2, BASE_DELAY 1 s,
// MAX_DELAY 4 s, MAX_FAILURES 6): the wait doubles and is capped, Retry-After says how long, a
// success resets, a name with no account is answered exactly alike, MAX_FAILURES locks until a
// password reset, both are audited; 20 correct logins at once all get in, and 20 wrong guesses at
// once (over two servers sharing the database) get no more than MAX_FAILURES password checks.
// The waits are counted per name and client network, the lock per name, and a client that sends
// back the device cookie of an earlier login as that name is counted on its own: others' guesses
// neither slow nor lock it (OWASP's device cookies).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Answer, PW, type Server, tokenAuth, useServer, withActors } from "../../helpers/fixture.ts";
import { uidToken } from "../../helpers/mail.ts";
import { createStaff, DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";
import { type Client, failure, trpcClient } from "../../helpers/trpc.ts";

const ENV = {
  ARGON2: '{"MEMORY_COST":1024,"TIME_COST":1,"PARALLELISM":1}',
  LOGIN_LOCKOUT: '{"FREE_FAILURES":2,"BASE_DELAY":1,"MAX_DELAY":4,"MAX_FAILURES":6}',
};
const NEW_PW = "Wb3$nTr8@Hy5";
const BAD = { non_field_errors: ["Unable to log in with provided credentials."] };
const LOCKED = { detail: "Too many failed logins for this account: reset the password to log in again." };
const words = (n: number) => `Request was throttled. Expected available in ${n} second${n === 1 ? "" : "s"}.`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** What a client can tell apart: status, Retry-After and body. */
const seen = (r: Answer) => `${r.status} ${r.headers.get("retry-after") ?? "-"} ${r.text}`;
const tokenLogin = (s: TestServer, username: string, password: string) =>
  s.request("POST", "/auth/token/login/", { json: { username, password } });
const jwtLogin = (s: TestServer, username: string, password: string) =>
  s.request("POST", "/auth/jwt/create/", { json: { username, password } });

const register = (s: Server, username: string) => s.signUp(username, `${username}@example.com`);
/** A staff member's client, to read the audit log. */
async function staff(s: Server) {
  await createStaff(s, "boss", PW, "boss@example.com");
  return s.trpc(tokenAuth(await s.tokenLogin("boss")));
}

describe("lockout of one name over time (PostgreSQL)", () => {
  const s = useServer("postgresql", ENV);
  const ids: Record<string, number> = {};
  beforeAll(async () => {
    for (const name of ["ann", "bob"]) ids[name] = await register(s, name);
  });

  it("waits of 1, 2, 4, 4 s (even for the right password), then a lock that outlasts MAX_DELAY; " +
    "an unknown name is answered alike; audited", async () => {
    // The same moves for an account and for a name with no account, side by side.
    const run = async (name: string) => {
      const log: string[] = [];
      log.push(seen(await tokenLogin(s, name, "wrong-1")), seen(await tokenLogin(s, name, "wrong-2")));
      for (const wait of [1, 2, 4, 4]) {
        log.push(seen(await tokenLogin(s, name, PW)));
        await sleep(wait * 1000 + 100);
        log.push(seen(await tokenLogin(s, name, "wrong-again")));
      }
      log.push(seen(await tokenLogin(s, name, PW)));
      await sleep(4_200); // longer than MAX_DELAY: a lock is not a wait
      log.push(seen(await tokenLogin(s, name, PW)), seen(await jwtLogin(s, name, PW)));
      return log;
    };
    const t0 = Date.now();
    const [ann, ghost] = await Promise.all([run("ann"), run("ghost")]);
    const bad = `400 - ${JSON.stringify(BAD)}`;
    const wait = (n: number) => `429 ${n} ${JSON.stringify({ detail: words(n) })}`;
    const locked = `403 - ${JSON.stringify(LOCKED)}`;
    expect(ann).toEqual([bad, bad, wait(1), bad, wait(2), bad, wait(4), bad, wait(4), bad, locked, locked, locked]);
    expect(ghost).toEqual(ann);
    console.log(`backoff 1/2/4/4 s then lock, for ann and for a name with no account: ${Date.now() - t0} ms`);

    const e = await failure(s.trpc().token.login.mutate({ username: "ann", password: PW }));
    expect(e.message).toBe(LOCKED.detail);
    expect(e.data).toMatchObject({ code: "login_locked", httpStatus: 403 });

    const boss = await staff(s);
    const { events } = await boss.audit.list.query({ kind: "lockout", userId: ids.ann });
    expect(events.map((ev) => ev.data)).toEqual([
      { failures: 6, reason: "locked until a password reset" },
      { failures: 2, reason: "backoff started" },
    ]);
    // Refused attempts check no password: only the 6 checked wrong ones are login_failed.
    expect((await boss.audit.list.query({ kind: "login_failed", userId: ids.ann })).events).toHaveLength(6);
  }, 45_000);

  it("a password reset unlocks the account (and only it)", async () => {
    expect(
      (await s.request("POST", "/auth/users/reset_password/", { json: { email: "ann@example.com" } })).status,
    ).toBe(204);
    const link = s
      .mails()
      .filter((m) => m.to === "ann@example.com")
      .flatMap((m) => m.links)
      .at(-1)!;
    const r = await s.request("POST", "/auth/users/reset_password_confirm/", {
      json: { ...uidToken(link), new_password: NEW_PW },
    });
    expect(r.status, r.text).toBe(204);
    expect((await tokenLogin(s, "ann", NEW_PW)).status).toBe(200);
    expect((await tokenLogin(s, "ann", "wrong")).json).toEqual(BAD); // counting from zero again
    expect((await tokenLogin(s, "ghost", PW)).json).toEqual(LOCKED);
  });

  it("a success resets the count; the name counts in any case; REST and tRPC answer the wait alike", async () => {
    expect((await tokenLogin(s, "BOB", "wrong-1")).json).toEqual(BAD);
    expect((await jwtLogin(s, "Bob", "wrong-2")).status).toBe(401);
    const r = await tokenLogin(s, "bob", PW);
    expect(seen(r)).toBe(`429 1 ${JSON.stringify({ detail: words(1) })}`);
    expect(seen(await jwtLogin(s, "bob", PW))).toBe(seen(r));
    const raw = await fetch(`${s.url}/trpc/jwt.create`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "bob", password: PW }),
    });
    expect(raw.status).toBe(429);
    expect(raw.headers.get("retry-after")).toBe("1");
    expect((await raw.json()).error).toMatchObject({
      message: words(1),
      data: { code: "throttled", httpStatus: 429, retryAfter: 1 },
    });
    await sleep(1_100);
    expect((await tokenLogin(s, "bob", PW)).status).toBe(200);
    // From zero again: two free failures, then the first (1 s) wait, not the second (2 s).
    expect((await tokenLogin(s, "bob", "wrong-3")).json).toEqual(BAD);
    expect((await tokenLogin(s, "bob", "wrong-4")).json).toEqual(BAD);
    expect(seen(await tokenLogin(s, "bob", PW))).toBe(`429 1 ${JSON.stringify({ detail: words(1) })}`);
  });
});

describe("lockout and new names (PostgreSQL)", () => {
  const s = useServer("postgresql", ENV);

  it("failures on a name before it was registered are not held against its new owner", async () => {
    for (const guess of ["a", "b"]) expect((await tokenLogin(s, "newbie", guess)).status).toBe(400);
    expect((await tokenLogin(s, "newbie", PW)).status).toBe(429); // the name waits
    await register(s, "newbie");
    expect((await tokenLogin(s, "newbie", PW)).status).toBe(200);
  });

  it("registering another account with the same (non-unique) email does not lift the waits on it", async () => {
    const byEmail = withActors(await startTestServer("postgresql", { ...ENV, DJOSER_LOGIN_FIELD: "email" }));
    try {
      await register(byEmail, "first"); // first@example.com
      const emailLogin = (password: string) =>
        byEmail.request("POST", "/auth/token/login/", { json: { email: "first@example.com", password } });
      for (const guess of ["a", "b"]) expect((await emailLogin(guess)).status).toBe(400);
      expect((await emailLogin(PW)).status).toBe(429);
      const twin = await byEmail.request("POST", "/auth/users/", {
        json: { username: "twin", email: "first@example.com", password: PW },
      });
      expect(twin.status).toBe(201);
      expect((await emailLogin(PW)).status).toBe(429); // still waiting
    } finally {
      await byEmail.stop();
    }
  });
});

// The same counts, with waits no slow machine outlasts: after a burst of wrong guesses the right
// password must still meet a wait (or the lock), however long the burst took.
const BURST_ENV = { ...ENV, LOGIN_LOCKOUT: '{"FREE_FAILURES":2,"BASE_DELAY":30,"MAX_DELAY":60,"MAX_FAILURES":6}' };

describe.each(DATABASES)("lockout under concurrency on %s", (kind) => {
  const s = useServer(kind, BURST_ENV);
  let other: TestServer; // a second server on the same database (PostgreSQL), or the same one (PGlite)
  const ids: Record<string, number> = {};
  let boss: Client | undefined;
  const staffOnce = async () => (boss ??= await staff(s));
  beforeAll(async () => {
    other =
      kind === "postgresql" ? await startTestServer(kind, { ...BURST_ENV, DATABASE_URL: s.settings.DATABASE_URL }) : s;
    for (const name of ["carol", "dave"]) ids[name] = await register(s, name);
  });
  afterAll(async () => {
    if (other !== s) await other?.stop();
  });

  it(
    "20 correct logins at once all succeed (REST and tRPC, both servers), " + "three rounds, and leave no count behind",
    async () => {
      const once = (i: number): Promise<number> => {
        const srv = i % 2 ? other : s;
        if (i % 4 === 3)
          return trpcClient(srv)
            .token.login.mutate({ username: "carol", password: PW })
            .then(
              () => 200,
              (e) => e.data?.httpStatus ?? 0,
            );
        return (i % 4 === 2 ? jwtLogin(srv, "carol", PW) : tokenLogin(srv, "carol", PW)).then((r) => r.status);
      };
      const statuses: number[] = [];
      for (let round = 0; round < 3; round++)
        statuses.push(...(await Promise.all(Array.from({ length: 20 }, (_, i) => once(i)))));
      console.log(`${kind}: 3 × 20 concurrent correct logins → ${JSON.stringify(count(statuses))}`);
      expect(statuses).toEqual(Array(60).fill(200));
      expect((await tokenLogin(s, "carol", "wrong")).json).toEqual(BAD);
      expect((await tokenLogin(s, "carol", "wrong")).json).toEqual(BAD);
    },
  );

  for (const name of ["dave", "nobody"]) {
    it(
      `20 wrong guesses at once for ${name === "dave" ? "an account" : "a name with no account"}: ` +
        "at most MAX_FAILURES (6) checked, the rest 429/403",
      async () => {
        const statuses = await Promise.all(
          Array.from({ length: 20 }, (_, i) => tokenLogin(i % 2 ? other : s, name, `guess-${i}`).then((r) => r.status)),
        );
        const c = count(statuses);
        console.log(`${kind}: 20 parallel wrong guesses for ${name} → ${JSON.stringify(c)}`);
        expect(Object.keys(c).every((k) => ["400", "403", "429"].includes(k))).toBe(true);
        expect(c[400]).toBeGreaterThanOrEqual(2);
        expect(c[400]).toBeLessThanOrEqual(6);
        if (name === "dave") {
          const auditor = await staffOnce();
          expect(
            (await auditor.audit.list.query({ kind: "login_failed", userId: ids.dave, limit: 100 })).events,
          ).toHaveLength(c[400]!);
        }
        // Whatever the interleaving, the next attempt with the right password is refused (a wait or the lock).
        expect([403, 429]).toContain((await tokenLogin(s, name, PW)).status);
      },
    );
  }
});

// Others' guesses must not lock the owner out (OWASP's device cookies). NUM_PROXIES=1, so each
// client speaks from an address of its own. Waits of a minute: nothing here waits them out.
const DEVICE_ENV = {
  ...ENV,
  NUM_PROXIES: "1",
  LOGIN_LOCKOUT: '{"FREE_FAILURES":2,"BASE_DELAY":60,"MAX_DELAY":60,"MAX_FAILURES":4}',
};
const OWNER = "192.0.2.10";
const attacker = (n: number) => `198.51.100.${n}`;

describe.each(DATABASES)("device cookies keep the owner in on %s", (kind) => {
  const s = useServer(kind, DEVICE_ENV);
  beforeAll(async () => {
    for (const name of ["erin", "frank"]) await register(s, name);
  });

  const login = (path: string, username: string, password: string, ip: string, cookie?: string) =>
    s.request("POST", path, {
      json: { username, password },
      headers: { "x-forwarded-for": ip, ...(cookie ? { cookie } : {}) },
    });
  /** token.login over tRPC's wire, to see its status and Set-Cookie. */
  const trpcLogin = async (username: string, password: string, ip: string, cookie?: string) => {
    const r = await fetch(`${s.url}/trpc/token.login`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": ip, ...(cookie ? { cookie } : {}) },
      body: JSON.stringify({ username, password }),
    });
    return { status: r.status, cookies: r.headers.getSetCookie(), body: await r.json() };
  };
  const deviceOf = (setCookie: string[]) => setCookie.find((c) => c.startsWith("portcullis_device="))!.split(";")[0]!;

  it(
    "a login sets an HttpOnly, SameSite=Strict device cookie (Secure over HTTPS) " + "and keeps Djoser's bodies",
    async () => {
      const r = await login("/auth/token/login/", "erin", PW, OWNER);
      expect(Object.keys(r.json)).toEqual(["auth_token"]);
      const [cookie] = r.headers.getSetCookie();
      expect(cookie).toMatch(
        /^portcullis_device=[0-9a-z]+\.[\w-]{22}\.[\w-]{43}; Max-Age=31536000; Path=\/; HttpOnly; SameSite=Strict$/,
      );
      const jwt = await s.request("POST", "/auth/jwt/create/", {
        json: { username: "erin", password: PW },
        headers: { "x-forwarded-for": OWNER, "x-forwarded-proto": "https" },
      });
      expect(Object.keys(jwt.json)).toEqual(["refresh", "access"]);
      expect(jwt.headers.getSetCookie()[0]).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);
      const t = await trpcLogin("erin", PW, OWNER);
      expect([t.status, Object.keys(t.body.result.data)]).toEqual([200, ["auth_token"]]);
      expect(t.cookies[0]).toMatch(/^portcullis_device=.+; HttpOnly; SameSite=Strict$/);
      // A failure sets none.
      expect((await login("/auth/token/login/", "erin", "wrong", OWNER)).headers.getSetCookie()).toEqual([]);
    },
  );

  it(
    "an attacker's guesses slow the attacker's address only, then lock untrusted clients; " +
      "the owner's device still gets in (REST and tRPC)",
    async () => {
      const device = deviceOf((await login("/auth/token/login/", "frank", PW, OWNER)).headers.getSetCookie());
      // Two free guesses from one address; then that address waits, even with the right password.
      for (const guess of ["a", "b"])
        expect((await login("/auth/token/login/", "frank", guess, attacker(1))).json).toEqual(BAD);
      expect((await login("/auth/token/login/", "frank", PW, attacker(1))).status).toBe(429);
      // The wait is the attacker's: the owner, even without the cookie, is not slowed.
      expect((await login("/auth/jwt/create/", "frank", PW, OWNER)).status).toBe(200);
      // Guesses from four more addresses reach MAX_FAILURES (4): every untrusted client is locked out, the owner's too.
      for (const n of [2, 3, 4, 5])
        expect((await login("/auth/token/login/", "frank", `guess-${n}`, attacker(n))).json).toEqual(BAD);
      expect((await login("/auth/token/login/", "frank", PW, attacker(6))).json).toEqual(LOCKED);
      expect((await login("/auth/token/login/", "frank", PW, OWNER)).json).toEqual(LOCKED);
      // The device that logged in before gets in with the right password, by every login path.
      const ok = await login("/auth/token/login/", "frank", PW, OWNER, device);
      expect(ok.status, ok.text).toBe(200);
      // On another network too.
      expect((await login("/auth/jwt/create/", "frank", PW, attacker(7), device)).status).toBe(200);
      const t = await trpcLogin("frank", PW, OWNER, device);
      expect(t.status).toBe(200);
      expect(t.cookies).toHaveLength(1); // a fresh token for the next time
      expect((await trpcLogin("frank", PW, OWNER, deviceOf(t.cookies))).status).toBe(200);
      // Still locked for everyone else, and the owner's cookie is worth nothing for another name.
      expect((await login("/auth/token/login/", "frank", PW, attacker(8))).json).toEqual(LOCKED);
      expect((await trpcLogin("frank", PW, attacker(8))).body.error.data).toMatchObject({
        code: "login_locked",
        httpStatus: 403,
      });
      for (const guess of ["c", "d", "e", "f"])
        await login("/auth/token/login/", "erin", guess, attacker(9 + guess.charCodeAt(0)));
      expect((await login("/auth/token/login/", "erin", PW, OWNER, device)).json).toEqual(LOCKED);
      // A forged or tampered cookie is no cookie.
      expect((await login("/auth/token/login/", "frank", PW, OWNER, `${device.slice(0, -2)}xx`)).json).toEqual(LOCKED);
    },
  );

  it(
    "IPv6 clients are counted by their /64: " + "a new address in the same /64 waits too, another /64 does not",
    async () => {
      await register(s, "hugo");
      for (const guess of ["a", "b"])
        expect((await login("/auth/token/login/", "hugo", guess, "2001:db8:1:2::1")).json).toEqual(BAD);
      expect((await login("/auth/token/login/", "hugo", PW, "2001:db8:1:2:ffff::9")).status).toBe(429);
      expect((await login("/auth/token/login/", "hugo", PW, "2001:db8:1:3::1")).status).toBe(200);
    },
  );

  it("a device's own wrong guesses make it wait, apart from the others", async () => {
    await register(s, "gina");
    const device = deviceOf((await login("/auth/token/login/", "gina", PW, OWNER)).headers.getSetCookie());
    for (const guess of ["a", "b"])
      expect((await login("/auth/token/login/", "gina", guess, OWNER, device)).json).toEqual(BAD);
    const waiting = await login("/auth/token/login/", "gina", PW, OWNER, device);
    expect([waiting.status, waiting.headers.get("retry-after")]).toEqual([429, "60"]);
    expect((await login("/auth/token/login/", "gina", PW, attacker(50))).status).toBe(200); // nobody else waits
  });
});

function count(statuses: number[]): Record<number, number> {
  const c: Record<number, number> = {};
  for (const st of statuses) c[st] = (c[st] ?? 0) + 1;
  return c;
}
