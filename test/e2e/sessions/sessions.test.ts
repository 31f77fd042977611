// A user's sessions (opaque tokens and JWT sessions together): listed, ended one by one, all but
// this one, or all; staff listing and ending another user's sessions; deactivation and deletion
// ending every session at once. Through REST (/auth/sessions/) and the typed tRPC client, over
// PGlite and PostgreSQL.
import { TRPCClientError } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionView } from "../../../src/core/sessions/list.ts";
import type { AppRouter } from "../../../src/trpc/router.ts";
import { PW, signUp, tokenLogin } from "../../helpers/actors.ts";
import { createStaff, DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";
import { type Client, failure, trpcClient } from "../../helpers/trpc.ts";

const BOSS_PW = "B0ss-Passw0rd!";
const IP = /^(127\.0\.0\.1|::ffff:127\.0\.0\.1)$/;
const INVALID_TOKEN = { detail: "Invalid token." };
const NOT_PROVIDED = { detail: "Authentication credentials were not provided." };
const NO_SUCH_SESSION = { detail: "No such session." };
const BLACKLISTED = { detail: "Token is blacklisted", code: "token_not_valid" };
const ACCESS_BLACKLISTED = {
  detail: "Given token not valid for any token type",
  code: "token_not_valid",
  messages: [{ token_class: "AccessToken", token_type: "access", message: "Token is blacklisted" }],
};
const USER_INACTIVE = { detail: "User is inactive", code: "user_inactive" };
const USER_NOT_FOUND = { detail: "User not found", code: "user_not_found" };
const FORBIDDEN_MESSAGE = "You do not have permission to perform this action.";
const VIEW_KEYS = ["created", "current", "id", "ip", "kind", "lastUsedAt", "userAgent"];

type Pair = { refresh: string; access: string };
type Headers = Record<string, string>;
/** One answer, whichever adapter gave it: tRPC errors become {status: httpStatus, body: {detail: message}, code}. */
type Res = { status: number; body: any; code?: string };

const tokenAuth = (key: string): Headers => ({ authorization: `Token ${key}` });
const bearer = (access: string): Headers => ({ authorization: `Bearer ${access}` });

async function settle(call: Promise<unknown>): Promise<Res> {
  try {
    return { status: 200, body: await call };
  } catch (e) {
    if (!(e instanceof TRPCClientError)) throw e;
    const err = e as TRPCClientError<AppRouter>;
    return { status: err.data?.httpStatus ?? 0, body: { detail: err.message }, code: err.data?.code };
  }
}

/** What both adapters offer for one's own sessions, and how each says "done". */
type Adapter = {
  tokenLogin(username: string, ua: string): Promise<string>;
  jwtLogin(username: string, ua: string): Promise<Pair>;
  list(auth: Headers): Promise<Res>;
  revoke(auth: Headers, id: string): Promise<Res>;
  revokeOthers(auth: Headers): Promise<Res>;
  revokeAll(auth: Headers): Promise<Res>;
  deleteMe(auth: Headers, currentPassword: string): Promise<Res>;
  /** 204 with an empty body (REST), 200 with no result (tRPC). */
  expectDone(res: Res): void;
};

function rest(s: TestServer): Adapter {
  const call = async (method: string, path: string, headers: Headers, json?: unknown): Promise<Res> => {
    const res = await s.request(method, path, { headers, json });
    return { status: res.status, body: res.text === "" ? undefined : res.json };
  };
  return {
    async tokenLogin(username, ua) {
      const res = await s.request("POST", "/auth/token/login/", {
        headers: { "user-agent": ua },
        json: { username, password: PW },
      });
      expect(res.status, res.text).toBe(200);
      return res.json.auth_token;
    },
    async jwtLogin(username, ua) {
      const res = await s.request("POST", "/auth/jwt/create/", {
        headers: { "user-agent": ua },
        json: { username, password: PW },
      });
      expect(res.status, res.text).toBe(200);
      return res.json;
    },
    list: (auth) => call("GET", "/auth/sessions/", auth),
    revoke: (auth, id) => call("DELETE", `/auth/sessions/${encodeURIComponent(id)}/`, auth),
    revokeOthers: (auth) => call("POST", "/auth/sessions/revoke_others/", auth),
    revokeAll: (auth) => call("POST", "/auth/sessions/revoke_all/", auth),
    deleteMe: (auth, current_password) => call("DELETE", "/auth/users/me/", auth, { current_password }),
    expectDone(res) {
      expect(res.status, JSON.stringify(res.body)).toBe(204);
      expect(res.body).toBeUndefined();
    },
  };
}

function trpc(s: TestServer): Adapter {
  return {
    tokenLogin: async (username, ua) =>
      (await trpcClient(s, { "user-agent": ua }).token.login.mutate({ username, password: PW })).auth_token,
    jwtLogin: (username, ua) => trpcClient(s, { "user-agent": ua }).jwt.create.mutate({ username, password: PW }),
    list: (auth) => settle(trpcClient(s, auth).sessions.list.query()),
    revoke: (auth, id) => settle(trpcClient(s, auth).sessions.revoke.mutate({ id })),
    revokeOthers: (auth) => settle(trpcClient(s, auth).sessions.revokeOthers.mutate()),
    revokeAll: (auth) => settle(trpcClient(s, auth).sessions.revokeAll.mutate()),
    deleteMe: (auth, current_password) => settle(trpcClient(s, auth).users.deleteMe.mutate({ current_password })),
    expectDone(res) {
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toBeUndefined();
    },
  };
}

const ADAPTERS = { rest, trpc } as const;

const me = (s: TestServer, auth: Headers) => s.request("GET", "/auth/users/me/", { headers: auth });
const refresh = (s: TestServer, token: string) => s.request("POST", "/auth/jwt/refresh/", { json: { refresh: token } });

async function expectTokenWorks(s: TestServer, key: string) {
  const res = await me(s, tokenAuth(key));
  expect(res.status, res.text).toBe(200);
}

/** An opaque token that no longer exists: DRF's 401 "Invalid token.". */
async function expectTokenRefused(s: TestServer, key: string) {
  const res = await me(s, tokenAuth(key));
  expect(res.status).toBe(401);
  expect(res.json).toEqual(INVALID_TOKEN);
  expect(res.headers.get("www-authenticate")).toBe("Token");
}

async function expectJwtWorks(s: TestServer, pair: Pair) {
  const res = await me(s, bearer(pair.access));
  expect(res.status, res.text).toBe(200);
  const refreshed = await refresh(s, pair.refresh);
  expect(refreshed.status, refreshed.text).toBe(200);
}

/** An ended JWT session: its refresh token is blacklisted and its access token refused. */
async function expectJwtEnded(s: TestServer, pair: Pair) {
  const refreshed = await refresh(s, pair.refresh);
  expect(refreshed.status).toBe(401);
  expect(refreshed.json).toEqual(BLACKLISTED);
  const access = await me(s, bearer(pair.access));
  expect(access.status).toBe(401);
  expect(access.json).toEqual(ACCESS_BLACKLISTED);
}

/** The session list as it comes, checked for shape. */
async function listOf(a: Adapter, auth: Headers): Promise<SessionView[]> {
  const res = await a.list(auth);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const views = res.body as SessionView[];
  for (const v of views) {
    expect(Object.keys(v).sort()).toEqual(VIEW_KEYS);
    expect(v.id).toMatch(v.kind === "token" ? /^t\d+$/ : /^j[0-9a-f]{32}$/);
    expect(v.ip).toMatch(IP);
  }
  // Newest first.
  const created = views.map((v) => v.created);
  expect(created).toEqual([...created].sort().reverse());
  return views;
}

const byAgent = (views: SessionView[], ua: string): SessionView => {
  const found = views.filter((v) => v.userAgent === ua);
  expect(found, ua).toHaveLength(1);
  return found[0]!;
};

/** A user with two opaque tokens (per-device mode) and two JWT sessions, each logged in with its own User-Agent. */
async function fourSessions(s: TestServer, a: Adapter, username: string) {
  const id = await signUp(s, username);
  const ua = {
    t1: `Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0 ${username}-laptop`,
    t2: `curl/8.5.0 ${username}-script`,
    j1: `MyApp/2.3 (iPhone; iOS 17.4) ${username}-phone`,
    j2: `MyApp/2.3 (Android 14) ${username}-tablet`,
  };
  const k1 = await a.tokenLogin(username, ua.t1);
  const k2 = await a.tokenLogin(username, ua.t2);
  expect(k2).not.toBe(k1);
  const j1 = await a.jwtLogin(username, ua.j1);
  const j2 = await a.jwtLogin(username, ua.j2);
  return { id, ua, k1, k2, j1, j2 };
}

describe.each(DATABASES)("sessions on %s", (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(kind, { DJOSER_TOKEN_MODE: "per_device" });
  });
  afterAll(async () => s?.stop());

  describe.each(Object.keys(ADAPTERS) as (keyof typeof ADAPTERS)[])("through %s", (name) => {
    let a: Adapter;
    beforeAll(() => {
      a = ADAPTERS[name](s);
    });

    it("lists 2 opaque tokens and 2 JWT sessions with kind, created, lastUsedAt, User-Agent and IP; `current` marks the caller's", async () => {
      const started = Date.now();
      const u = await fourSessions(s, a, `${name}-lister`);
      const views = await listOf(a, tokenAuth(u.k1));
      expect(views).toHaveLength(4);
      expect(views.map((v) => v.userAgent).sort()).toEqual(Object.values(u.ua).sort());
      for (const v of views) {
        expect(Date.parse(v.created)).toBeGreaterThanOrEqual(started - 2000);
        expect(Date.parse(v.created)).toBeLessThanOrEqual(Date.now() + 2000);
      }
      expect(byAgent(views, u.ua.t1).kind).toBe("token");
      expect(byAgent(views, u.ua.t2).kind).toBe("token");
      expect(byAgent(views, u.ua.j1).kind).toBe("jwt");
      expect(byAgent(views, u.ua.j2).kind).toBe("jwt");
      expect(views.filter((v) => v.current)).toEqual([byAgent(views, u.ua.t1)]);
      // Nothing used yet but the caller's own token (whose use is recorded in the background).
      for (const ua of [u.ua.t2, u.ua.j1, u.ua.j2]) expect(byAgent(views, ua).lastUsedAt).toBeNull();

      // A JWT caller: its own session is the current one.
      const asJwt = await listOf(a, bearer(u.j2.access));
      expect(asJwt.map((v) => v.id).sort()).toEqual(views.map((v) => v.id).sort());
      expect(asJwt.filter((v) => v.current)).toEqual([{ ...byAgent(views, u.ua.j2), current: true }]);

      // Use shows up as lastUsedAt: a request with the second token, a refresh of the first JWT session.
      await expectTokenWorks(s, u.k2);
      expect((await refresh(s, u.j1.refresh)).status).toBe(200);
      await expect
        .poll(async () => {
          const now = await listOf(a, tokenAuth(u.k1));
          return [u.ua.t1, u.ua.t2, u.ua.j1].map((ua) => byAgent(now, ua).lastUsedAt !== null);
        })
        .toEqual([true, true, true]);
      const later = await listOf(a, tokenAuth(u.k1));
      for (const ua of [u.ua.t1, u.ua.t2, u.ua.j1]) {
        const used = Date.parse(byAgent(later, ua).lastUsedAt!);
        expect(used).toBeGreaterThanOrEqual(Date.parse(byAgent(later, ua).created) - 1000);
        expect(used).toBeLessThanOrEqual(Date.now() + 2000);
      }
      // Access tokens are checked statelessly: using one does not write lastUsedAt.
      expect(byAgent(later, u.ua.j2).lastUsedAt).toBeNull();
    });

    it("revoke by id ends that credential only; someone else's session, a revoked one and malformed ids are 404", async () => {
      const u = await fourSessions(s, a, `${name}-revoker`);
      const views = await listOf(a, tokenAuth(u.k1));
      const id = (ua: string) => byAgent(views, ua).id;

      a.expectDone(await a.revoke(tokenAuth(u.k1), id(u.ua.t2)));
      await expectTokenRefused(s, u.k2);
      a.expectDone(await a.revoke(tokenAuth(u.k1), id(u.ua.j1)));
      await expectJwtEnded(s, u.j1);
      await expectTokenWorks(s, u.k1);
      await expectJwtWorks(s, u.j2);
      expect((await listOf(a, tokenAuth(u.k1))).map((v) => v.id).sort()).toEqual([id(u.ua.t1), id(u.ua.j2)].sort());

      // Gone already: 404, both kinds.
      for (const gone of [id(u.ua.t2), id(u.ua.j1)]) {
        const again = await a.revoke(tokenAuth(u.k1), gone);
        expect(again.status).toBe(404);
        expect(again.body).toEqual(NO_SUCH_SESSION);
        if (name === "trpc") expect(again.code).toBe("not_found");
      }

      // Someone else's sessions are "not found", and they live on.
      await signUp(s, `${name}-bystander`);
      const other = {
        key: await a.tokenLogin(`${name}-bystander`, "bystander"),
        pair: await a.jwtLogin(`${name}-bystander`, "bystander"),
      };
      const theirs = await listOf(a, tokenAuth(other.key));
      expect(theirs).toHaveLength(2);
      for (const v of theirs) {
        const res = await a.revoke(tokenAuth(u.k1), v.id);
        expect(res.status, v.id).toBe(404);
        expect(res.body).toEqual(NO_SUCH_SESSION);
        const viaJwt = await a.revoke(bearer(u.j2.access), v.id);
        expect(viaJwt.status, v.id).toBe(404);
      }
      await expectTokenWorks(s, other.key);
      await expectJwtWorks(s, other.pair);
      expect(await listOf(a, tokenAuth(other.key))).toHaveLength(2);

      // Malformed ids are 404 too (no 400, no 500).
      const sid = id(u.ua.j2).slice(1);
      const malformed = [
        "x",
        "t",
        "j",
        "tabc",
        "t-1",
        "t1.5",
        "t+1",
        "T" + id(u.ua.t1).slice(1),
        " " + id(u.ua.t1),
        id(u.ua.t1) + " ",
        "t0",
        "t" + "9".repeat(10),
        "t1e3",
        "j123",
        "j" + sid.toUpperCase(),
        "j" + sid + "0",
        "j" + sid.slice(1),
        "J" + sid,
        "t" + id(u.ua.t1).slice(1) + "\u0000",
        "%",
        "null",
        "undefined",
      ];
      for (const bad of malformed) {
        const res = await a.revoke(tokenAuth(u.k1), bad);
        expect(res.status, JSON.stringify(bad)).toBe(404);
        expect(res.body).toEqual(NO_SUCH_SESSION);
      }
      // An id over 40 characters: the REST path is still a 404; tRPC's input schema refuses it.
      const long = await a.revoke(tokenAuth(u.k1), "t" + "1".repeat(60));
      if (name === "rest") expect(long).toEqual({ status: 404, body: NO_SUCH_SESSION });
      else expect([long.status, long.code]).toEqual([400, "invalid_input"]);
      await expectTokenWorks(s, u.k1);
      await expectJwtWorks(s, u.j2);

      // One's own current session can be ended by id: the next request with it is refused.
      a.expectDone(await a.revoke(bearer(u.j2.access), id(u.ua.j2)));
      await expectJwtEnded(s, u.j2);
      a.expectDone(await a.revoke(tokenAuth(u.k1), id(u.ua.t1)));
      await expectTokenRefused(s, u.k1);
    });

    it("revoke_others by an opaque token: only the caller's session lives", async () => {
      const u = await fourSessions(s, a, `${name}-others-t`);
      a.expectDone(await a.revokeOthers(tokenAuth(u.k1)));
      const left = await listOf(a, tokenAuth(u.k1));
      expect(left).toHaveLength(1);
      expect(left[0]).toMatchObject({ kind: "token", userAgent: u.ua.t1, current: true });
      await expectTokenRefused(s, u.k2);
      await expectJwtEnded(s, u.j1);
      await expectJwtEnded(s, u.j2);
      await expectTokenWorks(s, u.k1);
    });

    it("revoke_others by a JWT: only the caller's session lives, and it still refreshes", async () => {
      const u = await fourSessions(s, a, `${name}-others-j`);
      a.expectDone(await a.revokeOthers(bearer(u.j1.access)));
      const left = await listOf(a, bearer(u.j1.access));
      expect(left).toHaveLength(1);
      expect(left[0]).toMatchObject({ kind: "jwt", userAgent: u.ua.j1, current: true });
      await expectTokenRefused(s, u.k1);
      await expectTokenRefused(s, u.k2);
      await expectJwtEnded(s, u.j2);
      await expectJwtWorks(s, u.j1);
      const fresh = (await refresh(s, u.j1.refresh)).json.access;
      expect((await me(s, bearer(fresh))).status).toBe(200);
    });

    it("revoke_all by an opaque token or a JWT: no session lives, the caller's next request is 401, a new login works", async () => {
      const u = await fourSessions(s, a, `${name}-all-t`);
      a.expectDone(await a.revokeAll(tokenAuth(u.k1)));
      await expectTokenRefused(s, u.k1);
      await expectTokenRefused(s, u.k2);
      await expectJwtEnded(s, u.j1);
      await expectJwtEnded(s, u.j2);
      const afterList = await a.list(tokenAuth(u.k1));
      expect(afterList.status).toBe(401);
      expect(afterList.body).toEqual(INVALID_TOKEN);
      const fresh = await a.tokenLogin(`${name}-all-t`, "after");
      expect((await listOf(a, tokenAuth(fresh))).map((v) => v.userAgent)).toEqual(["after"]);

      const v = await fourSessions(s, a, `${name}-all-j`);
      a.expectDone(await a.revokeAll(bearer(v.j2.access)));
      for (const key of [v.k1, v.k2]) await expectTokenRefused(s, key);
      for (const pair of [v.j1, v.j2]) await expectJwtEnded(s, pair);
      const jwtList = await a.list(bearer(v.j2.access));
      expect(jwtList.status).toBe(401);
      const freshPair = await a.jwtLogin(`${name}-all-j`, "after");
      expect((await listOf(a, bearer(freshPair.access))).map((x) => [x.userAgent, x.current])).toEqual([
        ["after", true],
      ]);
    });

    it("deleting one's account (with current_password) ends every session: the other token and the JWTs are refused", async () => {
      const u = await fourSessions(s, a, `${name}-deleter`);
      const wrong = await a.deleteMe(tokenAuth(u.k1), "not-the-password");
      expect(wrong.status).toBe(400);
      a.expectDone(await a.deleteMe(tokenAuth(u.k1), PW));
      await expectTokenRefused(s, u.k1);
      await expectTokenRefused(s, u.k2);
      for (const pair of [u.j1, u.j2]) {
        const access = await me(s, bearer(pair.access));
        expect(access.status).toBe(401);
        expect(access.json).toEqual(USER_NOT_FOUND);
        const refreshed = await refresh(s, pair.refresh);
        expect(refreshed.status).toBe(401);
        expect(refreshed.json).toEqual(USER_NOT_FOUND);
      }
      // Nothing of theirs is left behind.
      expect(await s.deps.prisma.authToken.count({ where: { userId: u.id } })).toBe(0);
      expect(await s.deps.prisma.jwtSession.count({ where: { userId: u.id } })).toBe(0);
    });
  });

  describe("staff (tRPC only)", () => {
    let boss: Client;
    let bossKey: string;
    beforeAll(async () => {
      await createStaff(s, "boss", BOSS_PW, "boss@example.com");
      bossKey = await tokenLogin(s, "boss", BOSS_PW);
      boss = trpcClient(s, tokenAuth(bossKey));
    });

    it("sessions.listFor and revokeAllFor another user; the staff's own session lives", async () => {
      const u = await fourSessions(s, rest(s), "staffed");
      const listed = await boss.sessions.listFor.query({ userId: u.id });
      expect(listed).toHaveLength(4);
      expect(listed.map((v) => v.userAgent).sort()).toEqual(Object.values(u.ua).sort());
      // Listed by someone else: none is "current".
      expect(listed.filter((v) => v.current)).toEqual([]);
      for (const v of listed) expect(Object.keys(v).sort()).toEqual(VIEW_KEYS);
      // The same views the user sees (but for `current`, and lastUsedAt, which the user's own request moves).
      const own = await listOf(rest(s), tokenAuth(u.k1));
      const comparable = ({ lastUsedAt: _used, current: _current, ...rest }: SessionView) => rest;
      expect(listed.map(comparable)).toEqual(own.map(comparable));

      expect(await boss.sessions.revokeAllFor.mutate({ userId: u.id })).toBeUndefined();
      for (const key of [u.k1, u.k2]) await expectTokenRefused(s, key);
      for (const pair of [u.j1, u.j2]) await expectJwtEnded(s, pair);
      expect(await boss.sessions.listFor.query({ userId: u.id })).toEqual([]);
      await expectTokenWorks(s, bossKey);
      // They can log in again.
      const again = await tokenLogin(s, "staffed");
      expect(await boss.sessions.listFor.query({ userId: u.id })).toHaveLength(1);
      await expectTokenWorks(s, again);
    });

    it("a user with no sessions, or no such user: listFor is empty", async () => {
      const id = await signUp(s, "sessionless");
      expect(await boss.sessions.listFor.query({ userId: id })).toEqual([]);
      expect(await boss.sessions.listFor.query({ userId: 2_000_000_000 })).toEqual([]);
    });

    // KNOWN BUG (reported): revokeAllFor on a user id that does not exist is a 500
    // (endSessions' user.update throws Prisma's P2025), not NOT_FOUND. Remove `.fails` once fixed.
    it("revokeAllFor a user that does not exist is NOT_FOUND", async () => {
      const err = await failure(boss.sessions.revokeAllFor.mutate({ userId: 2_000_000_000 }));
      expect(err.data?.code).toBe("not_found");
      expect(err.data?.httpStatus).toBe(404);
    });

    it("a non-staff caller is FORBIDDEN (permission_denied) from listFor and revokeAllFor, whatever the credential", async () => {
      const bossId = (await boss.users.me.query()).id;
      const u = await fourSessions(s, rest(s), "nosy");
      for (const auth of [tokenAuth(u.k1), bearer(u.j1.access)]) {
        const nosy = trpcClient(s, auth);
        const calls = [
          () => nosy.sessions.listFor.query({ userId: bossId }),
          () => nosy.sessions.revokeAllFor.mutate({ userId: bossId }),
          () => nosy.sessions.listFor.query({ userId: u.id }),
          () => nosy.sessions.revokeAllFor.mutate({ userId: u.id }),
        ];
        for (const call of calls) {
          const err = await failure(call());
          expect(err.data?.code).toBe("permission_denied");
          expect(err.data?.httpStatus).toBe(403);
          expect(err.shape?.code).toBe(-32003); // FORBIDDEN
          expect(err.message).toBe(FORBIDDEN_MESSAGE);
        }
      }
      await expectTokenWorks(s, bossKey);
      expect(await boss.sessions.listFor.query({ userId: u.id })).toHaveLength(4);
    });

    it("users.setActive false ends every session of the user at once; true lets them log in again", async () => {
      const u = await fourSessions(s, rest(s), "suspended");
      expect(await boss.users.setActive.mutate({ id: u.id, active: false })).toEqual({
        email: "",
        id: u.id,
        username: "suspended",
      });
      for (const key of [u.k1, u.k2]) await expectTokenRefused(s, key);
      for (const pair of [u.j1, u.j2]) {
        const access = await me(s, bearer(pair.access));
        expect(access.status).toBe(401);
        expect(access.json).toEqual(USER_INACTIVE);
        expect((await failure(trpcClient(s, bearer(pair.access)).users.me.query())).data?.code).toBe("user_inactive");
        const refreshed = await refresh(s, pair.refresh);
        expect(refreshed.status).toBe(401);
        expect(refreshed.json).toEqual(BLACKLISTED);
      }
      expect(await boss.sessions.listFor.query({ userId: u.id })).toEqual([]);
      // Inactive: no login either way.
      const tokenTry = await s.request("POST", "/auth/token/login/", { json: { username: "suspended", password: PW } });
      expect(tokenTry.status).toBe(400);
      expect(tokenTry.json).toEqual({ non_field_errors: ["Unable to log in with provided credentials."] });
      const jwtTry = await s.request("POST", "/auth/jwt/create/", { json: { username: "suspended", password: PW } });
      expect(jwtTry.status).toBe(401);
      expect(jwtTry.json).toEqual({ detail: "No active account found with the given credentials" });

      expect(await boss.users.setActive.mutate({ id: u.id, active: true })).toEqual({
        email: "",
        id: u.id,
        username: "suspended",
      });
      // The old sessions stay ended…
      for (const key of [u.k1, u.k2]) await expectTokenRefused(s, key);
      for (const pair of [u.j1, u.j2]) await expectJwtEnded(s, pair);
      // …and new logins work.
      await expectTokenWorks(s, await tokenLogin(s, "suspended"));
      const pair = (await s.request("POST", "/auth/jwt/create/", { json: { username: "suspended", password: PW } }))
        .json as Pair;
      await expectJwtWorks(s, pair);
      await expectTokenWorks(s, bossKey);
    });

    it("users.setActive: non-staff is FORBIDDEN, an unknown id is NOT_FOUND", async () => {
      const bossId = (await boss.users.me.query()).id;
      const u = await fourSessions(s, rest(s), "usurper");
      for (const [id, active] of [
        [bossId, false],
        [u.id, false],
        [u.id, true],
      ] as const) {
        const err = await failure(trpcClient(s, tokenAuth(u.k1)).users.setActive.mutate({ id, active }));
        expect(err.data?.code).toBe("permission_denied");
        expect(err.data?.httpStatus).toBe(403);
      }
      await expectTokenWorks(s, bossKey);
      await expectTokenWorks(s, u.k1);
      await expectJwtWorks(s, u.j1);
      const missing = await failure(boss.users.setActive.mutate({ id: 2_000_000_000, active: false }));
      expect(missing.data?.code).toBe("not_found");
      expect(missing.data?.httpStatus).toBe(404);
    });
  });

  describe("REST: anonymous callers, OPTIONS, 405 and the trailing slash", () => {
    const PATHS = [
      "/auth/sessions/",
      "/auth/sessions/revoke_others/",
      "/auth/sessions/revoke_all/",
      "/auth/sessions/t1/",
      `/auth/sessions/j${"0".repeat(32)}/`,
    ];
    let key: string;
    let pair: Pair;
    beforeAll(async () => {
      await signUp(s, "shaper");
      key = await tokenLogin(s, "shaper");
      pair = (await s.request("POST", "/auth/jwt/create/", { json: { username: "shaper", password: PW } })).json;
    });

    it("anonymous: 401 on every /auth/sessions/ path and method, OPTIONS included", async () => {
      for (const path of PATHS) {
        for (const method of ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
          const res = await s.request(method, path);
          expect(res.status, `${method} ${path}`).toBe(401);
          expect(res.headers.get("www-authenticate"), `${method} ${path}`).toBe("Token");
          if (method === "HEAD") expect(res.text).toBe("");
          else expect(res.json, `${method} ${path}`).toEqual(NOT_PROVIDED);
        }
      }
      // A credential that is not (or no longer) valid is refused before anything else.
      for (const path of PATHS) {
        const res = await s.request("GET", path, { headers: tokenAuth("0".repeat(40)) });
        expect(res.status).toBe(401);
        expect(res.json).toEqual(INVALID_TOKEN);
      }
    });

    it("anonymous tRPC: every sessions procedure is UNAUTHORIZED (not_authenticated)", async () => {
      const anon = trpcClient(s);
      const calls = [
        () => anon.sessions.list.query(),
        () => anon.sessions.revoke.mutate({ id: "t1" }),
        () => anon.sessions.revokeOthers.mutate(),
        () => anon.sessions.revokeAll.mutate(),
        () => anon.sessions.listFor.query({ userId: 1 }),
        () => anon.sessions.revokeAllFor.mutate({ userId: 1 }),
      ];
      for (const call of calls) {
        const err = await failure(call());
        expect(err.data?.code).toBe("not_authenticated");
        expect(err.data?.httpStatus).toBe(401);
      }
    });

    it("OPTIONS answers DRF's metadata with the Allow header of each view", async () => {
      const base = {
        renders: ["application/json", "text/html"],
        parses: ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
      };
      const expected: [string, string, string][] = [
        ["/auth/sessions/", "Session List", "GET, HEAD, OPTIONS"],
        ["/auth/sessions/revoke_others/", "Session Revoke Others", "POST, OPTIONS"],
        ["/auth/sessions/revoke_all/", "Session Revoke All", "POST, OPTIONS"],
        ["/auth/sessions/t1/", "Session Instance", "DELETE, OPTIONS"],
      ];
      for (const auth of [tokenAuth(key), bearer(pair.access)]) {
        for (const [path, nameOf, allow] of expected) {
          const res = await s.request("OPTIONS", path, { headers: auth });
          expect(res.status, path).toBe(200);
          expect(res.headers.get("content-type")).toBe("application/json");
          expect(res.headers.get("allow"), path).toBe(allow);
          expect(res.json).toEqual({ name: nameOf, description: expect.stringMatching(/\S/), ...base });
        }
      }
      // OPTIONS changed nothing.
      await expectTokenWorks(s, key);
      await expectJwtWorks(s, pair);
    });

    it("methods a view does not map are DRF's 405 naming the method, with Allow; nothing is ended", async () => {
      const cases: [string, string[], string][] = [
        ["/auth/sessions/", ["POST", "PUT", "PATCH", "DELETE", "PROPFIND"], "GET, HEAD, OPTIONS"],
        ["/auth/sessions/revoke_others/", ["GET", "PUT", "PATCH", "DELETE"], "POST, OPTIONS"],
        ["/auth/sessions/revoke_all/", ["GET", "PUT", "PATCH", "DELETE"], "POST, OPTIONS"],
        ["/auth/sessions/t1/", ["GET", "POST", "PUT", "PATCH"], "DELETE, OPTIONS"],
      ];
      for (const [path, methods, allow] of cases) {
        for (const method of methods) {
          const res = await s.request(method, path, { headers: tokenAuth(key) });
          expect(res.status, `${method} ${path}`).toBe(405);
          expect(res.json).toEqual({ detail: `Method "${method}" not allowed.` });
          expect(res.headers.get("allow")).toBe(allow);
        }
      }
      const head = await s.request("HEAD", "/auth/sessions/", { headers: tokenAuth(key) });
      expect(head.status).toBe(200);
      expect(head.text).toBe("");
      await expectTokenWorks(s, key);
      await expectJwtWorks(s, pair);
      expect((await listOf(rest(s), tokenAuth(key))).length).toBe(2);
    });

    it("without the trailing slash: Django's APPEND_SLASH 301", async () => {
      for (const path of PATHS) {
        const bare = path.replace(/\/$/, "");
        const res = await s.request("GET", `${bare}?x=1`, { headers: tokenAuth(key) });
        expect(res.status, bare).toBe(301);
        expect(res.headers.get("location")).toBe(`${path}?x=1`);
      }
    });
  });
});

describe.each(DATABASES)("sessions with Djoser's shared key (TOKEN_MODE=shared) on %s", (kind) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(kind);
  });
  afterAll(async () => s?.stop());

  it("the shared key is one session; revoking it by id ends the key for good: the next login gets a new one", async () => {
    for (const [name, a] of Object.entries({ rest: rest(s), trpc: trpc(s) })) {
      const username = `${name}-shared`;
      await signUp(s, username);
      const key = await a.tokenLogin(username, "first device");
      expect(await a.tokenLogin(username, "second device")).toBe(key);
      const views = await listOf(a, tokenAuth(key));
      expect(views.map((v) => [v.kind, v.userAgent, v.current])).toEqual([["token", "first device", true]]);
      a.expectDone(await a.revoke(tokenAuth(key), views[0]!.id));
      await expectTokenRefused(s, key);
      const next = await a.tokenLogin(username, "after");
      expect(next).not.toBe(key);
      await expectTokenRefused(s, key);
      await expectTokenWorks(s, next);
    }
  });

  it("revoke_others on the shared key ends it on every device: the caller gets a new one (tRPC returns it, REST's next login hands it out); from a JWT it ends the key", async () => {
    for (const [name, a] of Object.entries({ rest: rest(s), trpc: trpc(s) })) {
      const username = `${name}-keeper`;
      await signUp(s, username);
      const old = await a.tokenLogin(username, "keeper");
      const pair = await a.jwtLogin(username, "keeper jwt");
      const res = await a.revokeOthers(tokenAuth(old));
      await expectJwtEnded(s, pair);
      await expectTokenRefused(s, old);
      const given = name === "trpc" ? (res.body as { auth_token: string }).auth_token : undefined;
      if (name === "rest") a.expectDone(res);
      else expect([res.status, res.body]).toEqual([200, { auth_token: expect.stringMatching(/^[0-9a-f]{40}$/) }]);
      const key = await a.tokenLogin(username, "again");
      expect(key).not.toBe(old);
      if (given) expect(key).toBe(given);
      await expectTokenWorks(s, key);

      const other = await a.jwtLogin(username, "other jwt");
      a.expectDone(await a.revokeOthers(bearer(other.access)));
      await expectTokenRefused(s, key);
      await expectJwtWorks(s, other);
      const fresh = await a.tokenLogin(username, "fresh");
      expect(fresh).not.toBe(key);
      await expectTokenWorks(s, fresh);
    }
  });
});
