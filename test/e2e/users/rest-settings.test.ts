// The Djoser REST flows under the settings that shape them: activation mails, retyped passwords,
// HIDE_USERS off, per-device tokens, login by email, other Authorization prefixes. Over PGlite and
// PostgreSQL, through HTTP only.
import { describe, expect, it } from "vitest";
import { PW, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { uidToken } from "../../helpers/mail.ts";
import { DATABASES } from "../../helpers/server.ts";
import { BAD_CREDENTIALS, register, storedValues } from "./rest.ts";

describe.each(DATABASES)("REST flows on %s", (kind) => {
  describe("activation on (SEND_ACTIVATION_EMAIL, SEND_CONFIRMATION_EMAIL)", () => {
    const s = useServer(kind, { DJOSER_SEND_ACTIVATION_EMAIL: "true", DJOSER_SEND_CONFIRMATION_EMAIL: "true" });

    it("register → mail → activation link → 204 → login; the same link again is stale", async () => {
      const created = await register(s, { username: "carol", email: "carol@example.com", password: PW });
      expect(created).toEqual({ email: "carol@example.com", username: "carol", id: expect.any(Number) });
      // Inactive until activated.
      expect(
        (await s.request("POST", "/auth/token/login/", { json: { username: "carol", password: PW } })).json,
      ).toEqual(BAD_CREDENTIALS);

      const mails = s.mails().filter((m) => m.to === "carol@example.com");
      expect(mails).toHaveLength(1);
      expect(mails[0]!.subject).toBe("Account activation on Portcullis");
      const link = mails[0]!.links.find((l) => l.includes("/activate/"));
      expect(link).toMatch(/^http:\/\/localhost:8000\/#\/activate\/[A-Za-z0-9_-]+\/[0-9a-z]+-[0-9a-f]{32}$/);
      const { uid, token } = uidToken(link!);
      expect(Buffer.from(uid, "base64url").toString()).toBe(String(created.id));

      const activated = await s.request("POST", "/auth/users/activation/", { json: { uid, token } });
      expect(activated.status).toBe(204);
      expect(activated.text).toBe("");

      const confirmation = s.mails().filter((m) => m.to === "carol@example.com");
      expect(confirmation).toHaveLength(2);
      expect(confirmation[1]!.subject).toBe("Portcullis - Your account has been successfully created and activated!");

      const again = await s.request("POST", "/auth/users/activation/", { json: { uid, token } });
      expect(again.status).toBe(403);
      expect(again.json).toEqual({ detail: "Stale token for given user." });

      const key = await s.tokenLogin("carol");
      expect((await s.me(tokenAuth(key))).json).toEqual(created);

      // As in Django, the link's hash covers last_login: once the user has logged in, the old link
      // is no longer a valid token at all (Djoser checks the token before staleness).
      const afterLogin = await s.request("POST", "/auth/users/activation/", { json: { uid, token } });
      expect(afterLogin.status).toBe(400);
      expect(afterLogin.json).toEqual({ token: ["Invalid token for given user."] });
    });

    it(
      "resend_activation mails an inactive user again; " + "active or unknown emails get the same 204 and no mail",
      async () => {
        await register(s, { username: "dave", email: "dave@example.com", password: PW });
        expect(s.mails().filter((m) => m.to === "dave@example.com")).toHaveLength(1);
        const resent = await s.request("POST", "/auth/users/resend_activation/", {
          json: { email: "dave@example.com" },
        });
        expect(resent.status).toBe(204);
        const mails = s.mails().filter((m) => m.to === "dave@example.com");
        expect(mails).toHaveLength(2);
        expect(mails[1]!.subject).toBe("Account activation on Portcullis");
        // The resent link activates.
        const link = mails[1]!.links.find((l) => l.includes("/activate/"))!;
        expect((await s.request("POST", "/auth/users/activation/", { json: uidToken(link) })).status).toBe(204);
        await s.tokenLogin("dave");

        // Djoser's empty 400 here would tell anyone which addresses have accounts (see SECURITY.md).
        const before = s.mails().length;
        for (const email of ["dave@example.com", "nobody@example.com"]) {
          const res = await s.request("POST", "/auth/users/resend_activation/", { json: { email } });
          expect(res.status).toBe(204);
          expect(res.text).toBe("");
        }
        expect(s.mails()).toHaveLength(before);
        const invalid = await s.request("POST", "/auth/users/resend_activation/", { json: { email: "not an email" } });
        expect(invalid.status).toBe(400);
        expect(invalid.json).toEqual({ email: ["Enter a valid email address."] });
      },
    );

    it("refuses tampered links with the field that is wrong", async () => {
      const u = await register(s, { username: "erin", email: "erin@example.com", password: PW });
      const link = s
        .mails()
        .find((m) => m.to === "erin@example.com")!
        .links.find((l) => l.includes("/activate/"))!;
      const { uid, token } = uidToken(link);
      const badToken = await s.request("POST", "/auth/users/activation/", {
        json: { uid, token: token.replace(/.$/, (c) => (c === "0" ? "1" : "0")) },
      });
      expect(badToken.status).toBe(400);
      expect(badToken.json).toEqual({ token: ["Invalid token for given user."] });
      const badUid = await s.request("POST", "/auth/users/activation/", {
        json: { uid: Buffer.from("999999").toString("base64url"), token },
      });
      expect(badUid.status).toBe(400);
      expect(badUid.json).toEqual({ uid: ["Invalid user id or user doesn't exist."] });
      const missing = await s.request("POST", "/auth/users/activation/", { json: {} });
      expect(missing.json).toEqual({ uid: ["This field is required."], token: ["This field is required."] });
      // Still inactive, the genuine link still works.
      expect((await s.request("POST", "/auth/token/login/", { json: { username: "erin", password: PW } })).status).toBe(
        400,
      );
      expect((await s.request("POST", "/auth/users/activation/", { json: { uid, token } })).status).toBe(204);
      expect(u.id).toBeGreaterThan(0);
    });
  });

  describe("USER_CREATE_PASSWORD_RETYPE on", () => {
    const s = useServer(kind, { DJOSER_USER_CREATE_PASSWORD_RETYPE: "true" });

    it("requires re_password, refuses a mismatch, accepts a match", async () => {
      const missing = await s.request("POST", "/auth/users/", { json: { username: "frank", password: PW } });
      expect(missing.status).toBe(400);
      expect(missing.json).toEqual({ re_password: ["This field is required."] });
      const mismatch = await s.request("POST", "/auth/users/", {
        json: { username: "frank", password: PW, re_password: `${PW}x` },
      });
      expect(mismatch.status).toBe(400);
      expect(mismatch.json).toEqual({ non_field_errors: ["The two password fields didn't match."] });
      const created = await register(s, { username: "frank", password: PW, re_password: PW });
      expect(created).toEqual({ email: "", username: "frank", id: expect.any(Number) });
      await s.tokenLogin("frank");
    });
  });

  describe("HIDE_USERS off", () => {
    const s = useServer(kind, { DJOSER_HIDE_USERS: "false" });

    it("another user is forbidden (403), and the list shows everyone", async () => {
      const gina = await register(s, { username: "gina", password: PW });
      const hank = await register(s, { username: "hank", password: PW });
      const key = await s.tokenLogin("hank");
      const get = await s.request("GET", `/auth/users/${gina.id}/`, { headers: tokenAuth(key) });
      expect(get.status).toBe(403);
      expect(get.json).toEqual({ detail: "You do not have permission to perform this action." });
      expect(
        (
          await s.request("PATCH", `/auth/users/${gina.id}/`, {
            headers: tokenAuth(key),
            json: { email: "x@example.com" },
          })
        ).status,
      ).toBe(403);
      const list = await s.request("GET", "/auth/users/", { headers: tokenAuth(key) });
      expect(list.json).toEqual([
        { email: "", id: gina.id, username: "gina" },
        { email: "", id: hank.id, username: "hank" },
      ]);
      expect((await s.request("GET", "/auth/users/999999/", { headers: tokenAuth(key) })).status).toBe(404);
    });
  });

  describe("DJOSER_TOKEN_MODE=per_device", () => {
    const s = useServer(kind, { DJOSER_TOKEN_MODE: "per_device" });

    it("two logins → two keys; logging one out leaves the other working; no key stored", async () => {
      await register(s, { username: "ivy", password: PW });
      const laptop = await s.tokenLogin("ivy");
      const phone = await s.tokenLogin("ivy");
      expect(phone).not.toBe(laptop);
      const values = await storedValues(s);
      expect(values.filter((v) => v.includes(laptop) || v.includes(phone))).toEqual([]);

      for (const key of [laptop, phone]) expect((await s.me(tokenAuth(key))).json.username).toBe("ivy");
      expect((await s.request("POST", "/auth/token/logout/", { headers: tokenAuth(laptop) })).status).toBe(204);
      const gone = await s.me(tokenAuth(laptop));
      expect(gone.status).toBe(401);
      expect(gone.json).toEqual({ detail: "Invalid token." });
      expect((await s.me(tokenAuth(phone))).status).toBe(200);
    });
  });

  describe("USERNAME_FIELD=email (custom user model)", () => {
    const s = useServer(kind, { USERNAME_FIELD: "email" });

    it("registers with email and password only, case-insensitively unique, logs in with email", async () => {
      const created = await s.request("POST", "/auth/users/", { json: { email: "Jane@Example.com", password: PW } });
      expect(created.status).toBe(201);
      expect(created.json).toEqual({ email: "Jane@example.com", id: expect.any(Number) });

      for (const email of ["Jane@example.com", "jane@EXAMPLE.com", "JANE@example.com"]) {
        const dup = await s.request("POST", "/auth/users/", { json: { email, password: PW } });
        expect(dup.status, email).toBe(400);
        expect(dup.json).toEqual({ email: ["user with this email address already exists."] });
      }
      const noEmail = await s.request("POST", "/auth/users/", { json: { username: "jane", password: PW } });
      expect(noEmail.status).toBe(400);
      expect(noEmail.json).toEqual({ email: ["This field is required."] });

      const key = await s.tokenLogin("Jane@example.com");
      const me = await s.me(tokenAuth(key));
      expect(me.status).toBe(200);
      expect(Object.keys(me.json)).toEqual(["id", "email"]);
      expect(me.json).toEqual({ id: created.json.id, email: "Jane@example.com" });

      // A username is not a login here.
      const byUsername = await s.request("POST", "/auth/token/login/", {
        json: { username: "Jane@example.com", password: PW },
      });
      expect(byUsername.json).toEqual(BAD_CREDENTIALS);
    });
  });

  describe("LOGIN_FIELD=email with USERNAME_FIELD=username", () => {
    const s = useServer(kind, { DJOSER_LOGIN_FIELD: "email" });

    it("logs in with the email; the username no longer works as a login", async () => {
      const created = await register(s, { username: "kate", email: "kate@example.com", password: PW });
      const key = await s.tokenLogin("kate@example.com");
      expect((await s.me(tokenAuth(key))).json).toEqual({
        email: "kate@example.com",
        id: created.id,
        username: "kate",
      });
      const byUsername = await s.request("POST", "/auth/token/login/", { json: { username: "kate", password: PW } });
      expect(byUsername.status).toBe(400);
      expect(byUsername.json).toEqual(BAD_CREDENTIALS);
    });
  });

  describe('TOKEN_AUTH_HEADER_TYPES=["Token","Bearer"]', () => {
    const s = useServer(kind, { TOKEN_AUTH_HEADER_TYPES: '["Token","Bearer"]' });

    it("accepts a key behind Bearer on /me and on logout", async () => {
      const created = await register(s, { username: "leo", password: PW });
      const key = await s.tokenLogin("leo");
      const me = await s.request("GET", "/auth/users/me/", { headers: { authorization: `Bearer ${key}` } });
      expect(me.status).toBe(200);
      expect(me.json).toEqual({ email: "", id: created.id, username: "leo" });
      const out = await s.request("POST", "/auth/token/logout/", { headers: { authorization: `Bearer ${key}` } });
      expect(out.status).toBe(204);
      expect((await s.me(tokenAuth(key))).status).toBe(401);
    });
  });

  describe('SIMPLE_JWT_AUTH_HEADER_TYPES=["JWT"]', () => {
    const s = useServer(kind, { SIMPLE_JWT_AUTH_HEADER_TYPES: '["JWT"]' });

    it("a key behind Bearer is refused naming Bearer and the accepted schemes", async () => {
      await register(s, { username: "mia", password: PW });
      const key = await s.tokenLogin("mia");
      for (const [method, path] of [
        ["GET", "/auth/users/me/"],
        ["POST", "/auth/token/logout/"],
      ] as const) {
        const res = await s.request(method, path, { headers: { authorization: `Bearer ${key}` } });
        expect(res.status).toBe(401);
        expect(res.json).toMatchObject({
          code: "authorization_scheme_not_accepted",
          scheme_received: "Bearer",
          schemes_accepted: ["Token", "JWT"],
        });
        expect(res.json.detail).toContain('"Bearer"');
        expect(res.json.detail).toContain('"Token", "JWT"');
        expect(res.headers.get("www-authenticate")).toBe('Token, JWT realm="api"');
      }
      // Nothing was logged out.
      expect((await s.me(tokenAuth(key))).status).toBe(200);
    });
  });
});
