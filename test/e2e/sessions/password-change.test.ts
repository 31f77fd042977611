// Sessions after a password change or reset, for every combination of Djoser's
// LOGOUT_ON_PASSWORD_CHANGE and Portcullis's PASSWORD_CHANGE_ENDS_SESSIONS: which opaque tokens
// (per-device, so a user has several) and which JWT sessions (refresh and access) still work.
// Through REST and the typed tRPC client, on PGlite and PostgreSQL.
import { createHash, randomBytes } from "node:crypto";
import { createTRPCClient, httpLink } from "@trpc/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppRouter } from "../../../src/trpc/router.ts";
import { uidToken } from "../../helpers/mail.ts";
import { DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";

const PW = "Kq7!vLp2#Zx9";
const NEW_PW = "Vb4$nQ8&wT3m";
const INVALID_TOKEN = { detail: "Invalid token." };
const REFRESH_BLACKLISTED = { detail: "Token is blacklisted", code: "token_not_valid" };
const ACCESS_BLACKLISTED = {
  detail: "Given token not valid for any token type",
  code: "token_not_valid",
  messages: [{ token_class: "AccessToken", token_type: "access", message: "Token is blacklisted" }],
};
const SIGNED_OUT = "Your sessions on other devices have been signed out";
const ALL_SIGNED_OUT = "Every session, on every device, has been signed out";
const CHANGED = "Portcullis - Your password has been successfully changed!";

type Pair = { refresh: string; access: string };
/** A user signed in three times with opaque tokens and three times with JWTs. */
type Sessions = { username: string; keys: string[]; jwts: Pair[] };

async function signIn(s: TestServer, username: string): Promise<Sessions> {
  const created = await s.request("POST", "/auth/users/", {
    json: { username, email: `${username}@example.com`, password: PW },
  });
  expect(created.status, created.text).toBe(201);
  const keys: string[] = [];
  const jwts: Pair[] = [];
  for (let i = 0; i < 3; i++) {
    keys.push((await s.request("POST", "/auth/token/login/", { json: { username, password: PW } })).json.auth_token);
    jwts.push((await s.request("POST", "/auth/jwt/create/", { json: { username, password: PW } })).json);
  }
  expect(new Set(keys).size).toBe(3);
  return { username, keys, jwts };
}

async function expectTokenWorks(s: TestServer, key: string, works: boolean) {
  const res = await s.request("GET", "/auth/users/me/", { headers: { authorization: `Token ${key}` } });
  expect([res.status, res.json], `Token ${key.slice(0, 8)}…`).toEqual(
    works ? [200, expect.objectContaining({ id: expect.any(Number) })] : [401, INVALID_TOKEN],
  );
}

async function expectJwtWorks(s: TestServer, pair: Pair, works: boolean) {
  const me = await s.request("GET", "/auth/users/me/", { headers: { authorization: `Bearer ${pair.access}` } });
  expect([me.status, me.json], "access").toEqual(
    works ? [200, expect.objectContaining({ id: expect.any(Number) })] : [401, ACCESS_BLACKLISTED],
  );
  const refreshed = await s.request("POST", "/auth/jwt/refresh/", { json: { refresh: pair.refresh } });
  expect([refreshed.status, refreshed.json], "refresh").toEqual(
    works ? [200, { access: expect.any(String) }] : [401, REFRESH_BLACKLISTED],
  );
  if (works)
    expect(
      (await s.request("GET", "/auth/users/me/", { headers: { authorization: `Bearer ${refreshed.json.access}` } }))
        .status,
    ).toBe(200);
}

/** Each of the user's sessions, checked against what should still work. */
async function expectSessions(s: TestServer, u: Sessions, tokens: boolean[], jwts: boolean[]) {
  for (const [i, key] of u.keys.entries()) await expectTokenWorks(s, key, tokens[i]!);
  for (const [i, pair] of u.jwts.entries()) await expectJwtWorks(s, pair, jwts[i]!);
}

async function setPassword(s: TestServer, authorization: string) {
  const res = await s.request("POST", "/auth/users/set_password/", {
    headers: { authorization },
    json: { new_password: NEW_PW, current_password: PW },
  });
  expect([res.status, res.text]).toEqual([204, ""]);
}

async function resetPassword(s: TestServer, username: string) {
  expect(
    (await s.request("POST", "/auth/users/reset_password/", { json: { email: `${username}@example.com` } })).status,
  ).toBe(204);
  const mail = s
    .mails()
    .find((m) => m.to === `${username}@example.com` && m.subject === "Password reset on Portcullis");
  const res = await s.request("POST", "/auth/users/reset_password_confirm/", {
    json: { ...uidToken(mail!.links[0]!), new_password: NEW_PW },
  });
  expect([res.status, res.text]).toEqual([204, ""]);
}

/** After any change, a new login with the new password works, by token and by JWT. */
async function expectNewLoginsWork(s: TestServer, username: string) {
  const key = (await s.request("POST", "/auth/token/login/", { json: { username, password: NEW_PW } })).json.auth_token;
  await expectTokenWorks(s, key, true);
  const pair = (await s.request("POST", "/auth/jwt/create/", { json: { username, password: NEW_PW } })).json;
  await expectJwtWorks(s, pair, true);
}

const changedMail = (s: TestServer, username: string) => {
  const mails = s.mails().filter((m) => m.to === `${username}@example.com` && m.subject === CHANGED);
  expect(mails).toHaveLength(1);
  return mails[0]!.text;
};

const trpc = (s: TestServer, authorization: string) =>
  createTRPCClient<AppRouter>({ links: [httpLink({ url: `${s.url}/trpc`, headers: { authorization } })] });

const ALL = [true, true, true];
const NONE = [false, false, false];
const ONLY_FIRST = [true, false, false];

describe.each(DATABASES)("sessions after a password change on %s", (kind) => {
  const base = { DJOSER_TOKEN_MODE: "per_device", DJOSER_PASSWORD_CHANGED_EMAIL_CONFIRMATION: "true" };

  describe("PASSWORD_CHANGE_ENDS_SESSIONS on (the default), LOGOUT_ON_PASSWORD_CHANGE off", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, base);
    });
    afterAll(async () => s?.stop());

    it(
      "set_password by opaque token: that token keeps working; " +
        "every other token and every JWT session (refresh and access) is refused",
      async () => {
        const u = await signIn(s, "bytoken");
        await setPassword(s, `Token ${u.keys[0]}`);
        await expectSessions(s, u, ONLY_FIRST, NONE);
        await expectNewLoginsWork(s, u.username);
      },
    );

    it(
      "set_password by JWT: that session (access and refresh) keeps working; " +
        "every other JWT session and every opaque token is refused",
      async () => {
        const u = await signIn(s, "byjwt");
        await setPassword(s, `Bearer ${u.jwts[0]!.access}`);
        await expectSessions(s, u, NONE, ONLY_FIRST);
        await expectNewLoginsWork(s, u.username);
      },
    );

    it("tRPC setPassword ends the other sessions likewise", async () => {
      const u = await signIn(s, "viatrpc");
      expect(
        await trpc(s, `Token ${u.keys[0]}`).users.setPassword.mutate({ new_password: NEW_PW, current_password: PW }),
      ).toBeUndefined();
      await expectSessions(s, u, ONLY_FIRST, NONE);
    });

    it("the password-changed mail says the other sessions were signed out", async () => {
      const u = await signIn(s, "toldabout");
      await setPassword(s, `Token ${u.keys[0]}`);
      expect(changedMail(s, u.username)).toContain(SIGNED_OUT);
    });

    it("reset_password_confirm ends every session, opaque and JWT, and the mail says every one", async () => {
      const u = await signIn(s, "resetall");
      await resetPassword(s, u.username);
      await expectSessions(s, u, NONE, NONE);
      expect(changedMail(s, u.username)).toContain(ALL_SIGNED_OUT);
      await expectNewLoginsWork(s, u.username);
    });
  });

  describe("PASSWORD_CHANGE_ENDS_SESSIONS and LOGOUT_ON_PASSWORD_CHANGE on", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, { ...base, DJOSER_LOGOUT_ON_PASSWORD_CHANGE: "true" });
    });
    afterAll(async () => s?.stop());

    it(
      "set_password by opaque token ends the caller's token too, and every JWT session; " + "the mail says every one",
      async () => {
        const u = await signIn(s, "bytoken");
        await setPassword(s, `Token ${u.keys[0]}`);
        await expectSessions(s, u, NONE, NONE);
        expect(changedMail(s, u.username)).toContain(ALL_SIGNED_OUT);
        await expectNewLoginsWork(s, u.username);
      },
    );

    it("set_password by JWT ends the caller's JWT session too, and every opaque token", async () => {
      const u = await signIn(s, "byjwt");
      await setPassword(s, `Bearer ${u.jwts[0]!.access}`);
      await expectSessions(s, u, NONE, NONE);
      await expectNewLoginsWork(s, u.username);
    });
  });

  describe("PASSWORD_CHANGE_ENDS_SESSIONS off, LOGOUT_ON_PASSWORD_CHANGE on (Djoser's behaviour)", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, {
        ...base,
        DJOSER_LOGOUT_ON_PASSWORD_CHANGE: "true",
        DJOSER_PASSWORD_CHANGE_ENDS_SESSIONS: "false",
      });
    });
    afterAll(async () => s?.stop());

    it(
      "set_password by opaque token revokes every opaque token, the caller's included; " +
        "every JWT session stays alive",
      async () => {
        const u = await signIn(s, "bytoken");
        await setPassword(s, `Token ${u.keys[0]}`);
        await expectSessions(s, u, NONE, ALL);
        await expectNewLoginsWork(s, u.username);
      },
    );

    it(
      "set_password by JWT revokes every opaque token; " + "every JWT session, the caller's included, stays alive",
      async () => {
        const u = await signIn(s, "byjwt");
        await setPassword(s, `Bearer ${u.jwts[0]!.access}`);
        await expectSessions(s, u, NONE, ALL);
      },
    );

    it("the password-changed mail does not claim the other sessions were signed out", async () => {
      const u = await signIn(s, "nottold");
      await setPassword(s, `Token ${u.keys[0]}`);
      const text = changedMail(s, u.username);
      expect(text).toContain("Your password has been changed!");
      expect(text).not.toContain("signed out");
    });

    it("reset_password_confirm leaves every session alive (Djoser logs nobody out on a reset)", async () => {
      const u = await signIn(s, "resetkeeps");
      await resetPassword(s, u.username);
      await expectSessions(s, u, ALL, ALL);
      expect(changedMail(s, u.username)).not.toContain("signed out");
    });
  });

  describe("PASSWORD_CHANGE_ENDS_SESSIONS and LOGOUT_ON_PASSWORD_CHANGE off", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, { ...base, DJOSER_PASSWORD_CHANGE_ENDS_SESSIONS: "false" });
    });
    afterAll(async () => s?.stop());

    it("set_password by opaque token leaves every session alive", async () => {
      const u = await signIn(s, "bytoken");
      await setPassword(s, `Token ${u.keys[0]}`);
      await expectSessions(s, u, ALL, ALL);
      expect(changedMail(s, u.username)).not.toContain("signed out");
    });

    it("set_password by JWT leaves every session alive", async () => {
      const u = await signIn(s, "byjwt");
      await setPassword(s, `Bearer ${u.jwts[0]!.access}`);
      await expectSessions(s, u, ALL, ALL);
    });

    it("reset_password_confirm leaves every session alive", async () => {
      const u = await signIn(s, "resetkeeps");
      await resetPassword(s, u.username);
      await expectSessions(s, u, ALL, ALL);
      await expectNewLoginsWork(s, u.username);
    });
  });
  describe(
    "shared key (Djoser's TOKEN_MODE), PASSWORD_CHANGE_ENDS_SESSIONS on: " + "every device holds the caller's key",
    () => {
      let s: TestServer;
      beforeAll(async () => {
        s = await startTestServer(kind, { DJOSER_PASSWORD_CHANGED_EMAIL_CONFIRMATION: "true" });
      });
      afterAll(async () => s?.stop());

      /** One key, as Djoser hands it to every device (two logins), and one JWT session. */
      async function sharedSignIn(username: string) {
        expect(
          (
            await s.request("POST", "/auth/users/", {
              json: { username, email: `${username}@example.com`, password: PW },
            })
          ).status,
        ).toBe(201);
        const key = (await s.request("POST", "/auth/token/login/", { json: { username, password: PW } })).json
          .auth_token;
        expect(
          (await s.request("POST", "/auth/token/login/", { json: { username, password: PW } })).json.auth_token,
        ).toBe(key);
        const jwt: Pair = (await s.request("POST", "/auth/jwt/create/", { json: { username, password: PW } })).json;
        return { key, jwt };
      }

      it("REST set_password (204) ends the shared key on every device; token/login hands out the new key", async () => {
        const { key, jwt } = await sharedSignIn("sharedrest");
        await setPassword(s, `Token ${key}`);
        await expectTokenWorks(s, key, false);
        await expectJwtWorks(s, jwt, false);
        const fresh = (
          await s.request("POST", "/auth/token/login/", { json: { username: "sharedrest", password: NEW_PW } })
        ).json.auth_token;
        expect(fresh).not.toBe(key);
        await expectTokenWorks(s, fresh, true);
        expect(changedMail(s, "sharedrest")).toContain(SIGNED_OUT);
      });

      it(
        "tRPC setPassword returns the caller's new key: " + "it works, the old one (every device's) is refused",
        async () => {
          const { key } = await sharedSignIn("sharedtrpc");
          const answer = await trpc(s, `Token ${key}`).users.setPassword.mutate({
            new_password: NEW_PW,
            current_password: PW,
          });
          expect(answer).toEqual({ auth_token: expect.stringMatching(/^[0-9a-f]{40}$/) });
          await expectTokenWorks(s, key, false);
          await expectTokenWorks(s, answer!.auth_token, true);
          // The same key a login with the new password hands out.
          expect(
            (await s.request("POST", "/auth/token/login/", { json: { username: "sharedtrpc", password: NEW_PW } })).json
              .auth_token,
          ).toBe(answer!.auth_token);
        },
      );

      it(
        "a DRF key imported from Django (Djoser's one key, on every device) " +
          "ends with the others too; tRPC hands a new one",
        async () => {
          const { jwt } = await sharedSignIn("imported");
          const user = await s.deps.prisma.user.findUniqueOrThrow({ where: { username: "imported" } });
          // What `portcullis import-django` writes for a DRF key: its hash, shared: false.
          const drfKey = randomBytes(20).toString("hex");
          await s.deps.prisma.authToken.create({
            data: { userId: user.id, keyHash: createHash("sha256").update(drfKey).digest("hex") },
          });
          await expectTokenWorks(s, drfKey, true);
          const answer = await trpc(s, `Token ${drfKey}`).users.setPassword.mutate({
            new_password: NEW_PW,
            current_password: PW,
          });
          expect(answer).toEqual({ auth_token: expect.stringMatching(/^[0-9a-f]{40}$/) });
          await expectTokenWorks(s, drfKey, false);
          await expectJwtWorks(s, jwt, false);
          await expectTokenWorks(s, answer!.auth_token, true);
        },
      );

      it(
        "revoke_others by the shared key: REST 204 and the old key refused; " + "tRPC revokeOthers returns the new key",
        async () => {
          const { key, jwt } = await sharedSignIn("sharedothers");
          const res = await s.request("POST", "/auth/sessions/revoke_others/", {
            headers: { authorization: `Token ${key}` },
          });
          expect([res.status, res.text]).toEqual([204, ""]);
          await expectTokenWorks(s, key, false);
          await expectJwtWorks(s, jwt, false);
          const again = (
            await s.request("POST", "/auth/token/login/", { json: { username: "sharedothers", password: PW } })
          ).json.auth_token;
          await expectTokenWorks(s, again, true);
          const answer = await trpc(s, `Token ${again}`).sessions.revokeOthers.mutate();
          expect(answer).toEqual({ auth_token: expect.stringMatching(/^[0-9a-f]{40}$/) });
          await expectTokenWorks(s, again, false);
          await expectTokenWorks(s, answer!.auth_token, true);
        },
      );
    },
  );
});
