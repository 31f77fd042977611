// Passkeys with a software authenticator: Djoser 2.3's sign-up and login paths, management of the
// caller's passkeys, passkeys as a second factor, and what an attacker tries (a challenge replayed
// or expired, another origin or RP ID, another user's passkey, a counter gone backwards, made-up
// bodies). On PGlite and PostgreSQL.
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { PW, type Server, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { enrolApp, firstStep, secondStep } from "../../helpers/mfa.ts";
import { DATABASES } from "../../helpers/server.ts";
import { SoftAuthenticator } from "../../helpers/webauthn.ts";

const FAILED = { non_field_errors: "WebAuthn verification failed." };
const ORIGIN = "http://localhost:8000";

async function passkeySignup(s: Server, username: string, device = new SoftAuthenticator(ORIGIN)) {
  const options = await s.request("POST", "/auth/webauthn/signup_request/", {
    json: { username, display_name: username.toUpperCase() },
  });
  expect(options.status, options.text).toBe(200);
  expect(options.json.user.id).toBe(options.json.ukey); // Djoser's clients post to signup/<user.id>/
  const res = await s.request("POST", `/auth/webauthn/signup/${options.json.ukey}/`, {
    json: { username, email: `${username}@example.com`, ...device.create(options.json) },
  });
  return { res, device, options: options.json };
}

async function passkeyLogin(s: Server, username: string | undefined, device: SoftAuthenticator, bend = {}) {
  const options = await s.request("POST", "/auth/webauthn/login_request/", { json: username ? { username } : {} });
  expect(options.status, options.text).toBe(200);
  return s.request("POST", "/auth/webauthn/login/", { json: { username, ...device.get(options.json, bend) } });
}

for (const kind of DATABASES) {
  describe(`passkeys on ${kind}`, () => {
    const s = useServer(kind, { TRENCH_AUTH_MAX_CODE_ATTEMPTS: "5" });

    it("signs up without a password and logs in at Djoser 2.3's paths; the token works", async () => {
      const { res, device, options } = await passkeySignup(s, "pia");
      expect(res.status, res.text).toBe(201);
      expect(res.json).toEqual({ email: "pia@example.com", username: "pia", id: expect.any(Number) });
      expect(options).toMatchObject({ rp: { id: "localhost", name: "localhost" }, user: { name: "pia" } });
      const login = await passkeyLogin(s, "pia", device);
      expect(login.status, login.text).toBe(201);
      expect(Object.keys(login.json)).toEqual(["auth_token"]);
      const auth = tokenAuth(login.json.auth_token);
      expect((await s.me(auth)).json.username).toBe("pia");
      // No password to log in with: the unusable one matches nothing.
      const byPassword = await s.request("POST", "/auth/token/login/", { json: { username: "pia", password: "!" } });
      expect(byPassword.status).toBe(400);
      const sessions = await s.request("GET", "/auth/sessions/", { headers: auth });
      expect(sessions.json[0].factors).toEqual(["hwk", "user"]);
      // A discoverable passkey: no username at all.
      expect((await passkeyLogin(s, undefined, device)).status).toBe(201);
    });

    it("a ukey works once; a taken name, an unknown ukey and a mismatched name are refused", async () => {
      const { options, device } = await passkeySignup(s, "quin");
      const again = await s.request("POST", `/auth/webauthn/signup/${options.ukey}/`, {
        json: { username: "quin", ...device.create(options) },
      });
      expect(again.status).toBe(404);
      const taken = await s.request("POST", "/auth/webauthn/signup_request/", {
        json: { username: "quin", display_name: "Q" },
      });
      expect(taken.json).toEqual({ username: ["User quin already exists."] });
      const fresh = await s.request("POST", "/auth/webauthn/signup_request/", {
        json: { username: "rex", display_name: "R" },
      });
      const other = await s.request("POST", `/auth/webauthn/signup/${fresh.json.ukey}/`, {
        json: { username: "mallory", ...device.create(fresh.json) },
      });
      expect(other.status).toBe(400);
      expect(Object.keys(other.json)).toEqual(["username"]);
    });

    it("login attacks: a replayed challenge, other origins, another's passkey, a stale counter", async () => {
      const { device } = await passkeySignup(s, "sam");
      const { device: tomDevice } = await passkeySignup(s, "tom");
      const options = (await s.request("POST", "/auth/webauthn/login_request/", { json: { username: "sam" } })).json;
      const assertion = device.get(options);
      const first = await s.request("POST", "/auth/webauthn/login/", { json: { username: "sam", ...assertion } });
      expect(first.status).toBe(201);
      const replay = await s.request("POST", "/auth/webauthn/login/", { json: { username: "sam", ...assertion } });
      expect(replay.json).toEqual(FAILED);
      expect((await passkeyLogin(s, "sam", device, { origin: "https://evil.example" })).json).toEqual(FAILED);
      expect((await passkeyLogin(s, "sam", device, { rpId: "evil.example" })).json).toEqual(FAILED);
      expect((await passkeyLogin(s, "sam", device, { counter: 1 })).json).toEqual(FAILED);
      expect((await passkeyLogin(s, "sam", tomDevice)).json).toEqual(FAILED); // tom's passkey, sam's options
      expect((await passkeyLogin(s, "sam", device, { type: "webauthn.create" })).json).toEqual(FAILED);
      for (const body of [{}, { username: "sam" }, { id: "x", response: {} }, { response: { clientDataJSON: "!!" } }]) {
        const res = await s.request("POST", "/auth/webauthn/login/", { json: body });
        expect(res.status, JSON.stringify(body)).toBe(400);
      }
      // Options for a name with no account look like a real name's.
      const nobody = await s.request("POST", "/auth/webauthn/login_request/", { json: { username: "nobody" } });
      expect(nobody.status).toBe(200);
      expect(nobody.json.allowCredentials).toHaveLength(1);
      const twice = await s.request("POST", "/auth/webauthn/login_request/", { json: { username: "nobody" } });
      expect(twice.json.allowCredentials).toEqual(nobody.json.allowCredentials);
    });

    it("management: list, add, rename, remove; another user's passkey is not found", async () => {
      const { device } = await passkeySignup(s, "uma");
      const auth = tokenAuth((await passkeyLogin(s, "uma", device)).json.auth_token);
      const list = await s.request("GET", "/auth/passkeys/", { headers: auth });
      expect(list.json).toHaveLength(1);
      expect(list.json[0]).toMatchObject({ name: "Passkey", device_type: "singleDevice", backed_up: false });
      const options = await s.request("POST", "/auth/passkeys/register_request/", { headers: auth });
      expect(options.json.excludeCredentials).toHaveLength(1);
      const second = new SoftAuthenticator(ORIGIN);
      const added = await s.request("POST", "/auth/passkeys/register/", {
        headers: auth,
        json: { name: "Laptop", ...second.create(options.json) },
      });
      expect(added.status, added.text).toBe(201);
      const renamed = await s.request("PATCH", `/auth/passkeys/${added.json.id}/`, {
        headers: auth,
        json: { name: "Work laptop" },
      });
      expect(renamed.json.name).toBe("Work laptop");
      const { device: vicDevice } = await passkeySignup(s, "vic");
      const vic = tokenAuth((await passkeyLogin(s, "vic", vicDevice)).json.auth_token);
      expect((await s.request("DELETE", `/auth/passkeys/${added.json.id}/`, { headers: vic })).status).toBe(404);
      expect((await s.request("DELETE", `/auth/passkeys/${added.json.id}/`, { headers: auth })).status).toBe(204);
      expect((await passkeyLogin(s, "uma", second)).json).toEqual(FAILED);
      expect((await s.request("GET", "/auth/passkeys/", { headers: auth })).json).toHaveLength(1);
      expect((await s.request("GET", "/auth/passkeys/")).status).toBe(401);
    });

    it("a passkey as a second factor: enrolled through trench's paths, then the login's second step", async () => {
      const device = new SoftAuthenticator(ORIGIN);
      await s.signUp("xan", "xan@example.com");
      const key = tokenAuth(await s.tokenLogin("xan"));
      const started = await s.request("POST", "/auth/webauthn/activate/", { headers: key });
      expect(started.status, started.text).toBe(200);
      const confirmed = await s.request("POST", "/auth/webauthn/activate/confirm/", {
        headers: key,
        json: { code: device.create(started.json.details) },
      });
      expect(confirmed.status, confirmed.text).toBe(200);
      const step = await s.request("POST", "/auth/login/", { json: { username: "xan", password: PW } });
      expect(step.json.method).toBe("webauthn");
      const wrongBinding = device.get(step.json.options, { origin: "https://evil.example" });
      expect((await secondStep(s, step.json.ephemeral_token, wrongBinding)).status).toBe(401);
      const step2 = await s.request("POST", "/auth/login/", { json: { username: "xan", password: PW } });
      // The first login's options do not serve the second one.
      expect((await secondStep(s, step2.json.ephemeral_token, device.get(step.json.options))).status).toBe(401);
      const done = await secondStep(s, step2.json.ephemeral_token, device.get(step2.json.options));
      expect(done.status, done.text).toBe(200);
      const sessions = await s.request("GET", "/auth/sessions/", { headers: tokenAuth(done.json.auth_token) });
      expect(sessions.json.find((v: { current: boolean }) => v.current).factors).toEqual(["pwd", "hwk"]);
    });
  });

  describe(`passkey changes need a recent sign-in on ${kind}`, () => {
    const s = useServer(kind, { REAUTHENTICATION_TIMEOUT: "1" });

    it("after REAUTHENTICATION_TIMEOUT, adding or removing a passkey needs a re-authentication", async () => {
      const { device } = await passkeySignup(s, "yul");
      const auth = tokenAuth((await passkeyLogin(s, "yul", device)).json.auth_token);
      const id = (await s.request("GET", "/auth/passkeys/", { headers: auth })).json[0].id;
      await sleep(1500);
      const add = await s.request("POST", "/auth/passkeys/register_request/", { headers: auth });
      expect(add.status).toBe(403);
      expect(add.json).toMatchObject({ code: "reauthentication_required", required: "password" });
      const remove = await s.request("DELETE", `/auth/passkeys/${id}/`, { headers: auth });
      expect(remove.status).toBe(403);
      // A fresh passkey login is a recent sign-in.
      const fresh = tokenAuth((await passkeyLogin(s, "yul", device)).json.auth_token);
      expect((await s.request("POST", "/auth/passkeys/register_request/", { headers: fresh })).status).toBe(200);
    });
  });
}

for (const kind of DATABASES) {
  describe(`passkeys through tRPC on ${kind}`, () => {
    const s = useServer(kind);

    it("signupOptions, signup, loginOptions, login, list; possession alone does not pass MFA", async () => {
      const anon = s.trpc();
      const device = new SoftAuthenticator(ORIGIN);
      const options = await anon.passkeys.signupOptions.mutate({ username: "zed", display_name: "Zed" });
      const user = await anon.passkeys.signup.mutate({
        ukey: options.ukey,
        username: "zed",
        credential: device.create(options) as never,
      });
      expect(user).toMatchObject({ username: "zed" });
      const request = await anon.passkeys.loginOptions.mutate({ username: "zed" });
      const login = await anon.passkeys.login.mutate({ username: "zed", credential: device.get(request) as never });
      const key = (login as { auth_token: string }).auth_token;
      const list = await s.trpc(tokenAuth(key)).passkeys.list.query();
      expect(list.map((p) => p.name)).toEqual(["Passkey"]);
      const failed = await anon.passkeys.login
        .mutate({ username: "zed", credential: device.get(request) as never })
        .catch((e: { data?: { code?: string } }) => e.data?.code);
      expect(failed).toBe("webauthn_failed"); // the challenge was spent

      // Possession alone (no user verification) does not pass an account with MFA on.
      const { backup } = await enrolApp(s, "zoe");
      const both = await secondStep(s, await firstStep(s, "zoe"), backup[0]);
      const zoe = tokenAuth(both.json.auth_token);
      const blind = new SoftAuthenticator(ORIGIN, "localhost", false);
      const reg = await s.request("POST", "/auth/passkeys/register_request/", { headers: zoe });
      const added = await s.request("POST", "/auth/passkeys/register/", { headers: zoe, json: blind.create(reg.json) });
      expect(added.status, added.text).toBe(201);
      const refused = await passkeyLogin(s, "zoe", blind);
      expect([refused.status, refused.json.code]).toEqual([403, "mfa_required"]);
    });
  });
}
