// The Djoser REST flows end to end: a real server on a free port, over PGlite and PostgreSQL,
// driven only through HTTP (plus one look at the stored token rows, to prove keys are hashed).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uidToken } from "../../helpers/mail.ts";
import { rawRequest } from "../../helpers/raw-http.ts";
import { createStaff, DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";

const PW = "Kq7!vLp2#Zx9";
const BAD_CREDENTIALS = { non_field_errors: ["Unable to log in with provided credentials."] };
const tokenHeader = (key: string) => ({ authorization: `Token ${key}` });

async function register(s: TestServer, body: Record<string, unknown>) {
  const res = await s.request("POST", "/auth/users/", { json: body });
  expect(res.status, res.text).toBe(201);
  return res.json as { id: number; email: string; username?: string };
}

async function login(s: TestServer, body: Record<string, unknown>): Promise<string> {
  const res = await s.request("POST", "/auth/token/login/", { json: body });
  expect(res.status, res.text).toBe(200);
  expect(Object.keys(res.json)).toEqual(["auth_token"]);
  expect(res.json.auth_token).toMatch(/^[0-9a-f]{40}$/);
  return res.json.auth_token;
}

/** Every value of every row of both tables, as text: a key must appear in none of them. */
async function storedValues(s: TestServer): Promise<string[]> {
  const rows = [
    ...(await s.deps.prisma.$queryRawUnsafe<Record<string, unknown>[]>("SELECT * FROM auth_token")),
    ...(await s.deps.prisma.$queryRawUnsafe<Record<string, unknown>[]>("SELECT * FROM auth_user")),
  ];
  return rows.flatMap((r) => Object.values(r).map((v) => (v instanceof Date ? v.toISOString() : String(v))));
}

describe.each(DATABASES)("REST flows on %s", (kind) => {
  describe("Djoser's defaults (no activation mail, active at once, HIDE_USERS on)", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind);
    });
    afterAll(async () => s?.stop());

    it("registers an active user without sending mail, and logs in", async () => {
      const created = await register(s, { username: "alice", email: "alice@Example.COM", password: PW });
      expect(created).toEqual({ email: "alice@example.com", username: "alice", id: expect.any(Number) });
      expect(s.mails()).toEqual([]);
      const key = await login(s, { username: "alice", password: PW });
      const me = await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) });
      expect(me.status).toBe(200);
      expect(me.json).toEqual({ email: "alice@example.com", id: created.id, username: "alice" });
    });

    it("refuses a duplicate username and weak passwords with Django's messages", async () => {
      await register(s, { username: "dup", password: PW });
      const again = await s.request("POST", "/auth/users/", { json: { username: "dup", password: PW } });
      expect(again.status).toBe(400);
      expect(again.json).toEqual({ username: ["A user with that username already exists."] });
      const weak = await s.request("POST", "/auth/users/", { json: { username: "weakling", password: "12345678" } });
      expect(weak.status).toBe(400);
      expect(weak.json).toEqual({ password: ["This password is too common.", "This password is entirely numeric."] });
      const missing = await s.request("POST", "/auth/users/", { json: {} });
      expect(missing.status).toBe(400);
      expect(missing.json).toEqual({ username: ["This field is required."], password: ["This field is required."] });
    });

    it("ignores re_password when USER_CREATE_PASSWORD_RETYPE is off", async () => {
      const created = await register(s, { username: "noretype", password: PW, re_password: "something else" });
      expect(created.username).toBe("noretype");
      await login(s, { username: "noretype", password: PW });
    });

    it("shared token mode: the same key on every login, a new one after logout", async () => {
      await register(s, { username: "shared", password: PW });
      const first = await login(s, { username: "shared", password: PW });
      const second = await login(s, { username: "shared", password: PW });
      expect(second).toBe(first);

      const out = await s.request("POST", "/auth/token/logout/", { headers: tokenHeader(first) });
      expect(out.status).toBe(204);
      expect(out.text).toBe("");
      const stale = await s.request("GET", "/auth/users/me/", { headers: tokenHeader(first) });
      expect(stale.status).toBe(401);
      expect(stale.json).toEqual({ detail: "Invalid token." });
      expect(stale.headers.get("www-authenticate")).toBe("Token");

      const third = await login(s, { username: "shared", password: PW });
      expect(third).not.toBe(first);
      expect((await s.request("GET", "/auth/users/me/", { headers: tokenHeader(third) })).json.username).toBe("shared");
    });

    it("concurrent registrations of one username: the database decides, one 201 and the rest Django's 400", async () => {
      const body = { username: "racer", password: PW };
      const results = await Promise.all(
        Array.from({ length: 12 }, () => s.request("POST", "/auth/users/", { json: body })),
      );
      expect(results.filter((r) => r.status === 201)).toHaveLength(1);
      for (const r of results.filter((r) => r.status !== 201))
        expect(r.json).toEqual({ username: ["A user with that username already exists."] });
    });

    it("concurrent logins in shared mode all get the one key", async () => {
      await register(s, { username: "crowd", password: PW });
      const keys = await Promise.all(Array.from({ length: 8 }, () => login(s, { username: "crowd", password: PW })));
      expect(new Set(keys).size).toBe(1);
    });

    it("never stores a key in plaintext", async () => {
      await register(s, { username: "hashed", password: PW });
      const key = await login(s, { username: "hashed", password: PW });
      const values = await storedValues(s);
      expect(values.length).toBeGreaterThan(0);
      expect(values.filter((v) => v.includes(key))).toEqual([]);
      // …and the key still authenticates, so it was issued, just not kept.
      expect((await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) })).status).toBe(200);
    });

    it("refuses wrong credentials with one message", async () => {
      await register(s, { username: "creds", password: PW });
      for (const body of [
        { username: "creds", password: "wrong-password" },
        { username: "nobody", password: PW },
        { username: "creds" },
        {},
      ]) {
        const res = await s.request("POST", "/auth/token/login/", { json: body });
        expect(res.status).toBe(400);
        expect(res.json).toEqual(BAD_CREDENTIALS);
      }
    });

    it("a blank login field is DRF's blank-field error, as Djoser's serializer answers", async () => {
      const res = await s.request("POST", "/auth/token/login/", { json: { username: "  ", password: "" } });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({
        password: ["This field may not be blank."],
        username: ["This field may not be blank."],
      });
    });

    it("answers resend_activation with an empty 400 when activation mails are off", async () => {
      await register(s, { username: "resender", email: "resender@example.com", password: PW });
      const res = await s.request("POST", "/auth/users/resend_activation/", {
        json: { email: "resender@example.com" },
      });
      expect(res.status).toBe(400);
      expect(res.text).toBe("");
      expect(s.mails()).toEqual([]);
    });

    it("HIDE_USERS: another user is not found (404) to read or update, forbidden (403) to delete", async () => {
      const hidden = await register(s, { username: "hidden", email: "hidden@example.com", password: PW });
      const peeker = await register(s, { username: "peeker", password: PW });
      const key = await login(s, { username: "peeker", password: PW });
      const get = await s.request("GET", `/auth/users/${hidden.id}/`, { headers: tokenHeader(key) });
      expect(get.status).toBe(404);
      expect(get.json).toEqual({ detail: "Not found." });
      const patch = await s.request("PATCH", `/auth/users/${hidden.id}/`, {
        headers: tokenHeader(key),
        json: { email: "evil@example.com" },
      });
      expect(patch.status).toBe(404);
      const del = await s.request("DELETE", `/auth/users/${hidden.id}/`, {
        headers: tokenHeader(key),
        json: { current_password: PW },
      });
      expect(del.status).toBe(403);
      expect(del.json).toEqual({ detail: "You do not have permission to perform this action." });
      const list = await s.request("GET", "/auth/users/", { headers: tokenHeader(key) });
      expect(list.status).toBe(200);
      expect(list.json).toEqual([{ email: "", id: peeker.id, username: "peeker" }]);
      // Own record by id works.
      expect((await s.request("GET", `/auth/users/${peeker.id}/`, { headers: tokenHeader(key) })).json).toEqual({
        email: "",
        id: peeker.id,
        username: "peeker",
      });
      // The hidden user is untouched.
      const hiddenKey = await login(s, { username: "hidden", password: PW });
      expect((await s.request("GET", "/auth/users/me/", { headers: tokenHeader(hiddenKey) })).json.email).toBe(
        "hidden@example.com",
      );
    });

    it("staff list everyone, read and delete others (typing their own password)", async () => {
      const staff = await createStaff(s, "boss", "B0ss-Passw0rd!", "boss@example.com");
      const victim = await register(s, { username: "victim", password: PW });
      const key = await login(s, { username: "boss", password: "B0ss-Passw0rd!" });
      const list = await s.request("GET", "/auth/users/", { headers: tokenHeader(key) });
      expect(list.status).toBe(200);
      const ids = (list.json as { id: number }[]).map((u) => u.id);
      expect(ids).toContain(staff.id);
      expect(ids).toContain(victim.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect((await s.request("GET", `/auth/users/${victim.id}/`, { headers: tokenHeader(key) })).json).toEqual({
        email: "",
        id: victim.id,
        username: "victim",
      });
      const wrong = await s.request("DELETE", `/auth/users/${victim.id}/`, {
        headers: tokenHeader(key),
        json: { current_password: PW },
      });
      expect(wrong.status).toBe(400);
      expect(wrong.json).toEqual({ current_password: ["Invalid password."] });
      const del = await s.request("DELETE", `/auth/users/${victim.id}/`, {
        headers: tokenHeader(key),
        json: { current_password: "B0ss-Passw0rd!" },
      });
      expect(del.status).toBe(204);
      expect((await s.request("GET", `/auth/users/${victim.id}/`, { headers: tokenHeader(key) })).status).toBe(404);
      expect(
        (await s.request("POST", "/auth/token/login/", { json: { username: "victim", password: PW } })).json,
      ).toEqual(BAD_CREDENTIALS);
    });

    it("DELETE /users/me/ needs the current password, then the account and its token are gone", async () => {
      await register(s, { username: "leaver", password: PW });
      const key = await login(s, { username: "leaver", password: PW });
      const missing = await s.request("DELETE", "/auth/users/me/", { headers: tokenHeader(key) });
      expect(missing.status).toBe(400);
      expect(missing.json).toEqual({ current_password: ["This field is required."] });
      const wrong = await s.request("DELETE", "/auth/users/me/", {
        headers: tokenHeader(key),
        json: { current_password: "not-it" },
      });
      expect(wrong.status).toBe(400);
      expect(wrong.json).toEqual({ current_password: ["Invalid password."] });
      const ok = await s.request("DELETE", "/auth/users/me/", {
        headers: tokenHeader(key),
        json: { current_password: PW },
      });
      expect(ok.status).toBe(204);
      expect(ok.text).toBe("");
      const after = await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) });
      expect(after.status).toBe(401);
      expect(after.json).toEqual({ detail: "Invalid token." });
      expect(
        (await s.request("POST", "/auth/token/login/", { json: { username: "leaver", password: PW } })).json,
      ).toEqual(BAD_CREDENTIALS);
    });

    it("updates the email with PATCH (given current_password); the username stays read-only", async () => {
      const u = await register(s, { username: "mover", email: "old@example.com", password: PW });
      const key = await login(s, { username: "mover", password: PW });
      // EMAIL_CHANGE_REQUIRES_PASSWORD (on by default): a stolen token alone cannot redirect reset mails.
      const without = await s.request("PATCH", "/auth/users/me/", {
        headers: tokenHeader(key),
        json: { email: "thief@example.com" },
      });
      expect([without.status, without.json]).toEqual([
        400,
        { current_password: ["This field is required to change the email address."] },
      ]);
      const wrong = await s.request("PATCH", "/auth/users/me/", {
        headers: tokenHeader(key),
        json: { email: "thief@example.com", current_password: "nope-nope-1" },
      });
      expect([wrong.status, wrong.json]).toEqual([400, { current_password: ["Invalid password."] }]);
      const same = await s.request("PATCH", "/auth/users/me/", {
        headers: tokenHeader(key),
        json: { email: "old@example.com" },
      });
      expect(same.status).toBe(200); // not a change: no password needed
      const res = await s.request("PATCH", "/auth/users/me/", {
        headers: tokenHeader(key),
        json: { email: "new@EXAMPLE.com", username: "renamed", current_password: PW },
      });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ email: "new@example.com", id: u.id, username: "mover" });
      const bad = await s.request("PUT", "/auth/users/me/", {
        headers: tokenHeader(key),
        json: { email: "not-an-email" },
      });
      expect(bad.status).toBe(400);
      expect(bad.json).toEqual({ email: ["Enter a valid email address."] });
    });

    it("Bearer is SimpleJWT's prefix by default: a key behind it gets token_not_valid saying so, and logs nobody out", async () => {
      await register(s, { username: "bearer", password: PW });
      const key = await login(s, { username: "bearer", password: PW });
      const res = await s.request("POST", "/auth/token/logout/", { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({
        detail:
          'This looks like an opaque token, but the "Bearer" scheme carries JWTs. Opaque tokens are accepted behind "Token": send it as "Token <key>".',
        code: "token_not_valid",
        messages: [{ token_class: "AccessToken", token_type: "access", message: "Token is invalid or expired" }],
      });
      expect(res.json).toMatchObject({ scheme_received: "Bearer", schemes_accepted: ["Token"] });
      expect(res.json.hint).toContain('"Bearer"');
      expect(res.json.hint).toContain("Token <key>");
      expect((await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) })).status).toBe(200);
    });

    it("names the problem with unusable Authorization headers", async () => {
      const cases: [string, number, Record<string, unknown>][] = [
        [
          "Basic dXNlcjpwYXNz",
          401,
          {
            code: "authorization_scheme_not_accepted",
            scheme_received: "Basic",
            schemes_accepted: ["Token", "Bearer"],
          },
        ],
        ["Token", 401, { detail: "Invalid token header. No credentials provided." }],
        ["Token a b", 401, { detail: "Invalid token header. Token string should not contain spaces." }],
        ["", 401, { code: "authorization_header_empty" }],
        [`Token ${"a".repeat(9 * 1024)}`, 401, { code: "authorization_header_too_long" }],
        ["Token h\u00e9llo", 401, { code: "authorization_header_not_ascii" }],
      ];
      for (const [header, status, body] of cases) {
        const res = await s.request("GET", "/auth/users/me/", { headers: { authorization: header } });
        expect(res.status, header.slice(0, 30)).toBe(status);
        expect(res.json).toMatchObject(body);
        expect(typeof res.json.detail).toBe("string");
        expect(res.headers.get("www-authenticate")).toBeTruthy();
      }
    });
  });

  describe("activation on (SEND_ACTIVATION_EMAIL, SEND_CONFIRMATION_EMAIL)", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, { DJOSER_SEND_ACTIVATION_EMAIL: "true", DJOSER_SEND_CONFIRMATION_EMAIL: "true" });
    });
    afterAll(async () => s?.stop());

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

      const key = await login(s, { username: "carol", password: PW });
      expect((await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) })).json).toEqual(created);

      // As in Django, the link's hash covers last_login: once the user has logged in, the old link
      // is no longer a valid token at all (Djoser checks the token before staleness).
      const afterLogin = await s.request("POST", "/auth/users/activation/", { json: { uid, token } });
      expect(afterLogin.status).toBe(400);
      expect(afterLogin.json).toEqual({ token: ["Invalid token for given user."] });
    });

    it("resend_activation mails an inactive user again; active or unknown emails get the same 204 and no mail", async () => {
      await register(s, { username: "dave", email: "dave@example.com", password: PW });
      expect(s.mails().filter((m) => m.to === "dave@example.com")).toHaveLength(1);
      const resent = await s.request("POST", "/auth/users/resend_activation/", { json: { email: "dave@example.com" } });
      expect(resent.status).toBe(204);
      const mails = s.mails().filter((m) => m.to === "dave@example.com");
      expect(mails).toHaveLength(2);
      expect(mails[1]!.subject).toBe("Account activation on Portcullis");
      // The resent link activates.
      const link = mails[1]!.links.find((l) => l.includes("/activate/"))!;
      expect((await s.request("POST", "/auth/users/activation/", { json: uidToken(link) })).status).toBe(204);
      await login(s, { username: "dave", password: PW });

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
    });

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
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, { DJOSER_USER_CREATE_PASSWORD_RETYPE: "true" });
    });
    afterAll(async () => s?.stop());

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
      await login(s, { username: "frank", password: PW });
    });
  });

  describe("HIDE_USERS off", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, { DJOSER_HIDE_USERS: "false" });
    });
    afterAll(async () => s?.stop());

    it("another user is forbidden (403), and the list shows everyone", async () => {
      const gina = await register(s, { username: "gina", password: PW });
      const hank = await register(s, { username: "hank", password: PW });
      const key = await login(s, { username: "hank", password: PW });
      const get = await s.request("GET", `/auth/users/${gina.id}/`, { headers: tokenHeader(key) });
      expect(get.status).toBe(403);
      expect(get.json).toEqual({ detail: "You do not have permission to perform this action." });
      expect(
        (
          await s.request("PATCH", `/auth/users/${gina.id}/`, {
            headers: tokenHeader(key),
            json: { email: "x@example.com" },
          })
        ).status,
      ).toBe(403);
      const list = await s.request("GET", "/auth/users/", { headers: tokenHeader(key) });
      expect(list.json).toEqual([
        { email: "", id: gina.id, username: "gina" },
        { email: "", id: hank.id, username: "hank" },
      ]);
      expect((await s.request("GET", "/auth/users/999999/", { headers: tokenHeader(key) })).status).toBe(404);
    });
  });

  describe("DJOSER_TOKEN_MODE=per_device", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, { DJOSER_TOKEN_MODE: "per_device" });
    });
    afterAll(async () => s?.stop());

    it("two logins → two keys; logging one out leaves the other working; no key stored", async () => {
      await register(s, { username: "ivy", password: PW });
      const laptop = await login(s, { username: "ivy", password: PW });
      const phone = await login(s, { username: "ivy", password: PW });
      expect(phone).not.toBe(laptop);
      const values = await storedValues(s);
      expect(values.filter((v) => v.includes(laptop) || v.includes(phone))).toEqual([]);

      for (const key of [laptop, phone])
        expect((await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) })).json.username).toBe("ivy");
      expect((await s.request("POST", "/auth/token/logout/", { headers: tokenHeader(laptop) })).status).toBe(204);
      const gone = await s.request("GET", "/auth/users/me/", { headers: tokenHeader(laptop) });
      expect(gone.status).toBe(401);
      expect(gone.json).toEqual({ detail: "Invalid token." });
      expect((await s.request("GET", "/auth/users/me/", { headers: tokenHeader(phone) })).status).toBe(200);
    });
  });

  describe("USERNAME_FIELD=email (custom user model)", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, { USERNAME_FIELD: "email" });
    });
    afterAll(async () => s?.stop());

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

      const key = await login(s, { email: "Jane@example.com", password: PW });
      const me = await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) });
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
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, { DJOSER_LOGIN_FIELD: "email" });
    });
    afterAll(async () => s?.stop());

    it("logs in with the email; the username no longer works as a login", async () => {
      const created = await register(s, { username: "kate", email: "kate@example.com", password: PW });
      const key = await login(s, { email: "kate@example.com", password: PW });
      expect((await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) })).json).toEqual({
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
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, { TOKEN_AUTH_HEADER_TYPES: '["Token","Bearer"]' });
    });
    afterAll(async () => s?.stop());

    it("accepts a key behind Bearer on /me and on logout", async () => {
      const created = await register(s, { username: "leo", password: PW });
      const key = await login(s, { username: "leo", password: PW });
      const me = await s.request("GET", "/auth/users/me/", { headers: { authorization: `Bearer ${key}` } });
      expect(me.status).toBe(200);
      expect(me.json).toEqual({ email: "", id: created.id, username: "leo" });
      const out = await s.request("POST", "/auth/token/logout/", { headers: { authorization: `Bearer ${key}` } });
      expect(out.status).toBe(204);
      expect((await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) })).status).toBe(401);
    });
  });

  describe('SIMPLE_JWT_AUTH_HEADER_TYPES=["JWT"]', () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, { SIMPLE_JWT_AUTH_HEADER_TYPES: '["JWT"]' });
    });
    afterAll(async () => s?.stop());

    it("a key behind Bearer is refused naming Bearer and the accepted schemes", async () => {
      await register(s, { username: "mia", password: PW });
      const key = await login(s, { username: "mia", password: PW });
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
      expect((await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) })).status).toBe(200);
    });
  });

  describe("no client input makes a 5xx", () => {
    let s: TestServer;
    let key: string;
    beforeAll(async () => {
      s = await startTestServer(kind, { DJOSER_SEND_ACTIVATION_EMAIL: "true" });
      await createStaff(s, "fuzzadmin", PW, "fuzz@example.com");
      key = await login(s, { username: "fuzzadmin", password: PW });
    });
    afterAll(async () => s?.stop());

    const ROUTES = [
      "/auth/",
      "/auth/users/",
      "/auth/users",
      "/auth/users/me/",
      "/auth/users/1/",
      "/auth/users/99999999999999/",
      "/auth/users/abc/",
      "/auth/users/activation/",
      "/auth/users/resend_activation/",
      "/auth/token/login/",
      "/auth/token/login",
      "/auth/token/logout/",
      "/auth/users/set_password/",
      "/auth/users/reset_password/",
      "/auth/users/reset_password_confirm/",
      "/auth/users/set_username/",
      "/auth/users/reset_username/",
      "/auth/users/reset_username_confirm/",
      "/auth/jwt/create/",
      "/auth/jwt/create/anything",
      "/auth/jwt/refresh/",
      "/auth/jwt/verify/",
      "/auth/jwt/logout/",
      "/auth/jwt/logout_all/",
      "/auth/sessions/",
      "/auth/sessions/t999999/",
      "/auth/sessions/revoke_others/",
      "/auth/sessions/revoke_all/",
    ];
    // Routes that end the caller's own session: after a 204 the test logs in again. revoke_others
    // is one of them on the shared key, which every device holds: the caller's next login gets a new one.
    const ENDS_OWN_SESSION = ["/auth/token/logout/", "/auth/sessions/revoke_others/", "/auth/sessions/revoke_all/"];
    const JSON_TYPE = { "content-type": "application/json" };
    const huge = "x".repeat(100 * 1024);
    const BODIES: [string, { body?: string; headers?: Record<string, string> }][] = [
      ["no body", {}],
      ["malformed JSON", { body: '{"username": "a",', headers: JSON_TYPE }],
      ["JSON number", { body: "42", headers: JSON_TYPE }],
      ["JSON array", { body: '["a", 1]', headers: JSON_TYPE }],
      ["JSON null", { body: "null", headers: JSON_TYPE }],
      ["JSON string", { body: '"hello"', headers: JSON_TYPE }],
      [
        "numbers everywhere",
        {
          body: JSON.stringify({
            username: 1,
            email: 2,
            password: 3,
            re_password: 4,
            uid: 5,
            token: 6,
            current_password: 7,
            id: 8,
          }),
          headers: JSON_TYPE,
        },
      ],
      [
        "arrays everywhere",
        {
          body: JSON.stringify({
            username: ["a"],
            email: ["b"],
            password: [],
            uid: [1],
            token: [],
            current_password: [PW],
          }),
          headers: JSON_TYPE,
        },
      ],
      [
        "nested objects",
        {
          body: JSON.stringify({
            username: { $ne: null },
            email: { a: { b: 1 } },
            password: { $gt: "" },
            uid: {},
            token: {},
            current_password: {},
          }),
          headers: JSON_TYPE,
        },
      ],
      [
        "nulls",
        {
          body: JSON.stringify({
            username: null,
            email: null,
            password: null,
            uid: null,
            token: null,
            current_password: null,
          }),
          headers: JSON_TYPE,
        },
      ],
      [
        "booleans",
        {
          body: JSON.stringify({
            username: true,
            email: false,
            password: true,
            uid: true,
            token: false,
            current_password: true,
          }),
          headers: JSON_TYPE,
        },
      ],
      [
        "unknown fields",
        {
          body: JSON.stringify({ is_staff: true, is_superuser: true, id: 1, __proto__x: 1, constructor: "x" }),
          headers: JSON_TYPE,
        },
      ],
      [
        "NUL and odd unicode",
        {
          body: JSON.stringify({
            username: "a\u0000b",
            email: "\u202e@x.y",
            password: "\ud800",
            uid: "\u0000",
            token: "\uffff-0",
            current_password: "\u0000",
          }),
          headers: JSON_TYPE,
        },
      ],
      [
        "long strings (40 kB each)",
        {
          body: JSON.stringify({
            username: "u".repeat(20_000),
            email: `${"e".repeat(20_000)}@x.co`,
            password: "p".repeat(20_000),
          }),
          headers: JSON_TYPE,
        },
      ],
      ["100 kB string", { body: JSON.stringify({ username: huge, password: huge }), headers: JSON_TYPE }],
      ["text/plain", { body: "username=a", headers: { "content-type": "text/plain" } }],
      [
        "form-encoded",
        {
          body: "username=a&password=&email=%ZZ&email=two",
          headers: { "content-type": "application/x-www-form-urlencoded" },
        },
      ],
      ["multipart without boundary", { body: "--x\r\n\r\n", headers: { "content-type": "multipart/form-data" } }],
      [
        "JSON content-type with charset and garbage",
        { body: "\u00ff\u00fe", headers: { "content-type": "application/json; charset=latin-1" } },
      ],
    ];
    const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "PURGE"];

    type Res = Awaited<ReturnType<TestServer["request"]>>;
    function checkShape(route: string, method: string, res: Res, what: string) {
      const where = `${method} ${route} (${what}) → ${res.status} ${res.text.slice(0, 200)}`;
      expect(res.status, where).toBeLessThan(500);
      if (method === "HEAD" || res.status === 204) return expect(res.text, where).toBe("");
      if (res.status === 301) return expect(res.headers.get("location"), where).toBe(`${route}/`);
      if (res.status === 400 && res.text === "") return expect(route, where).toBe("/auth/users/resend_activation/");
      expect(res.headers.get("content-type"), where).toBe("application/json");
      if (res.status < 300) return expect(res.json, where).toBeTypeOf("object");
      const body = res.json as Record<string, unknown>;
      const isDetail = typeof body?.detail === "string";
      const isFields =
        !!body &&
        !Array.isArray(body) &&
        Object.keys(body).length > 0 &&
        Object.values(body).every((v) => Array.isArray(v) && v.every((m) => typeof m === "string"));
      expect(isDetail || isFields, where).toBe(true);
    }

    // ~2,000 sequential requests: seconds on an idle machine, more with the suite running beside it.
    it("methods × routes × bodies, anonymous and authenticated", { timeout: 180_000 }, async () => {
      let seen = 0;
      let logouts = 0;
      for (const authenticated of [false, true]) {
        for (const route of ROUTES) {
          for (const method of METHODS) {
            for (const [what, init] of method === "GET" || method === "HEAD" || method === "OPTIONS"
              ? BODIES.slice(0, 1)
              : BODIES) {
              const res = await s.request(method, route, {
                body: init.body,
                headers: { ...init.headers, ...(authenticated ? tokenHeader(key) : {}) },
              });
              checkShape(route, method, res, what);
              seen++;
              // token/logout and sessions/revoke_all ignore their body and end the session: log in again.
              if (ENDS_OWN_SESSION.includes(route) && res.status === 204) {
                logouts++;
                key = await login(s, { username: "fuzzadmin", password: PW });
              }
            }
          }
        }
      }
      // Every body but the 100 kB one (refused with a 413 before any view runs), on each such route.
      expect(logouts).toBe(ENDS_OWN_SESSION.length * (BODIES.length - 1));
      expect(seen).toBeGreaterThan(1000);
      // The admin is still there and still the only user: nothing above created, changed or deleted anyone.
      const list = await s.request("GET", "/auth/users/", { headers: tokenHeader(key) });
      expect(list.json).toEqual([{ email: "fuzz@example.com", id: expect.any(Number), username: "fuzzadmin" }]);
    });

    it("a 100 kB body is a 413 in DRF's {detail} shape", async () => {
      const res = await s.request("POST", "/auth/users/", { json: { username: huge, password: PW } });
      expect(res.status).toBe(413);
      expect(res.json).toEqual({ detail: "Request body is too large." });
    });

    it("malformed JSON and wrong types get DRF's messages", async () => {
      const bad = await s.request("POST", "/auth/users/", { body: "{bad", headers: JSON_TYPE });
      expect(bad.status).toBe(400);
      expect(bad.json.detail).toMatch(/^JSON parse error - /);
      const list = await s.request("POST", "/auth/token/login/", { json: [1, 2] });
      expect(list.json).toEqual({ non_field_errors: ["Invalid data. Expected a dictionary, but got list."] });
      const types = await s.request("POST", "/auth/users/", { json: { username: null, password: ["x"] } });
      expect(types.json).toEqual({ username: ["This field may not be null."], password: ["Not a valid string."] });
      const loginTypes = await s.request("POST", "/auth/token/login/", { json: { username: null, password: {} } });
      expect(loginTypes.status).toBe(400);
      expect(loginTypes.json).toEqual({ username: ["This field may not be null."], password: ["Not a valid string."] });
      // PostgreSQL cannot hold a NUL in text: DRF's CharField refuses it before any lookup.
      const nul = await s.request("POST", "/auth/token/login/", {
        json: { username: "a\u0000b", password: "p\u0000" },
      });
      expect(nul.status).toBe(400);
      expect(nul.json).toEqual({
        username: ["Null characters are not allowed."],
        password: ["Null characters are not allowed."],
      });
      const nulDelete = await s.request("DELETE", "/auth/users/me/", {
        headers: tokenHeader(key),
        json: { current_password: "\u0000" },
      });
      expect(nulDelete.json).toEqual({ current_password: ["Null characters are not allowed."] });
      const media = await s.request("POST", "/auth/users/", { body: "x", headers: { "content-type": "text/plain" } });
      expect(media.status).toBe(415);
      expect(media.json).toEqual({ detail: 'Unsupported media type "text/plain" in request.' });
    });

    it("unknown methods on a known route are a 405 naming the method", async () => {
      const res = await s.request("PROPFIND", "/auth/users/me/", { headers: tokenHeader(key) });
      expect(res.status).toBe(405);
      expect(res.json).toEqual({ detail: 'Method "PROPFIND" not allowed.' });
      expect(res.headers.get("allow")).toBe("GET, PUT, PATCH, DELETE, HEAD, OPTIONS");
      const anon = await s.request("PURGE", "/auth/users/me/");
      expect(anon.status).toBe(401);
      expect(anon.json).toEqual({ detail: "Authentication credentials were not provided." });
    });

    it("what fetch cannot send: UTF-8 in Authorization, 9 KB Authorization, TRACE, a made-up method", async () => {
      const utf8 = await rawRequest(
        s.url,
        Buffer.concat([
          Buffer.from("GET /auth/users/me/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Token "),
          Buffer.from("h\u00e9llo\u2603", "utf8"),
          Buffer.from("\r\n\r\n"),
        ]),
      );
      expect(utf8.status).toBe(401);
      expect(JSON.parse(utf8.body)).toMatchObject({ code: "authorization_header_not_ascii" });
      const long = await rawRequest(
        s.url,
        `GET /auth/users/me/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Token ${"b".repeat(9 * 1024)}\r\n\r\n`,
      );
      expect(long.status).toBe(401);
      expect(JSON.parse(long.body)).toMatchObject({ code: "authorization_header_too_long" });
      const trace = await rawRequest(
        s.url,
        `TRACE /auth/users/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Token ${key}\r\n\r\n`,
      );
      expect(trace.status).toBe(405);
      expect(JSON.parse(trace.body)).toEqual({ detail: 'Method "TRACE" not allowed.' });
      const made = await rawRequest(s.url, "FROBNICATE /auth/users/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      expect(made.status).toBe(400);
      expect(made.status).toBeLessThan(500);
      expect(made.headers.get("content-type")).toMatch(/^application\/json/);
      expect(typeof JSON.parse(made.body).detail).toBe("string");
    });

    it("unknown paths under /auth/ are Django's HTML 404; the server is healthy afterwards", async () => {
      const res = await s.request("GET", "/auth/nope/");
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toBe("text/html");
      expect(res.text).toContain("<h1>Not Found</h1>");
      const health = await s.request("GET", "/healthz");
      expect(health.status).toBe(200);
      expect(health.json).toEqual({ status: "ok", database: kind });
    });
  });
});
