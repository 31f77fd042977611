// Staff and another user's sessions (tRPC only): sessions.listFor and revokeAllFor, and
// users.setActive ending every session of the user at once. Over PGlite and PostgreSQL.
import { beforeAll, describe, expect, it } from "vitest";
import type { SessionView } from "../../../src/core/sessions/list.ts";
import { adapter } from "../../helpers/adapters.ts";
import { bearer, type Pair, PW, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { createStaff, DATABASES } from "../../helpers/server.ts";
import { type Client, caller, failure, trpcClient } from "../../helpers/trpc.ts";
import {
  BLACKLISTED,
  expectJwtEnded,
  expectJwtWorks,
  expectTokenRefused,
  expectTokenWorks,
  fourSessions,
  listOf,
  refresh,
  VIEW_KEYS,
} from "./checks.ts";

const BOSS_PW = "B0ss-Passw0rd!";
const FORBIDDEN_MESSAGE = "You do not have permission to perform this action.";
const USER_INACTIVE = { detail: "User is inactive", code: "user_inactive" };

describe.each(DATABASES)("sessions on %s", (kind) => {
  const s = useServer(kind, { DJOSER_TOKEN_MODE: "per_device" });

  describe("staff (tRPC only)", () => {
    let boss: Client;
    let bossKey: string;
    beforeAll(async () => {
      await createStaff(s, "boss", BOSS_PW, "boss@example.com");
      bossKey = await s.tokenLogin("boss", BOSS_PW);
      boss = trpcClient(s, tokenAuth(bossKey));
    });

    it("sessions.listFor and revokeAllFor another user; the staff's own session lives", async () => {
      const u = await fourSessions(s, adapter("rest", s), "staffed");
      const listed = await boss.sessions.listFor.query({ userId: u.id });
      expect(listed).toHaveLength(4);
      expect(listed.map((v) => v.userAgent).sort()).toEqual(Object.values(u.ua).sort());
      // Listed by someone else: none is "current".
      expect(listed.filter((v) => v.current)).toEqual([]);
      for (const v of listed) expect(Object.keys(v).sort()).toEqual(VIEW_KEYS);
      // The same views the user sees (but for `current`, and lastUsedAt, which the user's own request moves).
      const own = await listOf(adapter("rest", s), tokenAuth(u.k1));
      const comparable = ({ lastUsedAt: _used, current: _current, ...view }: SessionView) => view;
      expect(listed.map(comparable)).toEqual(own.map(comparable));

      expect(await boss.sessions.revokeAllFor.mutate({ userId: u.id })).toBeUndefined();
      for (const key of [u.k1, u.k2]) await expectTokenRefused(s, key);
      for (const pair of [u.j1, u.j2]) await expectJwtEnded(s, pair);
      expect(await boss.sessions.listFor.query({ userId: u.id })).toEqual([]);
      await expectTokenWorks(s, bossKey);
      // They can log in again.
      const again = await s.tokenLogin("staffed");
      expect(await boss.sessions.listFor.query({ userId: u.id })).toHaveLength(1);
      await expectTokenWorks(s, again);
    });

    it("a user with no sessions, or no such user: listFor is empty", async () => {
      const id = await s.signUp("sessionless");
      const inProcess = caller(s, tokenAuth(bossKey)); // procedure logic: the wire adds nothing
      expect(await inProcess.sessions.listFor({ userId: id })).toEqual([]);
      expect(await inProcess.sessions.listFor({ userId: 2_000_000_000 })).toEqual([]);
    });

    // Once a 500 (the user update inside ending the sessions threw Prisma's P2025).
    it("revokeAllFor a user that does not exist is NOT_FOUND", async () => {
      const err = await failure(boss.sessions.revokeAllFor.mutate({ userId: 2_000_000_000 }));
      expect(err.data?.code).toBe("not_found");
      expect(err.data?.httpStatus).toBe(404);
    });

    it(
      "a non-staff caller is FORBIDDEN (permission_denied) from listFor and revokeAllFor, " + "whatever the credential",
      async () => {
        const bossId = (await boss.users.me.query()).id;
        const u = await fourSessions(s, adapter("rest", s), "nosy");
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
      },
    );

    it("users.setActive false ends every session of the user at once; true lets them log in again", async () => {
      const u = await fourSessions(s, adapter("rest", s), "suspended");
      expect(await boss.users.setActive.mutate({ id: u.id, active: false })).toEqual({
        email: "",
        id: u.id,
        username: "suspended",
      });
      for (const key of [u.k1, u.k2]) await expectTokenRefused(s, key);
      for (const pair of [u.j1, u.j2]) {
        const access = await s.me(bearer(pair.access));
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
      await expectTokenWorks(s, await s.tokenLogin("suspended"));
      const pair = (await s.request("POST", "/auth/jwt/create/", { json: { username: "suspended", password: PW } }))
        .json as Pair;
      await expectJwtWorks(s, pair);
      await expectTokenWorks(s, bossKey);
    });

    it("users.setActive: non-staff is FORBIDDEN, an unknown id is NOT_FOUND", async () => {
      const bossId = (await boss.users.me.query()).id;
      const u = await fourSessions(s, adapter("rest", s), "usurper");
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
});
