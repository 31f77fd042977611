// The same MFA through the typed client (auth.login's discriminated union, mfa.*, auth.loginCode),
// mailed codes as a method (the mail read from the test mailbox), and TRENCH_AUTH_CREDENTIAL=jwt.
// On PGlite and PostgreSQL.
import { describe, expect, it } from "vitest";
import { bearer, PW, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { secondStep, secretOf, totp } from "../../helpers/mfa.ts";
import { DATABASES } from "../../helpers/server.ts";
import { failure } from "../../helpers/trpc.ts";

const CODE_MAIL = "Your verification code";
const NOTICE = "Portcullis - Your sign-in security settings have changed";
const codeIn = (text: string) => /\b(\d{6})\b/.exec(text)?.[1];

for (const kind of DATABASES) {
  describe(`MFA through tRPC and by mail on ${kind}`, () => {
    const s = useServer(kind, { TRENCH_AUTH_CREDENTIAL: "jwt" });

    it("auth.login says ok or mfa_required; mfa.* enrols; auth.loginCode hands out the chosen credential", async () => {
      await s.signUp("tia", "tia@example.com");
      const anon = s.trpc();
      const plain = await anon.auth.login.mutate({ username: "tia", password: PW, credential: "token" });
      if (plain.status !== "ok") throw new Error("expected a credential");
      const key = (plain.credential as { auth_token: string }).auth_token;
      const client = s.trpc(tokenAuth(key));
      const { details } = await client.mfa.activate.mutate({ method: "app" });
      const secret = secretOf(details as string);
      const wrong = await failure(client.mfa.confirm.mutate({ method: "app", code: "000000" }));
      expect(wrong.data).toMatchObject({ code: "invalid_input", fields: { code: ["Code invalid or expired."] } });
      const { backup_codes } = await client.mfa.confirm.mutate({ method: "app", code: await totp(secret) });
      expect(backup_codes).toHaveLength(5);
      expect(await client.mfa.activeMethods.query()).toEqual([{ name: "app", is_primary: true }]);
      expect(s.mailsTo("tia@example.com", NOTICE).at(-1)?.text).toContain("turned on");

      const step = await anon.auth.login.mutate({ username: "tia", password: PW });
      if (step.status !== "mfa_required") throw new Error("expected the second step");
      expect(step).toMatchObject({ method: "app", methods: ["app"] });
      const bad = await failure(anon.auth.loginCode.mutate({ ephemeral_token: step.ephemeralToken, code: "111111" }));
      expect(bad.data).toMatchObject({ code: "invalid_code", httpStatus: 401 });
      const pair = await anon.auth.loginCode.mutate({
        ephemeral_token: step.ephemeralToken,
        code: await totp(secret, 1),
      });
      expect(Object.keys(pair)).toEqual(["refresh", "access"]); // TRENCH_AUTH_CREDENTIAL=jwt
      expect((await s.me(bearer((pair as { access: string }).access))).status).toBe(200);
      const refused = await failure(anon.jwt.create.mutate({ username: "tia", password: PW }));
      expect(refused.data).toMatchObject({ code: "mfa_required", httpStatus: 403 });
    });

    it("mailed codes: enrolment and login by a code from the mailbox, each code once", async () => {
      await s.signUp("mel", "mel@example.com");
      const login = await s.request("POST", "/auth/login/", { json: { username: "mel", password: PW } });
      const auth = bearer(login.json.access);
      const started = await s.request("POST", "/auth/email/activate/", { headers: auth });
      expect(started.json).toEqual({ details: "Email message with MFA code has been sent." });
      const enrolMail = s.mailsTo("mel@example.com", CODE_MAIL).at(-1)!;
      const code = codeIn(enrolMail.text)!;
      expect(code).toMatch(/^\d{6}$/);
      const confirmed = await s.request("POST", "/auth/email/activate/confirm/", { headers: auth, json: { code } });
      expect(confirmed.status, confirmed.text).toBe(200);
      // The first step mails a new code (the primary method is email); the enrolment's is spent.
      const first = await s.request("POST", "/auth/login/", { json: { username: "mel", password: PW } });
      expect(first.json.method).toBe("email");
      expect((await secondStep(s, first.json.ephemeral_token, code)).status).toBe(401);
      const loginCode = codeIn(s.mailsTo("mel@example.com", CODE_MAIL).at(-1)!.text)!;
      const done = await secondStep(s, first.json.ephemeral_token, loginCode);
      expect(done.status, done.text).toBe(200);
      expect(Object.keys(done.json)).toEqual(["refresh", "access"]);
      const again = await s.request("POST", "/auth/login/", { json: { username: "mel", password: PW } });
      expect((await secondStep(s, again.json.ephemeral_token, loginCode)).status).toBe(401);
      // code/request/ mails another one on demand.
      const requested = await s.request("POST", "/auth/code/request/", {
        headers: bearer(done.json.access),
        json: { method: "email" },
      });
      expect(requested.json).toEqual({ details: "Email message with MFA code has been sent." });
      const unknown = await s.request("POST", "/auth/code/request/", {
        headers: bearer(done.json.access),
        json: { method: "sms" },
      });
      expect(unknown.json).toEqual({ method: ["Requested MFA method does not exist."] });
    });
  });
}
