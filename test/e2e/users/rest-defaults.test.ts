// The Djoser REST flows end to end on Djoser's defaults: a real server on a free port, over PGlite
// and PostgreSQL, driven only through HTTP (plus one look at the stored token rows, to prove keys
// are hashed). The settings that change them are in rest-settings.test.ts, hostile input in
// rest-no-5xx.test.ts.
import { describe, expect, it } from "vitest";
import { PW, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { createStaff, DATABASES } from "../../helpers/server.ts";
import { BAD_CREDENTIALS, register, storedValues } from "./rest.ts";

describe.each(DATABASES)("REST flows on %s", (kind) => {
  describe("Djoser's defaults (no activation mail, active at once, HIDE_USERS on)", () => {
    const s = useServer(kind);

    it("registers an active user without sending mail, and logs in", async () => {
      const created = await register(s, { username: "alice", email: "alice@Example.COM", password: PW });
      expect(created).toEqual({ email: "alice@example.com", username: "alice", id: expect.any(Number) });
      expect(s.mails()).toEqual([]);
      const key = await s.tokenLogin("alice");
      const me = await s.me(tokenAuth(key));
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
      await s.tokenLogin("noretype");
    });

    it("shared token mode: the same key on every login, a new one after logout", async () => {
      await register(s, { username: "shared", password: PW });
      const first = await s.tokenLogin("shared");
      const second = await s.tokenLogin("shared");
      expect(second).toBe(first);

      const out = await s.request("POST", "/auth/token/logout/", { headers: tokenAuth(first) });
      expect(out.status).toBe(204);
      expect(out.text).toBe("");
      const stale = await s.me(tokenAuth(first));
      expect(stale.status).toBe(401);
      expect(stale.json).toEqual({ detail: "Invalid token." });
      expect(stale.headers.get("www-authenticate")).toBe("Token");

      const third = await s.tokenLogin("shared");
      expect(third).not.toBe(first);
      expect((await s.me(tokenAuth(third))).json.username).toBe("shared");
    });

    it(
      "concurrent registrations of one username: " + "the database decides, one 201 and the rest Django's 400",
      async () => {
        const body = { username: "racer", password: PW };
        const results = await Promise.all(
          Array.from({ length: 12 }, () => s.request("POST", "/auth/users/", { json: body })),
        );
        expect(results.filter((r) => r.status === 201)).toHaveLength(1);
        for (const r of results.filter((r) => r.status !== 201))
          expect(r.json).toEqual({ username: ["A user with that username already exists."] });
      },
    );

    it("concurrent logins in shared mode all get the one key", async () => {
      await register(s, { username: "crowd", password: PW });
      const keys = await Promise.all(Array.from({ length: 8 }, () => s.tokenLogin("crowd")));
      expect(new Set(keys).size).toBe(1);
    });

    it("never stores a key in plaintext", async () => {
      await register(s, { username: "hashed", password: PW });
      const key = await s.tokenLogin("hashed");
      const values = await storedValues(s);
      expect(values.length).toBeGreaterThan(0);
      expect(values.filter((v) => v.includes(key))).toEqual([]);
      // …and the key still authenticates, so it was issued, just not kept.
      expect((await s.me(tokenAuth(key))).status).toBe(200);
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
      const key = await s.tokenLogin("peeker");
      const get = await s.request("GET", `/auth/users/${hidden.id}/`, { headers: tokenAuth(key) });
      expect(get.status).toBe(404);
      expect(get.json).toEqual({ detail: "Not found." });
      const patch = await s.request("PATCH", `/auth/users/${hidden.id}/`, {
        headers: tokenAuth(key),
        json: { email: "evil@example.com" },
      });
      expect(patch.status).toBe(404);
      const del = await s.request("DELETE", `/auth/users/${hidden.id}/`, {
        headers: tokenAuth(key),
        json: { current_password: PW },
      });
      expect(del.status).toBe(403);
      expect(del.json).toEqual({ detail: "You do not have permission to perform this action." });
      const list = await s.request("GET", "/auth/users/", { headers: tokenAuth(key) });
      expect(list.status).toBe(200);
      expect(list.json).toEqual([{ email: "", id: peeker.id, username: "peeker" }]);
      // Own record by id works.
      expect((await s.request("GET", `/auth/users/${peeker.id}/`, { headers: tokenAuth(key) })).json).toEqual({
        email: "",
        id: peeker.id,
        username: "peeker",
      });
      // The hidden user is untouched.
      const hiddenKey = await s.tokenLogin("hidden");
      expect((await s.me(tokenAuth(hiddenKey))).json.email).toBe("hidden@example.com");
    });

    it("staff list everyone, read and delete others (typing their own password)", async () => {
      const staff = await createStaff(s, "boss", "B0ss-Passw0rd!", "boss@example.com");
      const victim = await register(s, { username: "victim", password: PW });
      const key = await s.tokenLogin("boss", "B0ss-Passw0rd!");
      const list = await s.request("GET", "/auth/users/", { headers: tokenAuth(key) });
      expect(list.status).toBe(200);
      const ids = (list.json as { id: number }[]).map((u) => u.id);
      expect(ids).toContain(staff.id);
      expect(ids).toContain(victim.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect((await s.request("GET", `/auth/users/${victim.id}/`, { headers: tokenAuth(key) })).json).toEqual({
        email: "",
        id: victim.id,
        username: "victim",
      });
      const wrong = await s.request("DELETE", `/auth/users/${victim.id}/`, {
        headers: tokenAuth(key),
        json: { current_password: PW },
      });
      expect(wrong.status).toBe(400);
      expect(wrong.json).toEqual({ current_password: ["Invalid password."] });
      const del = await s.request("DELETE", `/auth/users/${victim.id}/`, {
        headers: tokenAuth(key),
        json: { current_password: "B0ss-Passw0rd!" },
      });
      expect(del.status).toBe(204);
      expect((await s.request("GET", `/auth/users/${victim.id}/`, { headers: tokenAuth(key) })).status).toBe(404);
      expect(
        (await s.request("POST", "/auth/token/login/", { json: { username: "victim", password: PW } })).json,
      ).toEqual(BAD_CREDENTIALS);
    });

    it("DELETE /users/me/ needs the current password, then the account and its token are gone", async () => {
      await register(s, { username: "leaver", password: PW });
      const key = await s.tokenLogin("leaver");
      const missing = await s.request("DELETE", "/auth/users/me/", { headers: tokenAuth(key) });
      expect(missing.status).toBe(400);
      expect(missing.json).toEqual({ current_password: ["This field is required."] });
      const wrong = await s.request("DELETE", "/auth/users/me/", {
        headers: tokenAuth(key),
        json: { current_password: "not-it" },
      });
      expect(wrong.status).toBe(400);
      expect(wrong.json).toEqual({ current_password: ["Invalid password."] });
      const ok = await s.request("DELETE", "/auth/users/me/", {
        headers: tokenAuth(key),
        json: { current_password: PW },
      });
      expect(ok.status).toBe(204);
      expect(ok.text).toBe("");
      const after = await s.me(tokenAuth(key));
      expect(after.status).toBe(401);
      expect(after.json).toEqual({ detail: "Invalid token." });
      expect(
        (await s.request("POST", "/auth/token/login/", { json: { username: "leaver", password: PW } })).json,
      ).toEqual(BAD_CREDENTIALS);
    });

    it("updates the email with PATCH (given current_password); the username stays read-only", async () => {
      const u = await register(s, { username: "mover", email: "old@example.com", password: PW });
      const key = await s.tokenLogin("mover");
      // EMAIL_CHANGE_REQUIRES_PASSWORD (on by default): a stolen token alone cannot redirect reset mails.
      const without = await s.request("PATCH", "/auth/users/me/", {
        headers: tokenAuth(key),
        json: { email: "thief@example.com" },
      });
      expect([without.status, without.json]).toEqual([
        400,
        { current_password: ["This field is required to change the email address."] },
      ]);
      const wrong = await s.request("PATCH", "/auth/users/me/", {
        headers: tokenAuth(key),
        json: { email: "thief@example.com", current_password: "nope-nope-1" },
      });
      expect([wrong.status, wrong.json]).toEqual([400, { current_password: ["Invalid password."] }]);
      const same = await s.request("PATCH", "/auth/users/me/", {
        headers: tokenAuth(key),
        json: { email: "old@example.com" },
      });
      expect(same.status).toBe(200); // not a change: no password needed
      const res = await s.request("PATCH", "/auth/users/me/", {
        headers: tokenAuth(key),
        json: { email: "new@EXAMPLE.com", username: "renamed", current_password: PW },
      });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ email: "new@example.com", id: u.id, username: "mover" });
      const bad = await s.request("PUT", "/auth/users/me/", {
        headers: tokenAuth(key),
        json: { email: "not-an-email" },
      });
      expect(bad.status).toBe(400);
      expect(bad.json).toEqual({ email: ["Enter a valid email address."] });
    });

    it(
      "Bearer is SimpleJWT's prefix by default: " +
        "a key behind it gets token_not_valid saying so, and logs nobody out",
      async () => {
        await register(s, { username: "bearer", password: PW });
        const key = await s.tokenLogin("bearer");
        const res = await s.request("POST", "/auth/token/logout/", { headers: { authorization: `Bearer ${key}` } });
        expect(res.status).toBe(401);
        expect(res.json).toMatchObject({
          detail:
            'This looks like an opaque token, but the "Bearer" scheme carries JWTs. ' +
            'Opaque tokens are accepted behind "Token": send it as "Token <key>".',
          code: "token_not_valid",
          messages: [{ token_class: "AccessToken", token_type: "access", message: "Token is invalid or expired" }],
        });
        expect(res.json).toMatchObject({ scheme_received: "Bearer", schemes_accepted: ["Token"] });
        expect(res.json.hint).toContain('"Bearer"');
        expect(res.json.hint).toContain("Token <key>");
        expect((await s.me(tokenAuth(key))).status).toBe(200);
      },
    );

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
        const res = await s.me({ authorization: header });
        expect(res.status, header.slice(0, 30)).toBe(status);
        expect(res.json).toMatchObject(body);
        expect(typeof res.json.detail).toBe("string");
        expect(res.headers.get("www-authenticate")).toBeTruthy();
      }
    });
  });
});
