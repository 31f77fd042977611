// Djoser's password flows end to end: set_password, reset_password, reset_password_confirm, through
// REST (exact bodies and statuses) and the typed tRPC client (data.code, data.fields), on PGlite
// and PostgreSQL. Sessions after a password change are in account-sessions.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mail, uidToken } from "../../helpers/mail.ts";
import { DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";
import { type Client, failure, trpcClient } from "../../helpers/trpc.ts";

const PW = "Kq7!vLp2#Zx9";
const NEW_PW = "Vb4$nQ8&wT3m";
const NO_ACCOUNT = { detail: "No active account found with the given credentials" };
const REQUIRED = ["This field is required."];
const BAD_UID = { uid: ["Invalid user id or user doesn't exist."] };
const BAD_TOKEN = { token: ["Invalid token for given user."] };
const MISMATCH = { non_field_errors: ["The two password fields didn't match."] };
const TOO_WEAK = [
  "This password is too short. It must contain at least 8 characters.",
  "This password is too common.",
  "This password is entirely numeric.",
];
const RESET_SUBJECT = "Password reset on Portcullis";

type Res = Awaited<ReturnType<TestServer["request"]>>;

const client = (s: TestServer, authorization?: string): Client => trpcClient(s, authorization ? { authorization } : {});
const tokenHeader = (key: string) => ({ authorization: `Token ${key}` });

/** Status and body, the body byte for byte: DRF's field order is part of the answer. */
function expectAnswer(res: Res, status: number, body?: unknown) {
  expect([res.status, res.text]).toEqual([status, body === undefined ? "" : JSON.stringify(body)]);
}

async function register(s: TestServer, username: string, email = `${username}@example.com`): Promise<number> {
  const res = await s.request("POST", "/auth/users/", { json: { username, email, password: PW } });
  expect(res.status, res.text).toBe(201);
  return res.json.id;
}

const tokenLogin = (s: TestServer, username: string, password: string) =>
  s.request("POST", "/auth/token/login/", { json: { username, password } });

async function login(s: TestServer, username: string, password = PW): Promise<string> {
  const res = await tokenLogin(s, username, password);
  expect(res.status, res.text).toBe(200);
  return res.json.auth_token;
}

/**
 * The old password is refused at login, the new one logs in. A login ends the outstanding reset
 * links (jwt/create too, by the link epoch): before a link is used, check with expectRefused.
 */
async function expectPasswordIs(s: TestServer, username: string, current: string, old: string) {
  await expectRefused(s, username, old);
  expect((await s.request("POST", "/auth/jwt/create/", { json: { username, password: current } })).status).toBe(200);
}

/** This password does not log in (a failed login leaves the outstanding links alone). */
async function expectRefused(s: TestServer, username: string, password: string) {
  const refused = await s.request("POST", "/auth/jwt/create/", { json: { username, password } });
  expect([refused.status, refused.json]).toEqual([401, NO_ACCOUNT]);
}

const mailsTo = (s: TestServer, to: string, subject?: string): Mail[] =>
  s.mails().filter((m) => m.to === to && (subject === undefined || m.subject === subject));

/** The uid and token of the only password-reset mail to `to`. */
function resetLink(s: TestServer, to: string, subject = RESET_SUBJECT) {
  const mails = mailsTo(s, to, subject);
  expect(mails, `reset mails to ${to}`).toHaveLength(1);
  expect(mails[0]!.links).toHaveLength(1);
  return uidToken(mails[0]!.links[0]!);
}

async function requestReset(s: TestServer, email: string, subject = RESET_SUBJECT) {
  expectAnswer(await s.request("POST", "/auth/users/reset_password/", { json: { email } }), 204);
  return resetLink(s, email, subject);
}

const uidOf = (link: string) => Number(Buffer.from(uidToken(link).uid, "base64url").toString());

const setPassword = (s: TestServer, key: string, json: unknown) =>
  s.request("POST", "/auth/users/set_password/", { headers: tokenHeader(key), json });
const confirm = (s: TestServer, json: unknown) => s.request("POST", "/auth/users/reset_password_confirm/", { json });

describe.each(DATABASES)("password flows on %s", (kind) => {
  describe("Djoser's defaults (no retype, no confirmation mail, emails not found kept secret)", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind);
    });
    afterAll(async () => s?.stop());

    it("set_password needs a login", async () => {
      expectAnswer(
        await s.request("POST", "/auth/users/set_password/", { json: { new_password: NEW_PW, current_password: PW } }),
        401,
        { detail: "Authentication credentials were not provided." },
      );
    });

    it("set_password: missing and blank fields in Djoser's order (new_password, current_password); a wrong current_password is a field error beside them", async () => {
      await register(s, "fields");
      const key = await login(s, "fields");
      expectAnswer(await setPassword(s, key, {}), 400, { new_password: REQUIRED, current_password: REQUIRED });
      expectAnswer(await setPassword(s, key, { new_password: "", current_password: "  " }), 400, {
        new_password: ["This field may not be blank."],
        current_password: ["This field may not be blank."],
      });
      expectAnswer(await setPassword(s, key, { current_password: "not-my-password" }), 400, {
        new_password: REQUIRED,
        current_password: ["Invalid password."],
      });
      expectAnswer(await setPassword(s, key, { new_password: NEW_PW }), 400, { current_password: REQUIRED });
      await expectPasswordIs(s, "fields", PW, NEW_PW);
    });

    it("set_password: a wrong current_password is refused and changes nothing", async () => {
      await register(s, "wrongcurrent");
      const key = await login(s, "wrongcurrent");
      expectAnswer(await setPassword(s, key, { new_password: NEW_PW, current_password: `${PW}x` }), 400, {
        current_password: ["Invalid password."],
      });
      // The field phase comes first: a weak new password is not reported beside a wrong current one.
      expectAnswer(await setPassword(s, key, { new_password: "123", current_password: `${PW}x` }), 400, {
        current_password: ["Invalid password."],
      });
      await expectPasswordIs(s, "wrongcurrent", PW, NEW_PW);
    });

    it("set_password: a weak new password gets every Django validator's message, similarity to the username included", async () => {
      await register(s, "marigold77", "");
      const key = await login(s, "marigold77");
      expectAnswer(await setPassword(s, key, { new_password: "123", current_password: PW }), 400, {
        new_password: TOO_WEAK,
      });
      expectAnswer(await setPassword(s, key, { new_password: "password", current_password: PW }), 400, {
        new_password: ["This password is too common."],
      });
      expectAnswer(await setPassword(s, key, { new_password: "Marigold77", current_password: PW }), 400, {
        new_password: ["The password is too similar to the username."],
      });
      await expectPasswordIs(s, "marigold77", PW, NEW_PW);
    });

    it("set_password: 204 with no body; the old password is refused at login, the new one works; no mail (PASSWORD_CHANGED_EMAIL_CONFIRMATION off)", async () => {
      await register(s, "changer");
      const key = await login(s, "changer");
      expectAnswer(await setPassword(s, key, { new_password: NEW_PW, current_password: PW }), 204);
      await expectPasswordIs(s, "changer", NEW_PW, PW);
      expect(mailsTo(s, "changer@example.com")).toEqual([]);
    });

    it("set_password: re_new_password is not a field while SET_PASSWORD_RETYPE is off (a differing one is ignored)", async () => {
      await register(s, "noretype");
      const key = await login(s, "noretype");
      expectAnswer(
        await setPassword(s, key, { new_password: NEW_PW, re_new_password: "something else", current_password: PW }),
        204,
      );
      await expectPasswordIs(s, "noretype", NEW_PW, PW);
    });

    it("set_password in shared token mode: the key every device holds ends; a login hands out the caller's new key", async () => {
      await register(s, "sharedkey");
      const key = await login(s, "sharedkey");
      expectAnswer(await setPassword(s, key, { new_password: NEW_PW, current_password: PW }), 204);
      expect((await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) })).status).toBe(401);
      const fresh = await login(s, "sharedkey", NEW_PW);
      expect(fresh).not.toBe(key);
      expect((await s.request("GET", "/auth/users/me/", { headers: tokenHeader(fresh) })).status).toBe(200);
    });

    it("reset_password: a missing, blank or invalid email is a 400 naming the field", async () => {
      expectAnswer(await s.request("POST", "/auth/users/reset_password/", { json: {} }), 400, { email: REQUIRED });
      expectAnswer(await s.request("POST", "/auth/users/reset_password/"), 400, { email: REQUIRED });
      expectAnswer(await s.request("POST", "/auth/users/reset_password/", { json: { email: " " } }), 400, {
        email: ["This field may not be blank."],
      });
      expectAnswer(await s.request("POST", "/auth/users/reset_password/", { json: { email: "not-an-email" } }), 400, {
        email: ["Enter a valid email address."],
      });
    });

    it("reset_password: an unknown email, an inactive user's and one without a usable password answer 204 and mail nothing", async () => {
      const inactive = await register(s, "sleeper");
      await s.deps.prisma.user.update({ where: { id: inactive }, data: { isActive: false } });
      const unusable = await register(s, "nopassword");
      await s.deps.prisma.user.update({ where: { id: unusable }, data: { password: "!unusable" } });
      const before = s.mails().length;
      for (const email of ["nobody@example.com", "sleeper@example.com", "nopassword@example.com"]) {
        expectAnswer(await s.request("POST", "/auth/users/reset_password/", { json: { email } }), 204);
      }
      expect(s.mails()).toHaveLength(before);
    });

    it("reset_password: 204 and a mail with Djoser's default link (DOMAIN, PROTOCOL, PASSWORD_RESET_CONFIRM_URL) and the username", async () => {
      const id = await register(s, "forgetful");
      expectAnswer(
        await s.request("POST", "/auth/users/reset_password/", { json: { email: "forgetful@example.com" } }),
        204,
      );
      const [mail] = mailsTo(s, "forgetful@example.com");
      expect(mail!.subject).toBe(RESET_SUBJECT);
      expect(mail!.links).toEqual([
        expect.stringMatching(
          /^http:\/\/localhost:8000\/#\/password\/reset\/confirm\/[A-Za-z0-9_-]+\/[0-9a-z]+-[0-9a-f]{32}$/,
        ),
      ]);
      expect(mail!.text).toContain("Your username, in case you've forgotten: forgetful");
      expect(uidOf(mail!.links[0]!)).toBe(id);
    });

    it("reset_password: an email two active users share mails both, each their own link", async () => {
      const first = await register(s, "twin1", "twins@example.com");
      const second = await register(s, "twin2", "twins@example.com");
      expectAnswer(
        await s.request("POST", "/auth/users/reset_password/", { json: { email: "twins@example.com" } }),
        204,
      );
      const mails = mailsTo(s, "twins@example.com", RESET_SUBJECT);
      expect(mails).toHaveLength(2);
      const byUser = new Map(mails.map((m) => [uidOf(m.links[0]!), m]));
      expect([...byUser.keys()].sort((a, b) => a - b)).toEqual([first, second]);
      expect(byUser.get(first)!.text).toContain("Your username, in case you've forgotten: twin1");
      expect(byUser.get(second)!.text).toContain("Your username, in case you've forgotten: twin2");
      // Each link resets its own user only.
      const link2 = uidToken(byUser.get(second)!.links[0]!);
      expectAnswer(await confirm(s, { ...link2, new_password: NEW_PW }), 204);
      await expectPasswordIs(s, "twin2", NEW_PW, PW);
      await expectPasswordIs(s, "twin1", PW, NEW_PW);
    });

    it("reset_password_confirm: the mailed link sets the new password: 204, the old one is refused, the new one works, no confirmation mail", async () => {
      await register(s, "resetter");
      const link = await requestReset(s, "resetter@example.com");
      expectAnswer(await confirm(s, { ...link, new_password: NEW_PW }), 204);
      await expectPasswordIs(s, "resetter", NEW_PW, PW);
      expect(mailsTo(s, "resetter@example.com").map((m) => m.subject)).toEqual([RESET_SUBJECT]);
    });

    it("reset_password_confirm: re_new_password is not a field while PASSWORD_RESET_CONFIRM_RETYPE is off", async () => {
      await register(s, "noretypereset");
      const link = await requestReset(s, "noretypereset@example.com");
      expectAnswer(await confirm(s, { ...link, new_password: NEW_PW, re_new_password: "something else" }), 204);
      await expectPasswordIs(s, "noretypereset", NEW_PW, PW);
    });

    it("reset_password_confirm: errors in order — fields, uid, token, then the weak password — and none uses the link up", async () => {
      await register(s, "ordered");
      const link = await requestReset(s, "ordered@example.com");
      const otherUid = Buffer.from("999999").toString("base64url");
      const tampered = `${link.token.slice(0, -1)}${link.token.endsWith("0") ? "1" : "0"}`;
      expectAnswer(await confirm(s, {}), 400, { uid: REQUIRED, token: REQUIRED, new_password: REQUIRED });
      expectAnswer(await confirm(s, { uid: "", token: link.token, new_password: NEW_PW }), 400, {
        uid: ["This field may not be blank."],
      });
      // The link before the password (Djoser checks it last): no link, no validator run.
      expectAnswer(await confirm(s, { uid: "garbage!", token: "garbage", new_password: "123" }), 400, BAD_UID);
      expectAnswer(await confirm(s, { uid: link.uid, token: "garbage", new_password: "123" }), 400, BAD_TOKEN);
      expectAnswer(await confirm(s, { ...link, new_password: "123" }), 400, { new_password: TOO_WEAK });
      expectAnswer(await confirm(s, { uid: "garbage!", token: tampered, new_password: NEW_PW }), 400, BAD_UID);
      expectAnswer(await confirm(s, { uid: otherUid, token: link.token, new_password: NEW_PW }), 400, BAD_UID);
      expectAnswer(await confirm(s, { uid: link.uid, token: tampered, new_password: NEW_PW }), 400, BAD_TOKEN);
      expectAnswer(await confirm(s, { uid: link.uid, token: "1-2", new_password: NEW_PW }), 400, BAD_TOKEN);
      await expectRefused(s, "ordered", NEW_PW);
      expectAnswer(await confirm(s, { ...link, new_password: NEW_PW }), 204);
      await expectPasswordIs(s, "ordered", NEW_PW, PW);
    });

    it("reset_password_confirm: a link works once; the second use is a 400 on the token", async () => {
      await register(s, "once");
      const link = await requestReset(s, "once@example.com");
      expectAnswer(await confirm(s, { ...link, new_password: NEW_PW }), 204);
      expectAnswer(await confirm(s, { ...link, new_password: "Zz8#another-one" }), 400, BAD_TOKEN);
      await expectPasswordIs(s, "once", NEW_PW, "Zz8#another-one");
    });

    it("reset_password_confirm: a token login after the mail invalidates the link (last_login is in its hash)", async () => {
      await register(s, "loggedin");
      const link = await requestReset(s, "loggedin@example.com");
      await login(s, "loggedin");
      expectAnswer(await confirm(s, { ...link, new_password: NEW_PW }), 400, BAD_TOKEN);
      await expectPasswordIs(s, "loggedin", PW, NEW_PW);
    });

    it("reset_password_confirm: ten concurrent confirms with one link → exactly one 204, nine 400s on the token, and the winner's password", async () => {
      await register(s, "racer");
      const link = await requestReset(s, "racer@example.com");
      const passwords = Array.from({ length: 10 }, (_, i) => `${NEW_PW}-${i}`);
      const results = await Promise.all(passwords.map((new_password) => confirm(s, { ...link, new_password })));
      const won = results.flatMap((r, i) => (r.status === 204 ? [i] : []));
      expect(won).toHaveLength(1);
      for (const r of results.filter((r) => r.status !== 204)) expectAnswer(r, 400, BAD_TOKEN);
      expect((await tokenLogin(s, "racer", passwords[won[0]!]!)).status).toBe(200);
      // The nine others fail; after LOGIN_LOCKOUT's five free failures the name waits (429).
      const losers = passwords.filter((_, i) => i !== won[0]);
      const statuses = [];
      for (const password of losers) statuses.push((await tokenLogin(s, "racer", password)).status);
      expect(statuses).toEqual([400, 400, 400, 400, 400, 429, 429, 429, 429]);
    });

    it("tRPC setPassword: required fields, wrong current_password and weak passwords as data.fields; success changes the password", async () => {
      await register(s, "trpcsetter");
      const as = client(s, `Token ${await login(s, "trpcsetter")}`);
      const empty = await failure(as.users.setPassword.mutate({}));
      expect([empty.data?.code, empty.data?.httpStatus, empty.data?.fields]).toEqual([
        "invalid_input",
        400,
        { new_password: REQUIRED, current_password: REQUIRED },
      ]);
      const wrong = await failure(as.users.setPassword.mutate({ new_password: NEW_PW, current_password: "nope-nope" }));
      expect([wrong.data?.code, wrong.data?.fields]).toEqual([
        "invalid_input",
        { current_password: ["Invalid password."] },
      ]);
      const weak = await failure(as.users.setPassword.mutate({ new_password: "trpcsetter1", current_password: PW }));
      expect(weak.data?.fields).toEqual({ new_password: ["The password is too similar to the username."] });
      const anon = await failure(client(s).users.setPassword.mutate({ new_password: NEW_PW, current_password: PW }));
      expect(anon.data?.code).toBe("not_authenticated");
      await expectPasswordIs(s, "trpcsetter", PW, NEW_PW);
      // Shared key mode: the caller's key ended with every other device's; the answer is the new one.
      expect(await as.users.setPassword.mutate({ new_password: NEW_PW, current_password: PW })).toEqual({
        auth_token: expect.any(String),
      });
      await expectPasswordIs(s, "trpcsetter", NEW_PW, PW);
    });

    it("tRPC resetPassword and resetPasswordConfirm: invalid email, silent unknown email, then the mailed link end to end, once", async () => {
      await register(s, "trpcreset");
      const anon = client(s);
      const bad = await failure(anon.users.resetPassword.mutate({ email: "nope" }));
      expect([bad.data?.code, bad.data?.fields]).toEqual([
        "invalid_input",
        { email: ["Enter a valid email address."] },
      ]);
      expect((await failure(anon.users.resetPassword.mutate({}))).data?.fields).toEqual({ email: REQUIRED });
      const before = s.mails().length;
      expect(await anon.users.resetPassword.mutate({ email: "nobody-trpc@example.com" })).toBeUndefined();
      expect(s.mails()).toHaveLength(before);

      expect(await anon.users.resetPassword.mutate({ email: "trpcreset@example.com" })).toBeUndefined();
      const link = resetLink(s, "trpcreset@example.com");
      const missing = await failure(anon.users.resetPasswordConfirm.mutate({}));
      expect([missing.data?.code, missing.data?.fields]).toEqual([
        "invalid_input",
        { uid: REQUIRED, token: REQUIRED, new_password: REQUIRED },
      ]);
      expect(
        (await failure(anon.users.resetPasswordConfirm.mutate({ uid: "x", token: "y", new_password: "123" }))).data
          ?.fields,
      ).toEqual(BAD_UID);
      expect(
        (await failure(anon.users.resetPasswordConfirm.mutate({ uid: "x", token: link.token, new_password: NEW_PW })))
          .data?.fields,
      ).toEqual(BAD_UID);
      expect(
        (await failure(anon.users.resetPasswordConfirm.mutate({ uid: link.uid, token: "1-2", new_password: NEW_PW })))
          .data?.fields,
      ).toEqual(BAD_TOKEN);
      expect(await anon.users.resetPasswordConfirm.mutate({ ...link, new_password: NEW_PW })).toBeUndefined();
      const again = await failure(anon.users.resetPasswordConfirm.mutate({ ...link, new_password: NEW_PW }));
      expect([again.data?.code, again.data?.httpStatus, again.data?.fields]).toEqual(["invalid_input", 400, BAD_TOKEN]);
      await expectPasswordIs(s, "trpcreset", NEW_PW, PW);
    });
  });

  describe("retypes on, confirmation mail on, emails not found shown, a custom link (SITE_NAME, DOMAIN, PROTOCOL, PASSWORD_RESET_CONFIRM_URL)", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, {
        DJOSER_SET_PASSWORD_RETYPE: "true",
        DJOSER_PASSWORD_RESET_CONFIRM_RETYPE: "true",
        DJOSER_PASSWORD_CHANGED_EMAIL_CONFIRMATION: "true",
        DJOSER_PASSWORD_RESET_SHOW_EMAIL_NOT_FOUND: "true",
        DJOSER_SITE_NAME: "Acme",
        DJOSER_DOMAIN: "app.example.org",
        DJOSER_PROTOCOL: "https",
        DJOSER_PASSWORD_RESET_CONFIRM_URL: "account/new-password/{uid}/{token}/",
      });
    });
    afterAll(async () => s?.stop());

    const CHANGED = "Acme - Your password has been successfully changed!";
    const ACME_RESET = "Password reset on Acme";

    it("set_password with SET_PASSWORD_RETYPE: re_new_password is required (new_password, re_new_password, current_password), weak before mismatch, a mismatch is a non-field error", async () => {
      await register(s, "retyper");
      const key = await login(s, "retyper");
      expectAnswer(await setPassword(s, key, {}), 400, {
        new_password: REQUIRED,
        re_new_password: REQUIRED,
        current_password: REQUIRED,
      });
      expectAnswer(await setPassword(s, key, { new_password: NEW_PW, current_password: PW }), 400, {
        re_new_password: REQUIRED,
      });
      expectAnswer(
        await setPassword(s, key, { new_password: "123", re_new_password: "456", current_password: PW }),
        400,
        { new_password: TOO_WEAK },
      );
      expectAnswer(
        await setPassword(s, key, { new_password: NEW_PW, re_new_password: `${NEW_PW}!`, current_password: PW }),
        400,
        MISMATCH,
      );
      await expectPasswordIs(s, "retyper", PW, NEW_PW);
      expect(mailsTo(s, "retyper@example.com")).toEqual([]);
      expectAnswer(
        await setPassword(s, key, { new_password: NEW_PW, re_new_password: NEW_PW, current_password: PW }),
        204,
      );
      await expectPasswordIs(s, "retyper", NEW_PW, PW);
    });

    it("tRPC setPassword with SET_PASSWORD_RETYPE: a mismatch is data.fields.non_field_errors", async () => {
      await register(s, "trpcretyper");
      const as = client(s, `Token ${await login(s, "trpcretyper")}`);
      const missing = await failure(as.users.setPassword.mutate({ new_password: NEW_PW, current_password: PW }));
      expect(missing.data?.fields).toEqual({ re_new_password: REQUIRED });
      const mismatch = await failure(
        as.users.setPassword.mutate({ new_password: NEW_PW, re_new_password: PW, current_password: PW }),
      );
      expect([mismatch.data?.code, mismatch.data?.fields]).toEqual(["invalid_input", MISMATCH]);
      expect(
        await as.users.setPassword.mutate({ new_password: NEW_PW, re_new_password: NEW_PW, current_password: PW }),
      ).toEqual({ auth_token: expect.any(String) });
      await expectPasswordIs(s, "trpcretyper", NEW_PW, PW);
    });

    it("PASSWORD_CHANGED_EMAIL_CONFIRMATION: set_password mails the user, saying the other sessions were signed out", async () => {
      await register(s, "notified");
      const key = await login(s, "notified");
      expectAnswer(
        await setPassword(s, key, { new_password: NEW_PW, re_new_password: NEW_PW, current_password: PW }),
        204,
      );
      const mails = mailsTo(s, "notified@example.com");
      expect(mails.map((m) => m.subject)).toEqual([CHANGED]);
      expect(mails[0]!.text).toContain("Your password has been changed!");
      expect(mails[0]!.text).toContain("Your sessions on other devices have been signed out");
      expect(mails[0]!.text).toContain("The Acme team");
    });

    it("PASSWORD_CHANGED_EMAIL_CONFIRMATION: a reset through the mailed link mails the confirmation too", async () => {
      await register(s, "resetnotified");
      const link = await requestReset(s, "resetnotified@example.com", ACME_RESET);
      expectAnswer(await confirm(s, { ...link, new_password: NEW_PW, re_new_password: NEW_PW }), 204);
      expect(mailsTo(s, "resetnotified@example.com", CHANGED)).toHaveLength(1);
    });

    it("reset_password: the link follows SITE_NAME, PROTOCOL, DOMAIN and PASSWORD_RESET_CONFIRM_URL, and leads to the reset", async () => {
      const id = await register(s, "custom");
      expectAnswer(
        await s.request("POST", "/auth/users/reset_password/", { json: { email: "custom@example.com" } }),
        204,
      );
      const [mail] = mailsTo(s, "custom@example.com", ACME_RESET);
      const uid = Buffer.from(String(id)).toString("base64url");
      expect(mail!.links).toEqual([
        expect.stringMatching(
          new RegExp(`^https://app\\.example\\.org/account/new-password/${uid}/[0-9a-z]+-[0-9a-f]{32}/$`),
        ),
      ]);
      expect(mail!.html).toContain(`href="${mail!.links[0]}"`);
      expectAnswer(
        await confirm(s, { ...uidToken(mail!.links[0]!), new_password: NEW_PW, re_new_password: NEW_PW }),
        204,
      );
      await expectPasswordIs(s, "custom", NEW_PW, PW);
    });

    it("PASSWORD_RESET_SHOW_EMAIL_NOT_FOUND: an unknown or inactive user's email is a 400 whose body is the JSON list [message]; a known one still 204", async () => {
      const sleeper = await register(s, "shownsleeper");
      await s.deps.prisma.user.update({ where: { id: sleeper }, data: { isActive: false } });
      for (const email of ["nobody@example.com", "shownsleeper@example.com"]) {
        const res = await s.request("POST", "/auth/users/reset_password/", { json: { email } });
        expectAnswer(res, 400, ["User with given email does not exist."]);
        expect(res.headers.get("content-type")).toBe("application/json");
      }
      expect(mailsTo(s, "shownsleeper@example.com")).toEqual([]);
      await register(s, "shownknown");
      expectAnswer(
        await s.request("POST", "/auth/users/reset_password/", { json: { email: "shownknown@example.com" } }),
        204,
      );
      const err = await failure(client(s).users.resetPassword.mutate({ email: "nobody@example.com" }));
      expect([err.data?.code, err.data?.httpStatus, err.message]).toEqual([
        "email_not_found",
        400,
        "User with given email does not exist.",
      ]);
    });

    it("reset_password_confirm with PASSWORD_RESET_CONFIRM_RETYPE: re_new_password required; a bad uid before a weak password or a mismatch", async () => {
      await register(s, "retypereset");
      const link = await requestReset(s, "retypereset@example.com", ACME_RESET);
      expectAnswer(await confirm(s, {}), 400, {
        uid: REQUIRED,
        token: REQUIRED,
        new_password: REQUIRED,
        re_new_password: REQUIRED,
      });
      expectAnswer(await confirm(s, { ...link, new_password: NEW_PW }), 400, { re_new_password: REQUIRED });
      expectAnswer(
        await confirm(s, { uid: "garbage!", token: "x", new_password: "123", re_new_password: "456" }),
        400,
        BAD_UID,
      );
      expectAnswer(
        await confirm(s, { uid: "garbage!", token: "x", new_password: NEW_PW, re_new_password: PW }),
        400,
        BAD_UID,
      );
      expectAnswer(
        await confirm(s, { uid: "garbage!", token: "x", new_password: NEW_PW, re_new_password: NEW_PW }),
        400,
        BAD_UID,
      );
      expectAnswer(await confirm(s, { ...link, new_password: "123", re_new_password: "456" }), 400, {
        new_password: TOO_WEAK,
      });
      expectAnswer(await confirm(s, { ...link, new_password: NEW_PW, re_new_password: PW }), 400, MISMATCH);
      await expectRefused(s, "retypereset", NEW_PW);
      expectAnswer(await confirm(s, { ...link, new_password: NEW_PW, re_new_password: NEW_PW }), 204);
      await expectPasswordIs(s, "retypereset", NEW_PW, PW);
      // The link is used now: that is said before the mismatch.
      const trpc = await failure(
        client(s).users.resetPasswordConfirm.mutate({ ...link, new_password: NEW_PW, re_new_password: PW }),
      );
      expect(trpc.data?.fields).toEqual(BAD_TOKEN);
    });
  });

  describe("PASSWORD_RESET_TIMEOUT=1", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, { PASSWORD_RESET_TIMEOUT: "1" });
    });
    afterAll(async () => s?.stop());

    it("reset_password_confirm: a link older than the timeout is a 400 on the token; a fresh one works", async () => {
      await register(s, "slowpoke");
      const stale = await requestReset(s, "slowpoke@example.com");
      await new Promise((r) => setTimeout(r, 2_100));
      expectAnswer(await confirm(s, { ...stale, new_password: NEW_PW }), 400, BAD_TOKEN);
      await expectPasswordIs(s, "slowpoke", PW, NEW_PW);
      expectAnswer(
        await s.request("POST", "/auth/users/reset_password/", { json: { email: "slowpoke@example.com" } }),
        204,
      );
      const fresh = mailsTo(s, "slowpoke@example.com", RESET_SUBJECT)
        .map((m) => uidToken(m.links[0]!))
        .find((l) => l.token !== stale.token)!;
      expectAnswer(await confirm(s, { ...fresh, new_password: NEW_PW }), 204);
      await expectPasswordIs(s, "slowpoke", NEW_PW, PW);
    });
  });
});
