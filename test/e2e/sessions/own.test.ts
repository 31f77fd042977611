// A user's own sessions (opaque tokens and JWT sessions together), through REST (/auth/sessions/)
// and tRPC alike: listed, ended one by one, all but this one, or all, and all at once when the
// account is deleted. Over PGlite and PostgreSQL; staff's view is in staff.test.ts.
import { describe, expect, it } from "vitest";
import { ADAPTERS, adapter, expectDone, trpcCode } from "../../helpers/adapters.ts";
import { bearer, PW, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { DATABASES } from "../../helpers/server.ts";
import {
  byAgent,
  expectJwtEnded,
  expectJwtWorks,
  expectTokenRefused,
  expectTokenWorks,
  fourSessions,
  INVALID_TOKEN,
  listOf,
  refresh,
} from "./checks.ts";

const NO_SUCH_SESSION = { detail: "No such session." };
const USER_NOT_FOUND = { detail: "User not found", code: "user_not_found" };

describe.each(DATABASES)("sessions on %s", (kind) => {
  const s = useServer(kind, { DJOSER_TOKEN_MODE: "per_device" });

  describe.each(ADAPTERS)("through %s", (name) => {
    const a = adapter(name, s);

    it(
      "lists 2 opaque tokens and 2 JWT sessions with kind, created, lastUsedAt, User-Agent and IP; " +
        "`current` marks the caller's",
      async () => {
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
      },
    );

    it(
      "revoke by id ends that credential only; " + "someone else's session, a revoked one and malformed ids are 404",
      async () => {
        const u = await fourSessions(s, a, `${name}-revoker`);
        const views = await listOf(a, tokenAuth(u.k1));
        const id = (ua: string) => byAgent(views, ua).id;

        expectDone(await a.revokeSession(tokenAuth(u.k1), id(u.ua.t2)));
        await expectTokenRefused(s, u.k2);
        expectDone(await a.revokeSession(tokenAuth(u.k1), id(u.ua.j1)));
        await expectJwtEnded(s, u.j1);
        await expectTokenWorks(s, u.k1);
        await expectJwtWorks(s, u.j2);
        expect((await listOf(a, tokenAuth(u.k1))).map((v) => v.id).sort()).toEqual([id(u.ua.t1), id(u.ua.j2)].sort());

        // Gone already: 404, both kinds.
        for (const gone of [id(u.ua.t2), id(u.ua.j1)]) {
          const again = await a.revokeSession(tokenAuth(u.k1), gone);
          expect(again.status).toBe(404);
          expect(again.body).toEqual(NO_SUCH_SESSION);
          if (name === "trpc") expect(trpcCode(again)).toBe("not_found");
        }

        // Someone else's sessions are "not found", and they live on.
        await s.signUp(`${name}-bystander`);
        const other = {
          key: await a.tokenLogin(`${name}-bystander`, "bystander"),
          pair: await a.jwtLogin(`${name}-bystander`, "bystander"),
        };
        const theirs = await listOf(a, tokenAuth(other.key));
        expect(theirs).toHaveLength(2);
        for (const v of theirs) {
          const res = await a.revokeSession(tokenAuth(u.k1), v.id);
          expect(res.status, v.id).toBe(404);
          expect(res.body).toEqual(NO_SUCH_SESSION);
          const viaJwt = await a.revokeSession(bearer(u.j2.access), v.id);
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
          `T${id(u.ua.t1).slice(1)}`,
          ` ${id(u.ua.t1)}`,
          `${id(u.ua.t1)} `,
          "t0",
          `t${"9".repeat(10)}`,
          "t1e3",
          "j123",
          `j${sid.toUpperCase()}`,
          `j${sid}0`,
          `j${sid.slice(1)}`,
          `J${sid}`,
          `t${id(u.ua.t1).slice(1)}\u0000`,
          "%",
          "null",
          "undefined",
        ];
        for (const bad of malformed) {
          const res = await a.revokeSession(tokenAuth(u.k1), bad);
          expect(res.status, JSON.stringify(bad)).toBe(404);
          expect(res.body).toEqual(NO_SUCH_SESSION);
        }
        // An id over 40 characters: the REST path is still a 404; tRPC's input schema refuses it.
        const long = await a.revokeSession(tokenAuth(u.k1), `t${"1".repeat(60)}`);
        if (name === "rest") expect(long).toEqual({ status: 404, body: NO_SUCH_SESSION });
        else expect([long.status, trpcCode(long)]).toEqual([400, "invalid_input"]);
        await expectTokenWorks(s, u.k1);
        await expectJwtWorks(s, u.j2);

        // One's own current session can be ended by id: the next request with it is refused.
        expectDone(await a.revokeSession(bearer(u.j2.access), id(u.ua.j2)));
        await expectJwtEnded(s, u.j2);
        expectDone(await a.revokeSession(tokenAuth(u.k1), id(u.ua.t1)));
        await expectTokenRefused(s, u.k1);
      },
    );

    it("revoke_others by an opaque token: only the caller's session lives", async () => {
      const u = await fourSessions(s, a, `${name}-others-t`);
      expectDone(await a.revokeOthers(tokenAuth(u.k1)));
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
      expectDone(await a.revokeOthers(bearer(u.j1.access)));
      const left = await listOf(a, bearer(u.j1.access));
      expect(left).toHaveLength(1);
      expect(left[0]).toMatchObject({ kind: "jwt", userAgent: u.ua.j1, current: true });
      await expectTokenRefused(s, u.k1);
      await expectTokenRefused(s, u.k2);
      await expectJwtEnded(s, u.j2);
      await expectJwtWorks(s, u.j1);
      const fresh = (await refresh(s, u.j1.refresh)).json.access;
      expect((await s.me(bearer(fresh))).status).toBe(200);
    });

    it(
      "revoke_all by an opaque token or a JWT: " +
        "no session lives, the caller's next request is 401, a new login works",
      async () => {
        const u = await fourSessions(s, a, `${name}-all-t`);
        expectDone(await a.revokeAll(tokenAuth(u.k1)));
        await expectTokenRefused(s, u.k1);
        await expectTokenRefused(s, u.k2);
        await expectJwtEnded(s, u.j1);
        await expectJwtEnded(s, u.j2);
        const afterList = await a.listSessions(tokenAuth(u.k1));
        expect(afterList.status).toBe(401);
        expect(afterList.body).toEqual(INVALID_TOKEN);
        const fresh = await a.tokenLogin(`${name}-all-t`, "after");
        expect((await listOf(a, tokenAuth(fresh))).map((v) => v.userAgent)).toEqual(["after"]);

        const v = await fourSessions(s, a, `${name}-all-j`);
        expectDone(await a.revokeAll(bearer(v.j2.access)));
        for (const key of [v.k1, v.k2]) await expectTokenRefused(s, key);
        for (const pair of [v.j1, v.j2]) await expectJwtEnded(s, pair);
        const jwtList = await a.listSessions(bearer(v.j2.access));
        expect(jwtList.status).toBe(401);
        const freshPair = await a.jwtLogin(`${name}-all-j`, "after");
        expect((await listOf(a, bearer(freshPair.access))).map((x) => [x.userAgent, x.current])).toEqual([
          ["after", true],
        ]);
      },
    );

    it(
      "deleting one's account (with current_password) ends every session: " +
        "the other token and the JWTs are refused",
      async () => {
        const u = await fourSessions(s, a, `${name}-deleter`);
        const wrong = await a.deleteMe(tokenAuth(u.k1), "not-the-password");
        expect(wrong.status).toBe(400);
        expectDone(await a.deleteMe(tokenAuth(u.k1), PW));
        await expectTokenRefused(s, u.k1);
        await expectTokenRefused(s, u.k2);
        for (const pair of [u.j1, u.j2]) {
          const access = await s.me(bearer(pair.access));
          expect(access.status).toBe(401);
          expect(access.json).toEqual(USER_NOT_FOUND);
          const refreshed = await refresh(s, pair.refresh);
          expect(refreshed.status).toBe(401);
          expect(refreshed.json).toEqual(USER_NOT_FOUND);
        }
        // Nothing of theirs is left behind.
        expect(await s.deps.prisma.authToken.count({ where: { userId: u.id } })).toBe(0);
        expect(await s.deps.prisma.jwtSession.count({ where: { userId: u.id } })).toBe(0);
      },
    );
  });
});
