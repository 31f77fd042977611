// django-trench's contract over REST: enrolment of the authenticator app (TOTP), backup codes, the
// two-step login at login/ and login/code/, the method views, and the Djoser credential endpoints
// refusing a password alone once MFA is on. On PGlite and PostgreSQL.
import { generate } from "otplib";
import { describe, expect, it } from "vitest";
import { bearer, PW, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { enrolApp, firstStep, secondStep, totp } from "../../helpers/mfa.ts";
import { DATABASES } from "../../helpers/server.ts";

const INVALID_CODE = { error: "Invalid or expired code." };
const INVALID_TOKEN = { error: "Invalid or expired token." };
const MFA_REQUIRED = {
  detail:
    "This account uses two-factor authentication: log in through /auth/login/ and /auth/login/code/ " +
    "(tRPC: auth.login and auth.loginCode).",
  code: "mfa_required",
};

for (const kind of DATABASES) {
  describe(`django-trench's REST contract on ${kind}`, () => {
    const s = useServer(kind, { TRENCH_AUTH_MAX_CODE_ATTEMPTS: "3" });

    it("enrols the app: an otpauth URI, a wrong first code refused, the right one: 5 backup codes", async () => {
      await s.signUp("ann", "ann@example.com");
      const auth = tokenAuth(await s.tokenLogin("ann"));
      const started = await s.request("POST", "/auth/app/activate/", { headers: auth });
      expect(started.status, started.text).toBe(200);
      const uri = new URL(started.json.details);
      expect(uri.protocol).toBe("otpauth:");
      expect(uri.host).toBe("totp");
      expect(decodeURIComponent(uri.pathname)).toBe("/MyApplication:ann");
      expect(uri.searchParams.get("issuer")).toBe("MyApplication");
      const secret = uri.searchParams.get("secret")!;
      expect(secret).toMatch(/^[A-Z2-7]{32}$/); // 20 bytes, base32
      // Not active yet: a password login still gets its key.
      expect((await s.request("POST", "/auth/token/login/", { json: { username: "ann", password: PW } })).status).toBe(
        200,
      );
      const wrong = await s.request("POST", "/auth/app/activate/confirm/", { headers: auth, json: { code: "000000" } });
      expect(wrong.status).toBe(400);
      expect(wrong.json).toEqual({ code: ["Code invalid or expired."] });
      const missing = await s.request("POST", "/auth/app/activate/confirm/", { headers: auth, json: {} });
      expect(missing.json).toEqual({ code: ["This field is required."] });
      const ok = await s.request("POST", "/auth/app/activate/confirm/", {
        headers: auth,
        json: { code: await totp(secret) },
      });
      expect(ok.status, ok.text).toBe(200);
      expect(Object.keys(ok.json)).toEqual(["backup_codes"]);
      expect(ok.json.backup_codes).toHaveLength(5);
      for (const code of ok.json.backup_codes) expect(code).toMatch(/^[A-Za-z0-9]{12}$/);
      const active = await s.request("GET", "/auth/mfa/user-active-methods/", { headers: auth });
      expect(active.json).toEqual([{ name: "app", is_primary: true }]);
      const again = await s.request("POST", "/auth/app/activate/", { headers: auth });
      expect(again.status).toBe(400);
      expect(again.json).toEqual({ error: "MFA method already active." });
    });

    it("with MFA on, no credential endpoint hands out anything for the password alone", async () => {
      await enrolApp(s, "bob");
      const body = { json: { username: "bob", password: PW } };
      for (const path of ["/auth/token/login/", "/auth/jwt/create/"]) {
        const res = await s.request("POST", path, body);
        expect(res.status, path).toBe(403);
        expect(res.json).toEqual(MFA_REQUIRED);
      }
      for (const call of [s.trpc().token.login.mutate, s.trpc().jwt.create.mutate]) {
        const error = await call({ username: "bob", password: PW }).then(
          () => null,
          (e: { data?: { code?: string; httpStatus?: number } }) => e,
        );
        expect(error?.data).toMatchObject({ code: "mfa_required", httpStatus: 403 });
      }
      // The two-step login and the typed client's auth.login answer a step, never a credential.
      const first = await s.request("POST", "/auth/login/", body);
      expect(Object.keys(first.json).sort()).toEqual(["ephemeral_token", "method"]);
      const typed = await s.trpc().auth.login.mutate({ username: "bob", password: PW });
      expect(typed.status).toBe("mfa_required");
      expect(Object.keys(typed).sort()).toEqual(["details", "ephemeralToken", "method", "methods", "status"]);
      // A wrong password says nothing about MFA: the usual answer.
      const wrong = await s.request("POST", "/auth/token/login/", { json: { username: "bob", password: "nope" } });
      expect(wrong.json).toEqual({ non_field_errors: ["Unable to log in with provided credentials."] });
    });

    it("logs in with both factors; the ephemeral token is single use, and each code works once", async () => {
      const { secret } = await enrolApp(s, "cid");
      const token = await firstStep(s, "cid");
      expect((await secondStep(s, token, "000000")).json).toEqual(INVALID_CODE);
      const code = await totp(secret, 1);
      const done = await secondStep(s, token, code);
      expect(done.status, done.text).toBe(200);
      expect(Object.keys(done.json)).toEqual(["auth_token"]);
      expect((await s.me(tokenAuth(done.json.auth_token))).status).toBe(200);
      const reused = await secondStep(s, token, await totp(secret, -1));
      expect(reused.status).toBe(401);
      expect(reused.json).toEqual(INVALID_TOKEN);
      // The same code, in a new login: replay refused.
      const replay = await secondStep(s, await firstStep(s, "cid"), code);
      expect(replay.status).toBe(401);
      expect(replay.json).toEqual(INVALID_CODE);
      const sessions = await s.request("GET", "/auth/sessions/", { headers: tokenAuth(done.json.auth_token) });
      expect(sessions.json.find((v: { current: boolean }) => v.current).factors).toEqual(["pwd", "otp"]);
    });

    it("a backup code logs in once; MAX_CODE_ATTEMPTS wrong codes end the ephemeral token", async () => {
      const { secret, backup } = await enrolApp(s, "dee");
      const done = await secondStep(s, await firstStep(s, "dee"), backup[0]);
      expect(done.status, done.text).toBe(200);
      expect((await secondStep(s, await firstStep(s, "dee"), backup[0])).json).toEqual(INVALID_CODE);
      const token = await firstStep(s, "dee");
      for (let i = 0; i < 3; i++) expect((await secondStep(s, token, "123456")).status).toBe(401);
      const late = await secondStep(s, token, await totp(secret, 1));
      expect(late.json).toEqual(INVALID_TOKEN);
    });

    it("an ephemeral token works for its own user only, and not at all when made up", async () => {
      await enrolApp(s, "eve");
      const { secret: fredSecret } = await enrolApp(s, "fred");
      const evesToken = await firstStep(s, "eve");
      expect((await secondStep(s, evesToken, await totp(fredSecret, 1))).json).toEqual(INVALID_CODE);
      for (const token of ["", "x".repeat(129), "made-up", evesToken.slice(0, -1)]) {
        const res = await secondStep(s, token, "123456");
        expect(res.status, token).toBeGreaterThanOrEqual(400);
        expect(res.status, token).toBeLessThan(500);
      }
      expect((await secondStep(s, "made-up", "123456")).json).toEqual(INVALID_TOKEN);
    });

    it("login/ answers the credential for a user without MFA, and trench's error for a wrong password", async () => {
      await s.signUp("gil", "gil@example.com");
      const ok = await s.request("POST", "/auth/login/", { json: { username: "gil", password: PW } });
      expect(ok.status).toBe(200);
      expect(Object.keys(ok.json)).toEqual(["auth_token"]);
      const bad = await s.request("POST", "/auth/login/", { json: { username: "gil", password: "nope" } });
      expect(bad.status).toBe(400);
      expect(bad.json).toEqual({ error: "Unable to login with provided credentials." });
      const missing = await s.request("POST", "/auth/login/", { json: { username: "gil" } });
      expect(missing.json).toEqual({ password: ["This field is required."] });
    });

    it("the method views: config, unknown methods, backup codes regenerated, the method turned off", async () => {
      const config = await s.request("GET", "/auth/mfa/config/");
      expect(config.json).toEqual({
        methods: ["app", "email", "webauthn"],
        confirm_disable_with_code: false,
        confirm_regeneration_with_code: true,
        allow_backup_codes_regeneration: true,
      });
      const { secret, auth, backup: old } = await enrolApp(s, "hal");
      const unknown = await s.request("POST", "/auth/sms/activate/", { headers: auth });
      expect(unknown.json).toEqual({ error: "Requested MFA method does not exist." });
      const regen = await s.request("POST", "/auth/app/codes/regenerate/", { headers: auth, json: {} });
      expect(regen.json).toEqual({ code: ["This field is required."] });
      const regenerated = await s.request("POST", "/auth/app/codes/regenerate/", {
        headers: auth,
        json: { code: await totp(secret, 1) },
      });
      expect(regenerated.status, regenerated.text).toBe(200);
      expect(regenerated.json.backup_codes).toHaveLength(5);
      const backup: string[] = regenerated.json.backup_codes;
      // The session signed in with the password alone, before MFA was on: turning it off needs a code
      // (a backup code here: the app's codes of this step and the one before are spent).
      const stale = await s.request("POST", "/auth/app/deactivate/", { headers: auth, json: {} });
      const oldCode = await s.request("POST", "/auth/app/deactivate/", { headers: auth, json: { code: old[0] } });
      expect(oldCode.json).toEqual({ code: ["Code invalid or expired."] }); // the regenerated codes replaced it
      expect(stale.status).toBe(403);
      expect(stale.json).toMatchObject({ code: "reauthentication_required", required: "second_factor" });
      const off = await s.request("POST", "/auth/app/deactivate/", {
        headers: auth,
        json: { code: backup[0] },
      });
      expect(off.status, off.text).toBe(204);
      expect((await s.request("GET", "/auth/mfa/user-active-methods/", { headers: auth })).json).toEqual([]);
      expect((await s.request("POST", "/auth/app/deactivate/", { headers: auth, json: {} })).json).toEqual({
        error: "2FA is not enabled.",
      });
      // Off: the password alone logs in again.
      await s.tokenLogin("hal");
      const anonymous = await s.request("POST", "/auth/app/activate/");
      expect(anonymous.status).toBe(401);
    });

    it("TRENCH_AUTH_CREDENTIAL=jwt is not in force here: login/code/ answers the opaque key", async () => {
      const { secret } = await enrolApp(s, "ivy");
      const done = await secondStep(
        s,
        await firstStep(s, "ivy"),
        await generate({ secret, epoch: Date.now() / 1000 + 30 }),
      );
      expect(Object.keys(done.json)).toEqual(["auth_token"]);
      expect((await s.me(bearer(done.json.auth_token))).status).toBe(401);
    });
  });
}
