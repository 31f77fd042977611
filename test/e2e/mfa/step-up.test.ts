// Step-up: sensitive actions need a recent sign-in (REAUTHENTICATION_TIMEOUT), and for a user with
// MFA on one that proved a second factor; /auth/reauthenticate/ renews it. Djoser's flows keep
// working for users without MFA (their current_password is the re-authentication). Staff reset a
// user's MFA: audited, mailed, and only from a recent sign-in. REST, on PGlite and PostgreSQL.
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { PW, type Server, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { enrolApp, firstStep, secondStep, totp } from "../../helpers/mfa.ts";
import { createStaff, DATABASES } from "../../helpers/server.ts";

/** A user with the app enrolled, signed in with both factors; the key, the secret, the backup codes. */
async function mfaUser(s: Server, name: string) {
  const { secret, backup } = await enrolApp(s, name);
  const done = await secondStep(s, await firstStep(s, name), await totp(secret, 1));
  expect(done.status, done.text).toBe(200);
  return { key: done.json.auth_token as string, secret, backup };
}

const TIMEOUT = 2; // seconds
const NEW_PW = "Nm4$Rt8@Wy3e";
const STAFF_PW = "Adm1n-Passw0rd!";
const NOTICE = "Portcullis - Your sign-in security settings have changed";

for (const kind of DATABASES) {
  describe(`step-up on ${kind}`, () => {
    const s = useServer(kind, { REAUTHENTICATION_TIMEOUT: String(TIMEOUT) });

    it("without MFA, set_password works however old the sign-in: current_password re-authenticates", async () => {
      await s.signUp("plain", "plain@example.com");
      const auth = tokenAuth(await s.tokenLogin("plain"));
      await sleep(TIMEOUT * 1000 + 500);
      const res = await s.request("POST", "/auth/users/set_password/", {
        headers: auth,
        json: { current_password: PW, new_password: NEW_PW },
      });
      expect(res.status, res.text).toBe(204);
    });

    it("with MFA, an old sign-in must prove a second factor again: the password is not enough", async () => {
      const { key, backup } = await mfaUser(s, "mfa1");
      const auth = tokenAuth(key);
      const sessions = await s.request("GET", "/auth/sessions/", { headers: auth });
      expect(sessions.json.find((v: { current: boolean }) => v.current).factors).toEqual(["pwd", "otp"]);
      await sleep(TIMEOUT * 1000 + 500);
      const change = { current_password: PW, new_password: NEW_PW };
      const refused = await s.request("POST", "/auth/users/set_password/", { headers: auth, json: change });
      expect(refused.status, refused.text).toBe(403);
      expect(refused.json).toMatchObject({
        code: "reauthentication_required",
        required: "second_factor",
        methods: ["app"],
      });
      const byPassword = await s.request("POST", "/auth/reauthenticate/", { headers: auth, json: { password: PW } });
      expect(byPassword.status, byPassword.text).toBe(400);
      expect(Object.keys(byPassword.json)).toEqual(["code"]);
      const wrong = await s.request("POST", "/auth/reauthenticate/", { headers: auth, json: { code: "000000" } });
      expect(wrong.status, wrong.text).toBe(400);
      const renewed = await s.request("POST", "/auth/reauthenticate/", {
        headers: auth,
        json: { code: backup[0] }, // the app's codes of these steps are spent
      });
      expect(renewed.status, renewed.text).toBe(200);
      expect(renewed.json.factors).toEqual(["otp"]);
      const done = await s.request("POST", "/auth/users/set_password/", { headers: auth, json: change });
      expect(done.status, done.text).toBe(204);
    });

    it("without MFA, an old sign-in re-authenticates with the password; a wrong one is refused", async () => {
      await s.signUp("plain2", "plain2@example.com");
      const auth = tokenAuth(await s.tokenLogin("plain2"));
      const wrong = await s.request("POST", "/auth/reauthenticate/", { headers: auth, json: { password: "nope" } });
      expect(wrong.status, wrong.text).toBe(400);
      expect(wrong.json).toEqual({ password: ["Invalid password."] });
      const ok = await s.request("POST", "/auth/reauthenticate/", { headers: auth, json: { password: PW } });
      expect(ok.status, ok.text).toBe(200);
      expect(ok.json.factors).toEqual(["pwd"]);
      const anonymous = await s.request("POST", "/auth/reauthenticate/", { json: { password: PW } });
      expect(anonymous.status).toBe(401);
    });

    it("staff reset a user's MFA from a recent sign-in; the user is mailed and logs in with the password", async () => {
      await mfaUser(s, "lost");
      const before = await s.request("POST", "/auth/token/login/", { json: { username: "lost", password: PW } });
      expect(before.status).toBe(403); // MFA on: no key from a password alone
      const root = await createStaff(s, "root", STAFF_PW, "root@example.com");
      const staff = tokenAuth(await s.tokenLogin("root", STAFF_PW));
      const users = await s.request("GET", "/auth/users/", { headers: staff });
      const id = users.json.find((u: { username: string }) => u.username === "lost").id;
      const plain = tokenAuth(await s.tokenLogin("plain2"));
      const notStaff = await s.request("POST", `/auth/users/${id}/reset_mfa/`, { headers: plain });
      expect(notStaff.status).toBe(403);
      await sleep(TIMEOUT * 1000 + 500);
      const stale = await s.request("POST", `/auth/users/${id}/reset_mfa/`, { headers: staff });
      expect(stale.status, stale.text).toBe(403);
      expect(stale.json).toMatchObject({ code: "reauthentication_required", required: "password" });
      await s.request("POST", "/auth/reauthenticate/", { headers: staff, json: { password: STAFF_PW } });
      const reset = await s.request("POST", `/auth/users/${id}/reset_mfa/`, { headers: staff });
      expect(reset.status, reset.text).toBe(204);
      await s.tokenLogin("lost"); // a password login hands out a key again
      expect(s.mailsTo("lost@example.com", NOTICE).at(-1)?.text).toContain("Staff have reset the two-factor");
      const events = await s.trpc(staff).audit.list.query({ userId: id, kind: "mfa_reset" });
      expect(events.events.map((e) => e.data.by)).toEqual([root.id]);
    });
  });
}
