// Bounded password checks end to end: every re-check of current_password (set_password,
// set_username, users/me and users/{id} PATCH/DELETE, and their tRPC twins) is throttled, locked
// out per user and audited like a login; one password check per request however many calls a
// tRPC batch holds; batches of at most TRPC_MAX_BATCH_SIZE calls; a full hash queue answers 503 +
// Retry-After, for a name with an account and one without alike.
import { beforeAll, describe, expect, it } from "vitest";
import { PW, type Server, useServer } from "../../helpers/fixture.ts";
import { uidToken } from "../../helpers/mail.ts";
import { createStaff, DATABASES, type TestServer } from "../../helpers/server.ts";
import { failure, trpcClient } from "../../helpers/trpc.ts";

const ARGON2 = '{"MEMORY_COST":1024,"TIME_COST":1,"PARALLELISM":1}';
// Re-checks wait after 3 wrong passwords and lock after 5; waits of 1 s so a test can outlast one.
const LOCKOUT = '{"FREE_FAILURES":3,"BASE_DELAY":1,"MAX_DELAY":1,"MAX_FAILURES":5}';
const NEW_PW = "Wb3$nTr8@Hy5";
const INVALID = { current_password: ["Invalid password."] };
const LOCKED = "Too many wrong current passwords for this account: reset the password to go on.";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const register = (s: Server, username: string) => s.signUp(username, `${username}@example.com`);
/** A raw tRPC batch (what httpBatchLink sends), to see what each call answers. */
async function batch(
  s: TestServer,
  calls: [path: string, input: unknown][],
  headers: Record<string, string> = {},
  method = "POST",
) {
  const paths = calls.map(([p]) => p).join(",");
  const inputs = JSON.stringify(Object.fromEntries(calls.map(([, input], i) => [i, input])));
  const url = `${s.url}/trpc/${paths}?batch=1${method === "GET" ? `&input=${encodeURIComponent(inputs)}` : ""}`;
  const r = await fetch(
    url,
    method === "GET"
      ? { headers }
      : { method, headers: { "content-type": "application/json", ...headers }, body: inputs },
  );
  return { status: r.status, body: await r.json() };
}
const codes = (answers: any[]) => answers.map((a) => a.error?.data?.code ?? "ok");

describe.each(DATABASES)("current_password re-checks on %s", (kind) => {
  const s = useServer(kind, { ARGON2, LOGIN_LOCKOUT: LOCKOUT, DJOSER_EMAIL_CHANGE_REQUIRES_PASSWORD: "true" });
  let boss: ReturnType<typeof trpcClient>;
  beforeAll(async () => {
    await createStaff(s, "boss", PW, "boss@example.com");
    boss = trpcClient(s, { authorization: `Token ${await s.tokenLogin("boss")}` });
  });

  it(
    "wrong passwords on every re-check count in one lockout per user: " +
      "Djoser's words, then a wait even for the right one, audited",
    async () => {
      const id = await register(s, "rita");
      const auth = { authorization: `Token ${await s.tokenLogin("rita")}` };
      const rita = trpcClient(s, auth);
      // Three wrong passwords by three paths: each answered with Djoser's words.
      const set = await s.request("POST", "/auth/users/set_password/", {
        json: { new_password: NEW_PW, current_password: "wrong-1" },
        headers: auth,
      });
      expect([set.status, set.json]).toEqual([400, INVALID]);
      const del = await failure(rita.users.deleteMe.mutate({ current_password: "wrong-2" }));
      expect(del.data).toMatchObject({ code: "invalid_input", fields: INVALID });
      const patch = await s.request("PATCH", `/auth/users/${id}/`, {
        json: { email: "new@example.com", current_password: "wrong-3" },
        headers: auth,
      });
      expect([patch.status, patch.json]).toEqual([400, INVALID]);
      // Then every path waits, the right password included, and nothing changes.
      const waited = await s.request("DELETE", "/auth/users/me/", { json: { current_password: PW }, headers: auth });
      expect([waited.status, waited.headers.get("retry-after"), waited.json]).toEqual([
        429,
        "1",
        { detail: "Request was throttled. Expected available in 1 second." },
      ]);
      expect(
        (await failure(rita.users.setUsername.mutate({ new_username: "rita2", current_password: PW }))).data,
      ).toMatchObject({ code: "throttled", httpStatus: 429, retryAfter: 1 });
      expect((await s.request("GET", "/auth/users/me/", { headers: auth })).json).toEqual({
        email: "rita@example.com",
        id,
        username: "rita",
      });
      // After the wait the right password goes through, and resets the count.
      await sleep(1_100);
      expect(
        (
          await s.request("POST", "/auth/users/set_username/", {
            json: { new_username: "rita2", current_password: PW },
            headers: auth,
          })
        ).status,
      ).toBe(204);
      const set2 = await s.request("POST", "/auth/users/set_password/", {
        json: { new_password: NEW_PW, current_password: "wrong-4" },
        headers: auth,
      });
      expect([set2.status, set2.json]).toEqual([400, INVALID]);
      const { events } = await boss.audit.list.query({ userId: id, kind: "password_check_failed" });
      expect(events.map((e) => e.data.failures)).toEqual([1, 3, 2, 1]);
      expect((await boss.audit.list.query({ userId: id, kind: "lockout" })).events.map((e) => e.data)).toEqual([
        { failures: 3, reason: "backoff started for password re-checks" },
      ]);
    },
  );

  it("MAX_FAILURES wrong re-checks lock them until a password reset; the user's logins are not locked", async () => {
    const id = await register(s, "sam");
    const sam = trpcClient(s, { authorization: `Token ${await s.tokenLogin("sam")}` });
    for (let i = 0; i < 5; i++) {
      if (i === 3 || i === 4) await sleep(1_100); // past the waits
      expect(
        (await failure(sam.users.setPassword.mutate({ new_password: NEW_PW, current_password: `wrong-${i}` }))).data
          ?.code,
      ).toBe("invalid_input");
    }
    await sleep(1_100);
    const locked = await failure(sam.users.deleteMe.mutate({ current_password: PW }));
    expect([locked.message, locked.data?.code, locked.data?.httpStatus]).toEqual([
      LOCKED,
      "password_check_locked",
      403,
    ]);
    const rest = await s.request("POST", "/auth/users/set_password/", {
      json: { new_password: NEW_PW, current_password: PW },
      headers: { authorization: `Token ${await s.tokenLogin("sam")}` },
    });
    expect([rest.status, rest.json]).toEqual([403, { detail: LOCKED }]);
    expect((await boss.audit.list.query({ userId: id, kind: "lockout" })).events.map((e) => e.data.reason)).toEqual([
      "password re-checks locked until a password reset",
      "backoff started for password re-checks",
    ]);
    // A password reset is the way out.
    expect(
      (await s.request("POST", "/auth/users/reset_password/", { json: { email: "sam@example.com" } })).status,
    ).toBe(204);
    const link = s
      .mails()
      .filter((m) => m.to === "sam@example.com")
      .flatMap((m) => m.links)
      .at(-1)!;
    expect(
      (
        await s.request("POST", "/auth/users/reset_password_confirm/", {
          json: { ...uidToken(link), new_password: NEW_PW },
        })
      ).status,
    ).toBe(204);
    const fresh = trpcClient(s, { authorization: `Token ${await s.tokenLogin("sam", NEW_PW)}` });
    await fresh.users.deleteMe.mutate({ current_password: NEW_PW });
    expect(
      (await s.request("POST", "/auth/token/login/", { json: { username: "sam", password: NEW_PW } })).status,
    ).toBe(400);
  });

  it(
    "a tRPC batch checks one password: " +
      "the other calls are refused unchecked, for logins of a known and an unknown name alike",
    async () => {
      const id = await register(s, "tess");
      const auth = { authorization: `Token ${await s.tokenLogin("tess")}` };
      const guesses = Array.from({ length: 10 }, (_, i): [string, unknown] => [
        "users.deleteMe",
        { current_password: `guess-${i}` },
      ]);
      // The calls of a batch run at once: whichever reaches its check first is the one checked.
      const r = await batch(s, guesses, auth);
      expect(codes(r.body).sort()).toEqual(["invalid_input", ...Array(9).fill("password_check_limit")]);
      const refused = r.body.find((a: any) => a.error.data.code === "password_check_limit").error;
      expect(refused).toMatchObject({
        message: "One password check per request: send this call in a request of its own.",
        data: { httpStatus: 429 },
      });
      expect((await boss.audit.list.query({ userId: id, kind: "password_check_failed" })).events).toHaveLength(1);
      // Logins: the same answers for a name with an account and one without.
      const logins = (username: string) =>
        batch(
          s,
          ["guess-a", "guess-b", "guess-c"].map((password): [string, unknown] => [
            "token.login",
            { username, password },
          ]),
        );
      const [known, unknown] = [await logins("tess"), await logins("nobody-here")];
      expect(codes(known.body).sort()).toEqual(["invalid_credentials", "password_check_limit", "password_check_limit"]);
      expect(JSON.stringify(unknown.body)).toBe(JSON.stringify(known.body));
    },
  );
});

describe("re-checks and the login throttle", () => {
  const s = useServer("pglite", { ARGON2, DEFAULT_THROTTLE_RATES: '{"login":"3/min"}' });

  it("count against the login rate, by user", async () => {
    await register(s, "uma");
    const auth = { authorization: `Token ${await s.tokenLogin("uma")}` };
    const uma = trpcClient(s, auth);
    expect(
      (
        await s.request("POST", "/auth/users/set_password/", {
          json: { new_password: NEW_PW, current_password: "wrong-1" },
          headers: auth,
        })
      ).status,
    ).toBe(400);
    expect((await failure(uma.users.deleteMe.mutate({ current_password: "wrong-2" }))).data?.code).toBe(
      "invalid_input",
    );
    const r = await s.request("DELETE", "/auth/users/me/", { json: { current_password: PW }, headers: auth });
    expect(r.status, r.text).toBe(429); // the login, then two re-checks: the rate is spent
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});

describe.each(DATABASES)("bounded work per request on %s", (kind) => {
  const s = useServer(kind, { ARGON2 });
  beforeAll(async () => {
    await register(s, "vera");
  });

  it(
    "a batch of more than TRPC_MAX_BATCH_SIZE (10) calls is refused whole with a 400 in tRPC's shape; " +
      "10 go through",
    async () => {
      const auth = { authorization: `Token ${await s.tokenLogin("vera")}` };
      const ok = await batch(
        s,
        Array.from({ length: 10 }, (): [string, unknown] => ["users.me", undefined]),
        auth,
        "GET",
      );
      expect([ok.status, ok.body.length]).toEqual([200, 10]);
      const big = await batch(
        s,
        Array.from({ length: 1100 }, (_, i): [string, unknown] => [
          "token.login",
          { username: "vera", password: `guess-${i}` },
        ]),
      );
      expect(big.status).toBe(400);
      const error = Array.isArray(big.body) ? big.body[0].error : big.body.error;
      expect(error).toMatchObject({
        message:
          "Too many calls in one batch (TRPC_MAX_BATCH_SIZE): " +
          "send fewer per request, e.g. with httpBatchLink's maxItems.",
        data: { code: "batch_too_large", httpStatus: 400 },
      });
      expect((await s.request("POST", "/auth/token/login/", { json: { username: "vera", password: PW } })).status).toBe(
        200,
      ); // none was checked
    },
  );
});

describe("a full hash queue", () => {
  // A queue of one: a burst of logins cannot all wait for the hash slot.
  const s = useServer("pglite", {
    ARGON2: '{"MEMORY_COST":19456,"TIME_COST":2,"PARALLELISM":1}',
    PASSWORD_HASH_QUEUE: "1",
  });
  beforeAll(async () => {
    for (let i = 0; i < 12; i++) await register(s, `will${i}`);
  });

  it(
    "answers 503 + Retry-After at once, " +
      "for names with and without an account alike, and leaves no lockout slot behind",
    async () => {
      // Different names, so none waits for another's check: all of them want the one hash slot.
      const names = Array.from({ length: 24 }, (_, i) => (i % 2 ? `ghost${i}` : `will${i / 2}`));
      const answers = await Promise.all(
        names.map((username) => s.request("POST", "/auth/token/login/", { json: { username, password: "wrong" } })),
      );
      expect(answers.map((r) => r.status).filter((st) => st !== 400 && st !== 503)).toEqual([]);
      const busy = (odd: number) => answers.filter((r, i) => i % 2 === odd && r.status === 503);
      console.log(
        `24 parallel logins, hash queue of 1: ` +
          `${busy(0).length} of 12 known names and ${busy(1).length} of 12 unknown ones answered 503`,
      );
      expect(busy(0).length).toBeGreaterThan(0);
      expect(busy(1).length).toBeGreaterThan(0);
      for (const r of [...busy(0), ...busy(1)]) {
        expect(r.headers.get("retry-after")).toBe("1");
        expect(r.json).toEqual({ detail: "Too many password checks are waiting; try again shortly." });
      }
      // The refused attempts held no lockout slot: their owners log in at once.
      for (let i = 0; i < 12; i++)
        expect(
          (await s.request("POST", "/auth/token/login/", { json: { username: `will${i}`, password: PW } })).status,
        ).toBe(200);
    },
  );
});
