// JWT sessions end to end: refresh with and without rotation, refresh-token reuse detection and
// its grace window (REFRESH_TOKEN_REUSE_INTERVAL), logout, logout everywhere, refresh refused to
// deleted and inactive users. Through REST and the typed tRPC client, over PGlite and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";
import { failure, trpcClient } from "../../helpers/trpc.ts";

const PW = "Kq7!vLp2#Zx9";
const BLACKLISTED = { detail: "Token is blacklisted", code: "token_not_valid" };
const ACCESS_BLACKLISTED = {
  detail: "Given token not valid for any token type",
  code: "token_not_valid",
  messages: [{ token_class: "AccessToken", token_type: "access", message: "Token is blacklisted" }],
};
const CHALLENGE = 'Bearer realm="api"';

type Pair = { refresh: string; access: string };

const bearer = (access: string) => ({ authorization: `Bearer ${access}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function signUp(s: TestServer, username: string): Promise<number> {
  const res = await s.request("POST", "/auth/users/", { json: { username, password: PW } });
  expect(res.status, res.text).toBe(201);
  return res.json.id;
}

async function login(s: TestServer, username: string): Promise<Pair> {
  const res = await s.request("POST", "/auth/jwt/create/", { json: { username, password: PW } });
  expect(res.status, res.text).toBe(200);
  return res.json;
}

const refresh = (s: TestServer, token: string) => s.request("POST", "/auth/jwt/refresh/", { json: { refresh: token } });
const verify = (s: TestServer, token: string) => s.request("POST", "/auth/jwt/verify/", { json: { token } });
const me = (s: TestServer, access: string) => s.request("GET", "/auth/users/me/", { headers: bearer(access) });

async function expectRefreshed(
  s: TestServer,
  token: string,
  keys: string[],
): Promise<{ access: string; refresh?: string }> {
  const res = await refresh(s, token);
  expect(res.status, res.text).toBe(200);
  expect(Object.keys(res.json)).toEqual(keys);
  return res.json;
}

/** jwt/refresh answers 401 {"detail": "Token is blacklisted", "code": "token_not_valid"} with the Bearer challenge. */
async function expectRefreshBlacklisted(s: TestServer, token: string) {
  const res = await refresh(s, token);
  expect(res.status).toBe(401);
  expect(res.json).toEqual(BLACKLISTED);
  expect(res.headers.get("www-authenticate")).toBe(CHALLENGE);
}

async function expectAccessRefused(s: TestServer, access: string) {
  const res = await me(s, access);
  expect(res.status).toBe(401);
  expect(res.json).toEqual(ACCESS_BLACKLISTED);
}

async function expectWorks(s: TestServer, pair: Pair) {
  expect((await me(s, pair.access)).status).toBe(200);
  expect((await refresh(s, pair.refresh)).status).toBe(200);
}

describe.each(DATABASES)("JWT sessions on %s", (kind) => {
  describe("SimpleJWT's defaults (no rotation)", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind);
    });
    afterAll(async () => s?.stop());

    it("refresh without rotation answers {access} only, and the same refresh token works again", async () => {
      await signUp(s, "plain");
      const pair = await login(s, "plain");
      const { access } = await expectRefreshed(s, pair.refresh, ["access"]);
      expect((await me(s, access)).status).toBe(200);
      await expectRefreshed(s, pair.refresh, ["access"]);
      expect(Object.keys(await trpcClient(s).jwt.refresh.mutate({ refresh: pair.refresh }))).toEqual(["access"]);
    });

    it(
      "logout ends the session: " + "its refresh and access tokens die, verify says blacklisted, another session lives",
      async () => {
        await signUp(s, "leaving");
        const [ended, other] = [await login(s, "leaving"), await login(s, "leaving")];
        const out = await s.request("POST", "/auth/jwt/logout/", { json: { refresh: ended.refresh } });
        expect(out.status).toBe(204);
        expect(out.text).toBe("");
        await expectRefreshBlacklisted(s, ended.refresh);
        await expectAccessRefused(s, ended.access);
        for (const token of [ended.refresh, ended.access]) {
          const verified = await verify(s, token);
          expect(verified.status).toBe(400);
          expect(verified.json).toEqual({ non_field_errors: ["Token is blacklisted"] });
        }
        await expectWorks(s, other);
        const again = await s.request("POST", "/auth/jwt/logout/", { json: { refresh: ended.refresh } });
        expect(again.status).toBe(401);
        expect(again.json).toEqual(BLACKLISTED);
      },
    );

    it("tRPC jwt.logout ends the session likewise", async () => {
      await signUp(s, "trpcleaving");
      const anon = trpcClient(s);
      const ended = await anon.jwt.create.mutate({ username: "trpcleaving", password: PW });
      const other = await anon.jwt.create.mutate({ username: "trpcleaving", password: PW });
      expect(await anon.jwt.logout.mutate({ refresh: ended.refresh })).toBeUndefined();
      const refused = await failure(anon.jwt.refresh.mutate({ refresh: ended.refresh }));
      expect(refused.data?.code).toBe("token_not_valid");
      expect(refused.message).toBe("Token is blacklisted");
      expect((await failure(trpcClient(s, bearer(ended.access)).users.me.query())).data?.code).toBe("token_not_valid");
      const verified = await failure(anon.jwt.verify.mutate({ token: ended.refresh }));
      expect(verified.data?.code).toBe("token_blacklisted");
      expect(verified.data?.fields).toEqual({ non_field_errors: ["Token is blacklisted"] });
      expect((await failure(anon.jwt.logout.mutate({ refresh: ended.refresh }))).data?.code).toBe("token_not_valid");
      expect(await trpcClient(s, bearer(other.access)).users.me.query()).toMatchObject({ username: "trpcleaving" });
    });

    it("logout without a refresh token is DRF's 400", async () => {
      for (const init of [{}, { json: {} }]) {
        const res = await s.request("POST", "/auth/jwt/logout/", init);
        expect(res.status).toBe(400);
        expect(res.json).toEqual({ refresh: ["This field is required."] });
      }
    });

    it("logout_all by JWT ends every session of the user; a later login works", async () => {
      await signUp(s, "everywhere");
      const sessions = [await login(s, "everywhere"), await login(s, "everywhere"), await login(s, "everywhere")];
      const out = await s.request("POST", "/auth/jwt/logout_all/", { headers: bearer(sessions[0]!.access) });
      expect(out.status).toBe(204);
      expect(out.text).toBe("");
      for (const pair of sessions) {
        await expectRefreshBlacklisted(s, pair.refresh);
        await expectAccessRefused(s, pair.access);
      }
      await expectWorks(s, await login(s, "everywhere"));
    });

    it("logout_all by opaque token ends every JWT session; tRPC jwt.logoutAll counts the sessions", async () => {
      await signUp(s, "viakey");
      const sessions = [await login(s, "viakey"), await login(s, "viakey")];
      const key = (await s.request("POST", "/auth/token/login/", { json: { username: "viakey", password: PW } })).json
        .auth_token;
      const out = await s.request("POST", "/auth/jwt/logout_all/", { headers: { authorization: `Token ${key}` } });
      expect(out.status).toBe(204);
      for (const pair of sessions) {
        await expectRefreshBlacklisted(s, pair.refresh);
        await expectAccessRefused(s, pair.access);
      }
      const fresh = [await login(s, "viakey"), await login(s, "viakey")];
      expect(await trpcClient(s, bearer(fresh[0]!.access)).jwt.logoutAll.mutate()).toEqual({ sessions: 2 });
      for (const pair of fresh) await expectRefreshBlacklisted(s, pair.refresh);
      expect((await failure(trpcClient(s, bearer(fresh[1]!.access)).users.me.query())).data?.code).toBe(
        "token_not_valid",
      );
    });

    it("logout_all without credentials is DRF's 401", async () => {
      const res = await s.request("POST", "/auth/jwt/logout_all/");
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ detail: "Authentication credentials were not provided." });
      expect((await failure(trpcClient(s).jwt.logoutAll.mutate())).data?.code).toBe("not_authenticated");
    });

    it("refresh is refused to a deleted user: 401 user_not_found", async () => {
      await signUp(s, "deleted");
      const pair = await login(s, "deleted");
      const del = await s.request("DELETE", "/auth/users/me/", {
        headers: bearer(pair.access),
        json: { current_password: PW },
      });
      expect(del.status).toBe(204);
      const res = await refresh(s, pair.refresh);
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ detail: "User not found", code: "user_not_found" });
      expect(res.headers.get("www-authenticate")).toBe(CHALLENGE);
      expect((await failure(trpcClient(s).jwt.refresh.mutate({ refresh: pair.refresh }))).data?.code).toBe(
        "user_not_found",
      );
    });

    it("refresh is refused to an inactive user: 401 user_inactive", async () => {
      const id = await signUp(s, "deactivated");
      const pair = await login(s, "deactivated");
      await s.deps.prisma.user.update({ where: { id }, data: { isActive: false } });
      const res = await refresh(s, pair.refresh);
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ detail: "User is inactive", code: "user_inactive" });
      expect(res.headers.get("www-authenticate")).toBe(CHALLENGE);
      expect((await failure(trpcClient(s).jwt.refresh.mutate({ refresh: pair.refresh }))).data?.code).toBe(
        "user_inactive",
      );
      const access = await me(s, pair.access);
      expect(access.status).toBe(401);
      expect(access.json).toEqual({ detail: "User is inactive", code: "user_inactive" });
    });
  });

  describe(
    "SIMPLE_JWT_ROTATE_REFRESH_TOKENS=true (reuse detection on by default), " + "REFRESH_TOKEN_REUSE_INTERVAL=0",
    () => {
      let s: TestServer;
      beforeAll(async () => {
        s = await startTestServer(kind, {
          SIMPLE_JWT_ROTATE_REFRESH_TOKENS: "true",
          SIMPLE_JWT_REFRESH_TOKEN_REUSE_INTERVAL: "0",
        });
      });
      afterAll(async () => s?.stop());

      it("refresh answers {access, refresh}, and the new refresh token works", async () => {
        await signUp(s, "rotor");
        const { refresh: r1 } = await login(s, "rotor");
        const r2 = (await expectRefreshed(s, r1, ["access", "refresh"])).refresh!;
        expect(r2).not.toBe(r1);
        await expectRefreshed(s, r2, ["access", "refresh"]);
      });

      it("a rotated refresh token presented again ends its session; another session of the user lives", async () => {
        await signUp(s, "victim");
        const stolen = await login(s, "victim");
        const other = await login(s, "victim");
        const r2 = (await expectRefreshed(s, stolen.refresh, ["access", "refresh"])).refresh!;
        await expectRefreshBlacklisted(s, stolen.refresh);
        await expectRefreshBlacklisted(s, r2);
        await expectAccessRefused(s, stolen.access);
        await expectWorks(s, other);
      });

      it("tRPC: reuse of a rotated refresh token ends its session with token_not_valid", async () => {
        await signUp(s, "trpcvictim");
        const anon = trpcClient(s);
        const stolen = await anon.jwt.create.mutate({ username: "trpcvictim", password: PW });
        const other = await anon.jwt.create.mutate({ username: "trpcvictim", password: PW });
        const rotated = await anon.jwt.refresh.mutate({ refresh: stolen.refresh });
        expect(Object.keys(rotated)).toEqual(["access", "refresh"]);
        const reuse = await failure(anon.jwt.refresh.mutate({ refresh: stolen.refresh }));
        expect(reuse.data?.code).toBe("token_not_valid");
        expect(reuse.data?.httpStatus).toBe(401);
        expect(reuse.message).toBe("Token is blacklisted");
        expect((await failure(anon.jwt.refresh.mutate({ refresh: rotated.refresh! }))).data?.code).toBe(
          "token_not_valid",
        );
        for (const access of [stolen.access, rotated.access])
          expect((await failure(trpcClient(s, bearer(access)).users.me.query())).data?.code).toBe("token_not_valid");
        expect(await trpcClient(s, bearer(other.access)).users.me.query()).toMatchObject({ username: "trpcvictim" });
      });

      it("ten concurrent refreshes of one token: exactly one 200, nine 401, and the session ends", async () => {
        await signUp(s, "racer");
        const pair = await login(s, "racer");
        const results = await Promise.all(Array.from({ length: 10 }, () => refresh(s, pair.refresh)));
        const won = results.filter((r) => r.status === 200);
        expect(won).toHaveLength(1);
        for (const r of results.filter((r) => r.status !== 200)) {
          expect(r.status).toBe(401);
          expect(r.json).toEqual(BLACKLISTED);
        }
        await expectRefreshBlacklisted(s, won[0]!.json.refresh);
        await expectAccessRefused(s, won[0]!.json.access);
      });
    },
  );

  describe("rotation with reuse detection and its grace window (REFRESH_TOKEN_REUSE_INTERVAL, default 10 s)", () => {
    let s: TestServer;
    let quick: TestServer; // a 1 s window, to see it close
    beforeAll(async () => {
      const rotation = { SIMPLE_JWT_ROTATE_REFRESH_TOKENS: "true", SIMPLE_JWT_BLACKLIST_AFTER_ROTATION: "true" };
      [s, quick] = await Promise.all([
        startTestServer(kind, rotation),
        startTestServer(kind, { ...rotation, SIMPLE_JWT_REFRESH_TOKEN_REUSE_INTERVAL: "1" }),
      ]);
    });
    afterAll(async () => Promise.all([s?.stop(), quick?.stop()]));

    it(
      "the just-rotated token presented again (a retry after a lost answer) " +
        "gets the same new refresh token; the session goes on",
      async () => {
        const id = await signUp(s, "retrier");
        const pair = await login(s, "retrier");
        const first = await expectRefreshed(s, pair.refresh, ["access", "refresh"]);
        const retry = await expectRefreshed(s, pair.refresh, ["access", "refresh"]);
        expect(retry.refresh).toBe(first.refresh);
        for (const access of [pair.access, first.access, retry.access]) expect((await me(s, access)).status).toBe(200);
        const next = await expectRefreshed(s, first.refresh!, ["access", "refresh"]);
        expect((await me(s, next.access)).status).toBe(200);
        expect(await s.deps.prisma.auditEvent.count({ where: { kind: "refresh_reuse_detected", userId: id } })).toBe(0);
      },
    );

    it(
      "tRPC: two tabs refreshing at once both get the one new pair's refresh token, " + "and the session lives",
      async () => {
        await signUp(s, "twotabs");
        const anon = trpcClient(s);
        const pair = await anon.jwt.create.mutate({ username: "twotabs", password: PW });
        const [a, b] = await Promise.all([
          anon.jwt.refresh.mutate({ refresh: pair.refresh }),
          anon.jwt.refresh.mutate({ refresh: pair.refresh }),
        ]);
        expect(a.refresh).toBeDefined();
        expect(b.refresh).toBe(a.refresh);
        expect(await trpcClient(s, bearer(b.access)).users.me.query()).toMatchObject({ username: "twotabs" });
        expect(Object.keys(await anon.jwt.refresh.mutate({ refresh: a.refresh! }))).toEqual(["access", "refresh"]);
      },
    );

    it("ten concurrent refreshes of one token: all 200 with the same new refresh token, and it works", async () => {
      await signUp(s, "burst");
      const pair = await login(s, "burst");
      const results = await Promise.all(Array.from({ length: 10 }, () => refresh(s, pair.refresh)));
      for (const r of results) expect(r.status, r.text).toBe(200);
      expect(new Set(results.map((r) => r.json.refresh)).size).toBe(1);
      await expectRefreshed(s, results[0]!.json.refresh, ["access", "refresh"]);
    });

    it("after the window, presenting the rotated token ends the session as before", async () => {
      await signUp(quick, "late");
      const pair = await login(quick, "late");
      const next = await expectRefreshed(quick, pair.refresh, ["access", "refresh"]);
      await sleep(1_200);
      await expectRefreshBlacklisted(quick, pair.refresh);
      await expectRefreshBlacklisted(quick, next.refresh!);
      await expectAccessRefused(quick, next.access);
      expect((await failure(trpcClient(quick).jwt.refresh.mutate({ refresh: next.refresh! }))).message).toBe(
        "Token is blacklisted",
      );
    });

    it("within the window, a rotated token of a session that ended is refused and nothing is revived", async () => {
      await signUp(s, "endedthen");
      const pair = await login(s, "endedthen");
      const next = await expectRefreshed(s, pair.refresh, ["access", "refresh"]);
      expect((await s.request("POST", "/auth/jwt/logout/", { json: { refresh: next.refresh } })).status).toBe(204);
      await expectRefreshBlacklisted(s, pair.refresh);
      await expectAccessRefused(s, next.access);
    });
  });

  describe("ROTATE + BLACKLIST_AFTER_ROTATION, REFRESH_TOKEN_REUSE_DETECTION=false (SimpleJWT's behaviour)", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, {
        SIMPLE_JWT_ROTATE_REFRESH_TOKENS: "true",
        SIMPLE_JWT_BLACKLIST_AFTER_ROTATION: "true",
        SIMPLE_JWT_REFRESH_TOKEN_REUSE_DETECTION: "false",
      });
    });
    afterAll(async () => s?.stop());

    it("the rotated token is blacklisted, but the new one and the session keep working", async () => {
      await signUp(s, "simplejwt");
      const pair = await login(s, "simplejwt");
      const next = await expectRefreshed(s, pair.refresh, ["access", "refresh"]);
      await expectRefreshBlacklisted(s, pair.refresh);
      const third = await expectRefreshed(s, next.refresh!, ["access", "refresh"]);
      expect((await me(s, pair.access)).status).toBe(200);
      expect((await me(s, third.access)).status).toBe(200);
      const reuse = await failure(trpcClient(s).jwt.refresh.mutate({ refresh: pair.refresh }));
      expect(reuse.data?.code).toBe("token_not_valid");
      await expectRefreshed(s, third.refresh!, ["access", "refresh"]);
    });
  });
});
