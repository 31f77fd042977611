// The tRPC flows under the settings that shape them: activation mails, per-device tokens, another
// JWT prefix, login by email. Over real HTTP, on PGlite and PostgreSQL.
import { describe, expect, it } from "vitest";
import { bearer, PW, type Server, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { uidToken } from "../../helpers/mail.ts";
import { DATABASES } from "../../helpers/server.ts";
import { failure } from "../../helpers/trpc.ts";

/** Signs `username` up and in through tRPC: the user, the key and a client sending it. */
async function signUpAndIn(s: Server, username: string, email = "") {
  const anon = s.trpc();
  const user = await anon.users.create.mutate({ username, email, password: PW });
  const { auth_token } = await anon.token.login.mutate({ username, password: PW });
  return { user, key: auth_token, as: s.trpc(tokenAuth(auth_token)) };
}

describe.each(DATABASES)("tRPC flows on %s", (kind) => {
  describe("activation on", () => {
    const s = useServer(kind, { DJOSER_SEND_ACTIVATION_EMAIL: "true", DJOSER_SEND_CONFIRMATION_EMAIL: "true" });

    const linkFor = (email: string, nth = 0) => {
      const mail = s.mails().filter((m) => m.to === email && m.subject === "Account activation on Portcullis")[nth];
      expect(mail, `activation mail #${nth} to ${email}`).toBeDefined();
      return uidToken(mail!.links.find((l) => l.includes("/activate/"))!);
    };

    it("create → mail → activate → login; the link again is stale_token", async () => {
      const anon = s.trpc();
      const user = await anon.users.create.mutate({ username: "carol", email: "carol@example.com", password: PW });
      expect(user).toEqual({ email: "carol@example.com", username: "carol", id: expect.any(Number) });
      expect((await failure(anon.token.login.mutate({ username: "carol", password: PW }))).data?.code).toBe(
        "invalid_credentials",
      );

      const link = linkFor("carol@example.com");
      expect(await anon.users.activate.mutate(link)).toBeUndefined();
      expect(s.mails().map((m) => m.subject)).toContain(
        "Portcullis - Your account has been successfully created and activated!",
      );

      const stale = await failure(anon.users.activate.mutate(link));
      expect(stale.data?.code).toBe("stale_token");
      expect(stale.data?.httpStatus).toBe(403);
      expect(stale.message).toBe("Stale token for given user.");

      const { auth_token } = await anon.token.login.mutate({ username: "carol", password: PW });
      expect(await s.trpc(tokenAuth(auth_token)).users.me.query()).toEqual(user);
    });

    it("resendActivation mails again; a tampered link names the field", async () => {
      const anon = s.trpc();
      await anon.users.create.mutate({ username: "dave", email: "dave@example.com", password: PW });
      expect(await anon.users.resendActivation.mutate({ email: "dave@example.com" })).toBeUndefined();
      const second = linkFor("dave@example.com", 1);

      const tampered = await failure(
        anon.users.activate.mutate({
          uid: second.uid,
          token: `${second.token.slice(0, -1)}${second.token.endsWith("0") ? "1" : "0"}`,
        }),
      );
      expect(tampered.data?.code).toBe("invalid_input");
      expect(tampered.data?.fields).toEqual({ token: ["Invalid token for given user."] });
      const noUser = await failure(
        anon.users.activate.mutate({ uid: Buffer.from("424242").toString("base64url"), token: second.token }),
      );
      expect(noUser.data?.fields).toEqual({ uid: ["Invalid user id or user doesn't exist."] });

      expect(await anon.users.activate.mutate(second)).toBeUndefined();
      // An active (or unknown) address is answered like an inactive one: no enumeration.
      expect(await anon.users.resendActivation.mutate({ email: "dave@example.com" })).toBeUndefined();
      const invalidEmail = await failure(anon.users.resendActivation.mutate({ email: "nope" }));
      expect(invalidEmail.data?.fields).toEqual({ email: ["Enter a valid email address."] });
    });
  });

  describe("per_device tokens", () => {
    const s = useServer(kind, { DJOSER_TOKEN_MODE: "per_device" });

    it("logout ends one device, logoutAll ends every device", async () => {
      const anon = s.trpc();
      await anon.users.create.mutate({ username: "ivy", password: PW });
      const keys = [];
      for (let i = 0; i < 3; i++)
        keys.push((await anon.token.login.mutate({ username: "ivy", password: PW })).auth_token);
      expect(new Set(keys).size).toBe(3);
      const [k1, k2, k3] = keys.map((k) => s.trpc(tokenAuth(k)));
      expect(await k1!.token.logout.mutate()).toBeUndefined();
      expect((await failure(k1!.users.me.query())).data?.code).toBe("authentication_failed");
      expect(await k2!.users.me.query()).toMatchObject({ username: "ivy" });
      expect(await k2!.token.logoutAll.mutate()).toEqual({ revoked: 2 });
      for (const c of [k2!, k3!]) expect((await failure(c.users.me.query())).data?.code).toBe("authentication_failed");
    });
  });

  describe('SIMPLE_JWT_AUTH_HEADER_TYPES=["JWT"]', () => {
    const s = useServer(kind, { SIMPLE_JWT_AUTH_HEADER_TYPES: '["JWT"]' });

    it("a key behind Bearer: authorization_scheme_not_accepted naming the schemes", async () => {
      const { key, user } = await signUpAndIn(s, "mia");
      const err = await failure(s.trpc(bearer(key)).users.me.query());
      expect(err.data?.code).toBe("authorization_scheme_not_accepted");
      expect(err.data?.httpStatus).toBe(401);
      expect(err.message).toContain('"Bearer"');
      expect(err.data?.details).toEqual({
        code: "authorization_scheme_not_accepted",
        scheme_received: "Bearer",
        schemes_accepted: ["Token", "JWT"],
      });
      // The raw answer carries the same WWW-Authenticate as the REST adapter's.
      const raw = await fetch(`${s.url}/trpc/users.me`, { headers: { authorization: `Bearer ${key}` } });
      expect(raw.status).toBe(401);
      expect(raw.headers.get("www-authenticate")).toBe('Token, JWT realm="api"');
      const anonymous = await fetch(`${s.url}/trpc/users.me`);
      expect(anonymous.headers.get("www-authenticate")).toBe("Token");
      const logout = await failure(s.trpc(bearer(key)).token.logout.mutate());
      expect(logout.data?.code).toBe("authorization_scheme_not_accepted");
      expect(await s.trpc(tokenAuth(key)).users.me.query()).toEqual({ email: "", id: user.id, username: "mia" });
    });
  });

  describe("USERNAME_FIELD=email", () => {
    const s = useServer(kind, { USERNAME_FIELD: "email" });

    it("creates with email only, refuses a case-variant duplicate, logs in by email", async () => {
      const anon = s.trpc();
      const user = await anon.users.create.mutate({ email: "Nina@Example.com", password: PW });
      expect(user).toEqual({ email: "Nina@example.com", id: expect.any(Number) });
      const dup = await failure(anon.users.create.mutate({ email: "NINA@example.com", password: PW }));
      expect(dup.data?.fields).toEqual({ email: ["user with this email address already exists."] });
      const { auth_token } = await anon.token.login.mutate({ email: "Nina@example.com", password: PW });
      expect(await s.trpc(tokenAuth(auth_token)).users.me.query()).toEqual({
        id: user.id,
        email: "Nina@example.com",
      });
    });
  });
});
