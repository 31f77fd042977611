// JWT sessions end to end: refresh with and without rotation, refresh-token reuse detection and
// its grace window (REFRESH_TOKEN_REUSE_INTERVAL), logout, logout everywhere, refresh refused to
// deleted and inactive users. Through REST and the typed tRPC client, over PGlite and PostgreSQL.
import { describe, expect, it } from "vitest";
import { bearer, type Pair, PW, type Server, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { DATABASES } from "../../helpers/server.ts";
import { failure } from "../../helpers/trpc.ts";

const BLACKLISTED = { detail: "Token is blacklisted", code: "token_not_valid" };
const ACCESS_BLACKLISTED = {
  detail: "Given token not valid for any token type",
  code: "token_not_valid",
  messages: [{ token_class: "AccessToken", token_type: "access", message: "Token is blacklisted" }],
};
const CHALLENGE = 'Bearer realm="api"';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function expectRefreshed(
  s: Server,
  token: string,
  keys: string[],
): Promise<{ access: string; refresh?: string }> {
  const res = await s.refresh(token);
  expect(res.status, res.text).toBe(200);
  expect(Object.keys(res.json)).toEqual(keys);
  return res.json;
}

/** jwt/refresh answers 401 {"detail": "Token is blacklisted", "code": "token_not_valid"} with the Bearer challenge. */
async function expectRefreshBlacklisted(s: Server, token: string) {
  const res = await s.refresh(token);
  expect(res.status).toBe(401);
  expect(res.json).toEqual(BLACKLISTED);
  expect(res.headers.get("www-authenticate")).toBe(CHALLENGE);
}

async function expectAccessRefused(s: Server, access: string) {
  const res = await s.me(bearer(access));
  expect(res.status).toBe(401);
  expect(res.json).toEqual(ACCESS_BLACKLISTED);
}

async function expectWorks(s: Server, pair: Pair) {
  expect((await s.me(bearer(pair.access))).status).toBe(200);
  expect((await s.refresh(pair.refresh)).status).toBe(200);
}

describe.each(DATABASES)("JWT sessions on %s", (kind) => {
  describe("SimpleJWT's defaults (no rotation)", () => {
    const s = useServer(kind);

    it("refresh without rotation answers {access} only, and the same refresh token works again", async () => {
      await s.signUp("plain");
      const pair = await s.jwtLogin("plain");
      const { access } = await expectRefreshed(s, pair.refresh, ["access"]);
      expect((await s.me(bearer(access))).status).toBe(200);
      await expectRefreshed(s, pair.refresh, ["access"]);
      expect(Object.keys(await s.trpc().jwt.refresh.mutate({ refresh: pair.refresh }))).toEqual(["access"]);
    });

    it(
      "logout ends the session: " + "its refresh and access tokens die, verify says blacklisted, another session lives",
      async () => {
        await s.signUp("leaving");
        const [ended, other] = [await s.jwtLogin("leaving"), await s.jwtLogin("leaving")];
        const out = await s.request("POST", "/auth/jwt/logout/", { json: { refresh: ended.refresh } });
        expect(out.status).toBe(204);
        expect(out.text).toBe("");
        await expectRefreshBlacklisted(s, ended.refresh);
        await expectAccessRefused(s, ended.access);
        for (const token of [ended.refresh, ended.access]) {
          const verified = await s.verify(token);
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
      await s.signUp("trpcleaving");
      const anon = s.trpc();
      const ended = await anon.jwt.create.mutate({ username: "trpcleaving", password: PW });
      const other = await anon.jwt.create.mutate({ username: "trpcleaving", password: PW });
      expect(await anon.jwt.logout.mutate({ refresh: ended.refresh })).toBeUndefined();
      const refused = await failure(anon.jwt.refresh.mutate({ refresh: ended.refresh }));
      expect(refused.data?.code).toBe("token_not_valid");
      expect(refused.message).toBe("Token is blacklisted");
      expect((await failure(s.trpc(bearer(ended.access)).users.me.query())).data?.code).toBe("token_not_valid");
      const verified = await failure(anon.jwt.verify.mutate({ token: ended.refresh }));
      expect(verified.data?.code).toBe("token_blacklisted");
      expect(verified.data?.fields).toEqual({ non_field_errors: ["Token is blacklisted"] });
      expect((await failure(anon.jwt.logout.mutate({ refresh: ended.refresh }))).data?.code).toBe("token_not_valid");
      expect(await s.trpc(bearer(other.access)).users.me.query()).toMatchObject({ username: "trpcleaving" });
    });

    it("logout without a refresh token is DRF's 400", async () => {
      for (const init of [{}, { json: {} }]) {
        const res = await s.request("POST", "/auth/jwt/logout/", init);
        expect(res.status).toBe(400);
        expect(res.json).toEqual({ refresh: ["This field is required."] });
      }
    });

    it("logout_all by JWT ends every session of the user; a later login works", async () => {
      await s.signUp("everywhere");
      const sessions = [await s.jwtLogin("everywhere"), await s.jwtLogin("everywhere"), await s.jwtLogin("everywhere")];
      const out = await s.request("POST", "/auth/jwt/logout_all/", { headers: bearer(sessions[0]!.access) });
      expect(out.status).toBe(204);
      expect(out.text).toBe("");
      for (const pair of sessions) {
        await expectRefreshBlacklisted(s, pair.refresh);
        await expectAccessRefused(s, pair.access);
      }
      await expectWorks(s, await s.jwtLogin("everywhere"));
    });

    it("logout_all by opaque token ends every JWT session; tRPC jwt.logoutAll counts the sessions", async () => {
      await s.signUp("viakey");
      const sessions = [await s.jwtLogin("viakey"), await s.jwtLogin("viakey")];
      const key = await s.tokenLogin("viakey");
      const out = await s.request("POST", "/auth/jwt/logout_all/", { headers: tokenAuth(key) });
      expect(out.status).toBe(204);
      for (const pair of sessions) {
        await expectRefreshBlacklisted(s, pair.refresh);
        await expectAccessRefused(s, pair.access);
      }
      const fresh = [await s.jwtLogin("viakey"), await s.jwtLogin("viakey")];
      expect(await s.trpc(bearer(fresh[0]!.access)).jwt.logoutAll.mutate()).toEqual({ sessions: 2 });
      for (const pair of fresh) await expectRefreshBlacklisted(s, pair.refresh);
      expect((await failure(s.trpc(bearer(fresh[1]!.access)).users.me.query())).data?.code).toBe("token_not_valid");
    });

    it("logout_all without credentials is DRF's 401", async () => {
      const res = await s.request("POST", "/auth/jwt/logout_all/");
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ detail: "Authentication credentials were not provided." });
      expect((await failure(s.trpc().jwt.logoutAll.mutate())).data?.code).toBe("not_authenticated");
    });

    it("refresh is refused to a deleted user: 401 user_not_found", async () => {
      await s.signUp("deleted");
      const pair = await s.jwtLogin("deleted");
      const del = await s.request("DELETE", "/auth/users/me/", {
        headers: bearer(pair.access),
        json: { current_password: PW },
      });
      expect(del.status).toBe(204);
      const res = await s.refresh(pair.refresh);
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ detail: "User not found", code: "user_not_found" });
      expect(res.headers.get("www-authenticate")).toBe(CHALLENGE);
      expect((await failure(s.trpc().jwt.refresh.mutate({ refresh: pair.refresh }))).data?.code).toBe("user_not_found");
    });

    it("refresh is refused to an inactive user: 401 user_inactive", async () => {
      const id = await s.signUp("deactivated");
      const pair = await s.jwtLogin("deactivated");
      await s.deps.prisma.user.update({ where: { id }, data: { isActive: false } });
      const res = await s.refresh(pair.refresh);
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ detail: "User is inactive", code: "user_inactive" });
      expect(res.headers.get("www-authenticate")).toBe(CHALLENGE);
      expect((await failure(s.trpc().jwt.refresh.mutate({ refresh: pair.refresh }))).data?.code).toBe("user_inactive");
      const access = await s.me(bearer(pair.access));
      expect(access.status).toBe(401);
      expect(access.json).toEqual({ detail: "User is inactive", code: "user_inactive" });
    });
  });

  describe(
    "SIMPLE_JWT_ROTATE_REFRESH_TOKENS=true (reuse detection on by default), " + "REFRESH_TOKEN_REUSE_INTERVAL=0",
    () => {
      const s = useServer(kind, {
        SIMPLE_JWT_ROTATE_REFRESH_TOKENS: "true",
        SIMPLE_JWT_REFRESH_TOKEN_REUSE_INTERVAL: "0",
      });

      it("refresh answers {access, refresh}, and the new refresh token works", async () => {
        await s.signUp("rotor");
        const { refresh: r1 } = await s.jwtLogin("rotor");
        const r2 = (await expectRefreshed(s, r1, ["access", "refresh"])).refresh!;
        expect(r2).not.toBe(r1);
        await expectRefreshed(s, r2, ["access", "refresh"]);
      });

      it("a rotated refresh token presented again ends its session; another session of the user lives", async () => {
        await s.signUp("victim");
        const stolen = await s.jwtLogin("victim");
        const other = await s.jwtLogin("victim");
        const r2 = (await expectRefreshed(s, stolen.refresh, ["access", "refresh"])).refresh!;
        await expectRefreshBlacklisted(s, stolen.refresh);
        await expectRefreshBlacklisted(s, r2);
        await expectAccessRefused(s, stolen.access);
        await expectWorks(s, other);
      });

      it("tRPC: reuse of a rotated refresh token ends its session with token_not_valid", async () => {
        await s.signUp("trpcvictim");
        const anon = s.trpc();
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
          expect((await failure(s.trpc(bearer(access)).users.me.query())).data?.code).toBe("token_not_valid");
        expect(await s.trpc(bearer(other.access)).users.me.query()).toMatchObject({ username: "trpcvictim" });
      });

      it("ten concurrent refreshes of one token: exactly one 200, nine 401, and the session ends", async () => {
        await s.signUp("racer");
        const pair = await s.jwtLogin("racer");
        const results = await Promise.all(Array.from({ length: 10 }, () => s.refresh(pair.refresh)));
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
    const rotation = { SIMPLE_JWT_ROTATE_REFRESH_TOKENS: "true", SIMPLE_JWT_BLACKLIST_AFTER_ROTATION: "true" };
    const s = useServer(kind, rotation);
    // A 1 s window, to see it close.
    const quick = useServer(kind, { ...rotation, SIMPLE_JWT_REFRESH_TOKEN_REUSE_INTERVAL: "1" });

    it(
      "the just-rotated token presented again (a retry after a lost answer) " +
        "gets the same new refresh token; the session goes on",
      async () => {
        const id = await s.signUp("retrier");
        const pair = await s.jwtLogin("retrier");
        const first = await expectRefreshed(s, pair.refresh, ["access", "refresh"]);
        const retry = await expectRefreshed(s, pair.refresh, ["access", "refresh"]);
        expect(retry.refresh).toBe(first.refresh);
        for (const access of [pair.access, first.access, retry.access])
          expect((await s.me(bearer(access))).status).toBe(200);
        const next = await expectRefreshed(s, first.refresh!, ["access", "refresh"]);
        expect((await s.me(bearer(next.access))).status).toBe(200);
        expect(await s.deps.prisma.auditEvent.count({ where: { kind: "refresh_reuse_detected", userId: id } })).toBe(0);
      },
    );

    it(
      "tRPC: two tabs refreshing at once both get the one new pair's refresh token, " + "and the session lives",
      async () => {
        await s.signUp("twotabs");
        const anon = s.trpc();
        const pair = await anon.jwt.create.mutate({ username: "twotabs", password: PW });
        const [a, b] = await Promise.all([
          anon.jwt.refresh.mutate({ refresh: pair.refresh }),
          anon.jwt.refresh.mutate({ refresh: pair.refresh }),
        ]);
        expect(a.refresh).toBeDefined();
        expect(b.refresh).toBe(a.refresh);
        expect(await s.trpc(bearer(b.access)).users.me.query()).toMatchObject({ username: "twotabs" });
        expect(Object.keys(await anon.jwt.refresh.mutate({ refresh: a.refresh! }))).toEqual(["access", "refresh"]);
      },
    );

    it("ten concurrent refreshes of one token: all 200 with the same new refresh token, and it works", async () => {
      await s.signUp("burst");
      const pair = await s.jwtLogin("burst");
      const results = await Promise.all(Array.from({ length: 10 }, () => s.refresh(pair.refresh)));
      for (const r of results) expect(r.status, r.text).toBe(200);
      expect(new Set(results.map((r) => r.json.refresh)).size).toBe(1);
      await expectRefreshed(s, results[0]!.json.refresh, ["access", "refresh"]);
    });

    it("after the window, presenting the rotated token ends the session as before", async () => {
      await quick.signUp("late");
      const pair = await quick.jwtLogin("late");
      const next = await expectRefreshed(quick, pair.refresh, ["access", "refresh"]);
      await sleep(1_200);
      await expectRefreshBlacklisted(quick, pair.refresh);
      await expectRefreshBlacklisted(quick, next.refresh!);
      await expectAccessRefused(quick, next.access);
      expect((await failure(quick.trpc().jwt.refresh.mutate({ refresh: next.refresh! }))).message).toBe(
        "Token is blacklisted",
      );
    });

    it("within the window, a rotated token of a session that ended is refused and nothing is revived", async () => {
      await s.signUp("endedthen");
      const pair = await s.jwtLogin("endedthen");
      const next = await expectRefreshed(s, pair.refresh, ["access", "refresh"]);
      expect((await s.request("POST", "/auth/jwt/logout/", { json: { refresh: next.refresh } })).status).toBe(204);
      await expectRefreshBlacklisted(s, pair.refresh);
      await expectAccessRefused(s, next.access);
    });
  });

  describe("ROTATE + BLACKLIST_AFTER_ROTATION, REFRESH_TOKEN_REUSE_DETECTION=false (SimpleJWT's behaviour)", () => {
    const s = useServer(kind, {
      SIMPLE_JWT_ROTATE_REFRESH_TOKENS: "true",
      SIMPLE_JWT_BLACKLIST_AFTER_ROTATION: "true",
      SIMPLE_JWT_REFRESH_TOKEN_REUSE_DETECTION: "false",
    });

    it("the rotated token is blacklisted, but the new one and the session keep working", async () => {
      await s.signUp("simplejwt");
      const pair = await s.jwtLogin("simplejwt");
      const next = await expectRefreshed(s, pair.refresh, ["access", "refresh"]);
      await expectRefreshBlacklisted(s, pair.refresh);
      const third = await expectRefreshed(s, next.refresh!, ["access", "refresh"]);
      expect((await s.me(bearer(pair.access))).status).toBe(200);
      expect((await s.me(bearer(third.access))).status).toBe(200);
      const reuse = await failure(s.trpc().jwt.refresh.mutate({ refresh: pair.refresh }));
      expect(reuse.data?.code).toBe("token_not_valid");
      await expectRefreshed(s, third.refresh!, ["access", "refresh"]);
    });
  });
});
