// Djoser's shared key (TOKEN_MODE=shared) as a session: one for every device, so ending it ends it
// everywhere and the next login hands out a new one. Through REST and tRPC, on PGlite and PostgreSQL.
import { describe, expect, it } from "vitest";
import { ADAPTERS, adapter, expectDone } from "../../helpers/adapters.ts";
import { bearer, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { DATABASES } from "../../helpers/server.ts";
import { expectJwtEnded, expectJwtWorks, expectTokenRefused, expectTokenWorks, listOf } from "./checks.ts";

describe.each(DATABASES)("sessions with Djoser's shared key (TOKEN_MODE=shared) on %s", (kind) => {
  const s = useServer(kind);

  describe.each(ADAPTERS)("through %s", (name) => {
    const a = adapter(name, s);

    it(
      "the shared key is one session; " + "revoking it by id ends the key for good: the next login gets a new one",
      async () => {
        const username = `${name}-shared`;
        await s.signUp(username);
        const key = await a.tokenLogin(username, "first device");
        expect(await a.tokenLogin(username, "second device")).toBe(key);
        const views = await listOf(a, tokenAuth(key));
        expect(views.map((v) => [v.kind, v.userAgent, v.current])).toEqual([["token", "first device", true]]);
        expectDone(await a.revokeSession(tokenAuth(key), views[0]!.id));
        await expectTokenRefused(s, key);
        const next = await a.tokenLogin(username, "after");
        expect(next).not.toBe(key);
        await expectTokenRefused(s, key);
        await expectTokenWorks(s, next);
      },
    );

    it(
      "revoke_others on the shared key ends it on every device: " +
        "the caller gets a new one (tRPC returns it, REST's next login hands it out); " +
        "from a JWT it ends the key",
      async () => {
        const username = `${name}-keeper`;
        await s.signUp(username);
        const old = await a.tokenLogin(username, "keeper");
        const pair = await a.jwtLogin(username, "keeper jwt");
        const res = await a.revokeOthers(tokenAuth(old));
        await expectJwtEnded(s, pair);
        await expectTokenRefused(s, old);
        const given = name === "trpc" ? (res.body as { auth_token: string }).auth_token : undefined;
        if (name === "rest") expectDone(res);
        else expect([res.status, res.body]).toEqual([200, { auth_token: expect.stringMatching(/^[0-9a-f]{40}$/) }]);
        const key = await a.tokenLogin(username, "again");
        expect(key).not.toBe(old);
        if (given) expect(key).toBe(given);
        await expectTokenWorks(s, key);

        const other = await a.jwtLogin(username, "other jwt");
        expectDone(await a.revokeOthers(bearer(other.access)));
        await expectTokenRefused(s, key);
        await expectJwtWorks(s, other);
        const fresh = await a.tokenLogin(username, "fresh");
        expect(fresh).not.toBe(key);
        await expectTokenWorks(s, fresh);
      },
    );
  });
});
