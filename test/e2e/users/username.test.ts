// Djoser's login-name flows end to end — set_username, reset_username, reset_username_confirm (set_email,
// reset_email, reset_email_confirm when USERNAME_FIELD is email) — and the email change through
// users/me (EMAIL_CHANGE_REQUIRES_PASSWORD). Through REST (exact bodies and statuses) and the typed
// tRPC client (data.code, data.fields), on PGlite and PostgreSQL.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Mail, uidToken } from "../../helpers/mail.ts";
import { DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";
import { type Client, failure, trpcClient } from "../../helpers/trpc.ts";

const PW = "Kq7!vLp2#Zx9";
const NO_ACCOUNT = { detail: "No active account found with the given credentials" };
const REQUIRED = ["This field is required."];
const WRONG_PASSWORD = ["Invalid password."];
const TAKEN = ["A user with that username already exists."];
const BAD_USERNAME = [
  "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
];
const BAD_UID = { uid: ["Invalid user id or user doesn't exist."] };
const BAD_TOKEN = { token: ["Invalid token for given user."] };
const MISMATCH = { non_field_errors: ["The two username fields didn't match."] };
const EMAIL_NOT_FOUND = ["User with given email does not exist."];
const RESET_SUBJECT = "Username reset on Portcullis";
const CHANGED_SUBJECT = "Portcullis - Your username has been successfully changed!";

type Res = Awaited<ReturnType<TestServer["request"]>>;

const client = (s: TestServer, authorization?: string): Client => trpcClient(s, authorization ? { authorization } : {});
const tokenHeader = (key: string) => ({ authorization: `Token ${key}` });

/** Status and body, the body byte for byte: DRF's field order is part of the answer. */
function expectAnswer(res: Res, status: number, body?: unknown) {
  expect([res.status, res.text]).toEqual([status, body === undefined ? "" : JSON.stringify(body)]);
}

/** Registers (username or email login) without logging in: last_login stays empty. */
async function register(s: TestServer, login: string, email = `${login}@example.com`): Promise<number> {
  const byEmail = login.includes("@");
  const res = await s.request("POST", "/auth/users/", {
    json: byEmail ? { email: login, password: PW } : { username: login, email, password: PW },
  });
  expect(res.status, res.text).toBe(201);
  return res.json.id;
}

/** Registers and logs in with an opaque token. */
async function signUp(
  s: TestServer,
  login: string,
  email = `${login}@example.com`,
): Promise<{ id: number; key: string }> {
  const byEmail = login.includes("@");
  const id = await register(s, login, email);
  const key = await s.request("POST", "/auth/token/login/", {
    json: { [byEmail ? "email" : "username"]: login, password: PW },
  });
  expect(key.status, key.text).toBe(200);
  return { id, key: key.json.auth_token };
}

/**
 * The old login is refused, the new one works. A login ends the outstanding reset links (jwt/create
 * too, by the link epoch): before a link is used, check with expectRefused.
 */
async function expectLoginIs(s: TestServer, current: string, old: string) {
  const field = current.includes("@") ? "email" : "username";
  await expectRefused(s, old);
  const ok = await s.request("POST", "/auth/jwt/create/", { json: { [field]: current, password: PW } });
  expect(ok.status, `login as ${current}`).toBe(200);
}

/** This login name does not log in (a failed login leaves the outstanding links alone). */
async function expectRefused(s: TestServer, login: string) {
  const json = { [login.includes("@") ? "email" : "username"]: login, password: PW };
  const refused = await s.request("POST", "/auth/jwt/create/", { json });
  expect([refused.status, refused.json], `login as ${login}`).toEqual([401, NO_ACCOUNT]);
}

const mailsTo = (s: TestServer, to: string, subject?: string): Mail[] =>
  s.mails().filter((m) => m.to === to && (subject === undefined || m.subject === subject));

async function requestReset(s: TestServer, path: string, email: string) {
  expectAnswer(await s.request("POST", path, { json: { email } }), 204);
  const mails = mailsTo(s, email, RESET_SUBJECT);
  expect(mails, `reset mails to ${email}`).toHaveLength(1);
  return { mail: mails[0]!, link: uidToken(mails[0]!.links[0]!) };
}

describe.each(DATABASES)("login-name flows on %s", (kind) => {
  describe("Djoser's defaults (USERNAME_FIELD=username, no retype, no confirmation mail, emails not found kept secret)", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind);
    });
    afterAll(async () => s?.stop());

    const setUsername = (key: string, json: unknown) =>
      s.request("POST", "/auth/users/set_username/", { headers: tokenHeader(key), json });
    const confirm = (json: unknown) => s.request("POST", "/auth/users/reset_username_confirm/", { json });

    it("set_username needs a login", async () => {
      expectAnswer(
        await s.request("POST", "/auth/users/set_username/", { json: { current_password: PW, new_username: "x" } }),
        401,
        { detail: "Authentication credentials were not provided." },
      );
    });

    it("set_username: missing fields in Djoser's order (current_password, new_username); a wrong password and a taken name are reported together", async () => {
      const { key } = await signUp(s, "ordering");
      expectAnswer(await setUsername(key, {}), 400, { current_password: REQUIRED, new_username: REQUIRED });
      expectAnswer(await setUsername(key, { current_password: "nope-nope" }), 400, {
        current_password: WRONG_PASSWORD,
        new_username: REQUIRED,
      });
      expectAnswer(await setUsername(key, { new_username: "ordering" }), 400, {
        current_password: REQUIRED,
        new_username: TAKEN,
      });
      expectAnswer(await setUsername(key, { current_password: "nope-nope", new_username: "ordering" }), 400, {
        current_password: WRONG_PASSWORD,
        new_username: TAKEN,
      });
      await expectLoginIs(s, "ordering", "ordering2");
    });

    it("set_username: a wrong current_password is refused and changes nothing", async () => {
      const { key } = await signUp(s, "wrongpw");
      expectAnswer(await setUsername(key, { current_password: `${PW}x`, new_username: "wrongpw2" }), 400, {
        current_password: WRONG_PASSWORD,
      });
      await expectLoginIs(s, "wrongpw", "wrongpw2");
    });

    it("set_username: a name already taken is refused, one's own included", async () => {
      await register(s, "occupied");
      const { id, key } = await signUp(s, "squatter");
      expectAnswer(await setUsername(key, { current_password: PW, new_username: "occupied" }), 400, {
        new_username: TAKEN,
      });
      expectAnswer(await setUsername(key, { current_password: PW, new_username: "squatter" }), 400, {
        new_username: TAKEN,
      });
      expectAnswer(await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) }), 200, {
        email: "squatter@example.com",
        id,
        username: "squatter",
      });
    });

    it("set_username: invalid characters and over-long names get Django's messages", async () => {
      const { key } = await signUp(s, "charset");
      expectAnswer(await setUsername(key, { current_password: PW, new_username: "no spaces!" }), 400, {
        new_username: BAD_USERNAME,
      });
      expectAnswer(await setUsername(key, { current_password: PW, new_username: "x".repeat(151) }), 400, {
        new_username: ["Ensure this field has no more than 150 characters."],
      });
      expectAnswer(await setUsername(key, { current_password: PW, new_username: "  " }), 400, {
        new_username: ["This field may not be blank."],
      });
      await expectLoginIs(s, "charset", "no spaces!");
    });

    it("set_username: 204; the old name is refused at login, the new one works; the caller's token lives on; no mail (USERNAME_CHANGED_EMAIL_CONFIRMATION off)", async () => {
      const { id, key } = await signUp(s, "renamer");
      expectAnswer(await setUsername(key, { current_password: PW, new_username: "renamed" }), 204);
      await expectLoginIs(s, "renamed", "renamer");
      expectAnswer(await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) }), 200, {
        email: "renamer@example.com",
        id,
        username: "renamed",
      });
      expect(mailsTo(s, "renamer@example.com")).toEqual([]);
    });

    it("set_username: re_new_username is not a field while SET_USERNAME_RETYPE is off (a differing one is ignored)", async () => {
      const { key } = await signUp(s, "noretype");
      expectAnswer(
        await setUsername(key, { current_password: PW, new_username: "noretype2", re_new_username: "whatever" }),
        204,
      );
      await expectLoginIs(s, "noretype2", "noretype");
    });

    it("reset_username: a missing or invalid email is a 400; an unknown one 204 without mail", async () => {
      expectAnswer(await s.request("POST", "/auth/users/reset_username/", { json: {} }), 400, { email: REQUIRED });
      expectAnswer(await s.request("POST", "/auth/users/reset_username/", { json: { email: "nope" } }), 400, {
        email: ["Enter a valid email address."],
      });
      const before = s.mails().length;
      expectAnswer(
        await s.request("POST", "/auth/users/reset_username/", { json: { email: "nobody@example.com" } }),
        204,
      );
      expect(s.mails()).toHaveLength(before);
    });

    it("reset_username → mail → reset_username_confirm: the link sets the new name (204), the old one is refused at login", async () => {
      const id = await register(s, "amnesiac");
      const { mail, link } = await requestReset(s, "/auth/users/reset_username/", "amnesiac@example.com");
      expect(mail.links).toEqual([
        expect.stringMatching(
          /^http:\/\/localhost:8000\/#\/username\/reset\/confirm\/[A-Za-z0-9_-]+\/[0-9a-z]+-[0-9a-f]{32}$/,
        ),
      ]);
      expect(mail.text).toContain("Your username, in case you've forgotten: amnesiac");
      expect(Buffer.from(link.uid, "base64url").toString()).toBe(String(id));
      expectAnswer(await confirm({ ...link, new_username: "remembered" }), 204);
      await expectLoginIs(s, "remembered", "amnesiac");
      expect(mailsTo(s, "amnesiac@example.com").map((m) => m.subject)).toEqual([RESET_SUBJECT]);
    });

    it("reset_username_confirm: uid and token are not declared fields — an empty body needs only new_username, a missing uid or token comes after the field checks", async () => {
      await register(s, "undeclared");
      const { link } = await requestReset(s, "/auth/users/reset_username/", "undeclared@example.com");
      expectAnswer(await confirm({}), 400, { new_username: REQUIRED });
      expectAnswer(await confirm({ new_username: "bad name!" }), 400, { new_username: BAD_USERNAME });
      expectAnswer(await confirm({ new_username: "fine" }), 400, BAD_UID);
      expectAnswer(await confirm({ new_username: "fine", uid: link.uid }), 400, BAD_TOKEN);
      expectAnswer(await confirm({ new_username: "fine", token: link.token }), 400, BAD_UID);
      expectAnswer(
        await confirm({
          new_username: "fine",
          uid: link.uid,
          token: `${link.token.slice(0, -1)}${link.token.endsWith("0") ? "1" : "0"}`,
        }),
        400,
        BAD_TOKEN,
      );
      await expectRefused(s, "fine");
      expectAnswer(await confirm({ ...link, new_username: "fine" }), 204);
      await expectLoginIs(s, "fine", "undeclared");
    });

    it("reset_username_confirm: a bad uid is reported before a taken username (Djoser's order told anyone which names are taken)", async () => {
      await register(s, "holder");
      expectAnswer(await confirm({ new_username: "holder", uid: "garbage!", token: "x" }), 400, BAD_UID);
      const { link } = await requestReset(s, "/auth/users/reset_username/", "holder@example.com");
      expectAnswer(await confirm({ new_username: "holder", uid: link.uid, token: "x" }), 400, BAD_TOKEN);
      expectAnswer(await confirm({ ...link, new_username: "holder" }), 400, { new_username: TAKEN });
    });

    it("reset_username_confirm: a link works once; the second use is a 400 on the token", async () => {
      await register(s, "oneshot");
      const { link } = await requestReset(s, "/auth/users/reset_username/", "oneshot@example.com");
      expectAnswer(await confirm({ ...link, new_username: "oneshot2" }), 204);
      expectAnswer(await confirm({ ...link, new_username: "oneshot3" }), 400, BAD_TOKEN);
      await expectLoginIs(s, "oneshot2", "oneshot3");
    });

    it("reset_username_confirm: a link works once even when used within the second of the last login (last_login is hashed to the second)", async () => {
      await signUp(s, "hasty");
      const { link } = await requestReset(s, "/auth/users/reset_username/", "hasty@example.com");
      expectAnswer(await confirm({ ...link, new_username: "hasty2" }), 204);
      expectAnswer(await confirm({ ...link, new_username: "hasty3" }), 400, BAD_TOKEN);
      await expectLoginIs(s, "hasty2", "hasty3");
    });

    it("reset_username_confirm: ten concurrent confirms with one link → exactly one 204, nine 400s on the token", async () => {
      // Three links, one after the other: the first race also opens the pool's connections, so the
      // later ones really run side by side on PostgreSQL.
      for (const user of ["crowded1", "crowded2", "crowded3"]) {
        await register(s, user);
        const { link } = await requestReset(s, "/auth/users/reset_username/", `${user}@example.com`);
        const names = Array.from({ length: 10 }, (_, i) => `${user}_${i}`);
        const results = await Promise.all(names.map((new_username) => confirm({ ...link, new_username })));
        expect(
          results.map((r) => r.status).filter((status) => status === 204),
          user,
        ).toHaveLength(1);
        for (const r of results.filter((r) => r.status !== 204)) expectAnswer(r, 400, BAD_TOKEN);
      }
    });

    it("tRPC setUsername: required fields, wrong password and taken names as data.fields; success renames", async () => {
      const { key } = await signUp(s, "trpcname");
      const as = client(s, `Token ${key}`);
      const empty = await failure(as.users.setUsername.mutate({}));
      expect([empty.data?.code, empty.data?.httpStatus, empty.data?.fields]).toEqual([
        "invalid_input",
        400,
        { current_password: REQUIRED, new_username: REQUIRED },
      ]);
      expect(
        (await failure(as.users.setUsername.mutate({ current_password: "nope-nope", new_username: "trpcname" }))).data
          ?.fields,
      ).toEqual({ current_password: WRONG_PASSWORD, new_username: TAKEN });
      expect(
        (await failure(as.users.setUsername.mutate({ current_password: PW, new_username: "bad name!" }))).data?.fields,
      ).toEqual({ new_username: BAD_USERNAME });
      expect(
        (await failure(client(s).users.setUsername.mutate({ current_password: PW, new_username: "x" }))).data?.code,
      ).toBe("not_authenticated");
      expect(await as.users.setUsername.mutate({ current_password: PW, new_username: "trpcname2" })).toBeUndefined();
      expect(await as.users.me.query()).toMatchObject({ username: "trpcname2" });
      await expectLoginIs(s, "trpcname2", "trpcname");
    });

    it("tRPC resetUsername and resetUsernameConfirm: the mailed link end to end, once", async () => {
      await register(s, "trpcreset");
      const anon = client(s);
      expect((await failure(anon.users.resetUsername.mutate({ email: "nope" }))).data?.fields).toEqual({
        email: ["Enter a valid email address."],
      });
      expect(await anon.users.resetUsername.mutate({ email: "nobody@example.com" })).toBeUndefined();
      expect(await anon.users.resetUsername.mutate({ email: "trpcreset@example.com" })).toBeUndefined();
      const link = uidToken(mailsTo(s, "trpcreset@example.com", RESET_SUBJECT)[0]!.links[0]!);
      expect((await failure(anon.users.resetUsernameConfirm.mutate({}))).data?.fields).toEqual({
        new_username: REQUIRED,
      });
      expect(
        (await failure(anon.users.resetUsernameConfirm.mutate({ new_username: "trpcreset2" }))).data?.fields,
      ).toEqual(BAD_UID);
      expect(await anon.users.resetUsernameConfirm.mutate({ ...link, new_username: "trpcreset2" })).toBeUndefined();
      const again = await failure(anon.users.resetUsernameConfirm.mutate({ ...link, new_username: "trpcreset3" }));
      expect([again.data?.code, again.data?.fields]).toEqual(["invalid_input", BAD_TOKEN]);
      await expectLoginIs(s, "trpcreset2", "trpcreset");
    });

    it("PATCH users/me: a new email needs current_password (EMAIL_CHANGE_REQUIRES_PASSWORD on by default); an unchanged one needs nothing", async () => {
      const { id, key } = await signUp(s, "mover", "old@example.com");
      const patch = (json: unknown, method = "PATCH") =>
        s.request(method, "/auth/users/me/", { headers: tokenHeader(key), json });
      expectAnswer(await patch({ email: "thief@example.com" }), 400, {
        current_password: ["This field is required to change the email address."],
      });
      expectAnswer(await patch({ email: "thief@example.com", current_password: "" }), 400, {
        current_password: ["This field is required to change the email address."],
      });
      expectAnswer(await patch({ email: "thief@example.com", current_password: "nope-nope" }), 400, {
        current_password: WRONG_PASSWORD,
      });
      expectAnswer(await patch({ email: "thief@example.com" }, "PUT"), 400, {
        current_password: ["This field is required to change the email address."],
      });
      expectAnswer(await patch({ email: "old@EXAMPLE.com" }), 200, { email: "old@example.com", id, username: "mover" });
      expectAnswer(await patch({}), 200, { email: "old@example.com", id, username: "mover" });
      expectAnswer(await patch({ email: "new@example.com", current_password: PW }), 200, {
        email: "new@example.com",
        id,
        username: "mover",
      });
      expectAnswer(await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) }), 200, {
        email: "new@example.com",
        id,
        username: "mover",
      });
    });

    it("tRPC updateMe: a new email needs current_password, as data.fields", async () => {
      const { id, key } = await signUp(s, "trpcmover", "trpcold@example.com");
      const as = client(s, `Token ${key}`);
      const without = await failure(as.users.updateMe.mutate({ email: "thief@example.com" }));
      expect([without.data?.code, without.data?.httpStatus, without.data?.fields]).toEqual([
        "invalid_input",
        400,
        { current_password: ["This field is required to change the email address."] },
      ]);
      expect(
        (await failure(as.users.updateMe.mutate({ email: "thief@example.com", current_password: "nope-nope" }))).data
          ?.fields,
      ).toEqual({ current_password: WRONG_PASSWORD });
      expect(await as.users.updateMe.mutate({ email: "trpcold@example.com" })).toEqual({
        email: "trpcold@example.com",
        id,
        username: "trpcmover",
      });
      expect(await as.users.updateMe.mutate({ email: "trpcnew@example.com", current_password: PW })).toEqual({
        email: "trpcnew@example.com",
        id,
        username: "trpcmover",
      });
    });
  });

  describe("SET_USERNAME_RETYPE, USERNAME_RESET_CONFIRM_RETYPE, USERNAME_CHANGED_EMAIL_CONFIRMATION and USERNAME_RESET_SHOW_EMAIL_NOT_FOUND on", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, {
        DJOSER_SET_USERNAME_RETYPE: "true",
        DJOSER_USERNAME_RESET_CONFIRM_RETYPE: "true",
        DJOSER_USERNAME_CHANGED_EMAIL_CONFIRMATION: "true",
        DJOSER_USERNAME_RESET_SHOW_EMAIL_NOT_FOUND: "true",
      });
    });
    afterAll(async () => s?.stop());

    const setUsername = (key: string, json: unknown) =>
      s.request("POST", "/auth/users/set_username/", { headers: tokenHeader(key), json });
    const confirm = (json: unknown) => s.request("POST", "/auth/users/reset_username_confirm/", { json });

    it("set_username with SET_USERNAME_RETYPE: re_new_username is required, field errors come before a mismatch, a mismatch is a non-field error", async () => {
      const { key } = await signUp(s, "retyper");
      expectAnswer(await setUsername(key, {}), 400, {
        current_password: REQUIRED,
        new_username: REQUIRED,
        re_new_username: REQUIRED,
      });
      expectAnswer(await setUsername(key, { current_password: PW, new_username: "retyped" }), 400, {
        re_new_username: REQUIRED,
      });
      expectAnswer(
        await setUsername(key, { current_password: PW, new_username: "retyper", re_new_username: "other" }),
        400,
        { new_username: TAKEN },
      );
      expectAnswer(
        await setUsername(key, { current_password: PW, new_username: "retyped", re_new_username: "Retyped" }),
        400,
        MISMATCH,
      );
      await expectLoginIs(s, "retyper", "retyped");
      expect(mailsTo(s, "retyper@example.com")).toEqual([]);
      expectAnswer(
        await setUsername(key, { current_password: PW, new_username: "retyped", re_new_username: "retyped" }),
        204,
      );
      await expectLoginIs(s, "retyped", "retyper");
      const mismatch = await failure(
        client(s, `Token ${key}`).users.setUsername.mutate({
          current_password: PW,
          new_username: "again",
          re_new_username: "nope",
        }),
      );
      expect([mismatch.data?.code, mismatch.data?.fields]).toEqual(["invalid_input", MISMATCH]);
    });

    it("USERNAME_CHANGED_EMAIL_CONFIRMATION: set_username mails the user", async () => {
      const { key } = await signUp(s, "announced");
      expectAnswer(
        await setUsername(key, { current_password: PW, new_username: "announced2", re_new_username: "announced2" }),
        204,
      );
      const mails = mailsTo(s, "announced@example.com");
      expect(mails.map((m) => m.subject)).toEqual([CHANGED_SUBJECT]);
      expect(mails[0]!.text).toContain("Your username has been changed!");
    });

    it("reset_username_confirm with USERNAME_RESET_CONFIRM_RETYPE: re_new_username required, a bad uid reported before a mismatch; the match resets and mails the confirmation", async () => {
      await register(s, "resetretype");
      const { link } = await requestReset(s, "/auth/users/reset_username/", "resetretype@example.com");
      expectAnswer(await confirm({}), 400, { new_username: REQUIRED, re_new_username: REQUIRED });
      expectAnswer(await confirm({ ...link, new_username: "resetretype2" }), 400, { re_new_username: REQUIRED });
      expectAnswer(
        await confirm({ new_username: "resetretype2", re_new_username: "other", uid: "garbage!" }),
        400,
        BAD_UID,
      );
      expectAnswer(
        await confirm({ new_username: "resetretype2", re_new_username: "resetretype2", uid: "garbage!" }),
        400,
        BAD_UID,
      );
      expectAnswer(await confirm({ ...link, new_username: "resetretype2", re_new_username: "other" }), 400, MISMATCH);
      await expectRefused(s, "resetretype2");
      expectAnswer(await confirm({ ...link, new_username: "resetretype2", re_new_username: "resetretype2" }), 204);
      await expectLoginIs(s, "resetretype2", "resetretype");
      expect(mailsTo(s, "resetretype@example.com", CHANGED_SUBJECT)).toHaveLength(1);
    });

    it("USERNAME_RESET_SHOW_EMAIL_NOT_FOUND: an unknown email is a 400 JSON list, for reset_username and — Djoser's quirk — for reset_password too", async () => {
      for (const path of ["/auth/users/reset_username/", "/auth/users/reset_password/"]) {
        expectAnswer(await s.request("POST", path, { json: { email: "nobody@example.com" } }), 400, EMAIL_NOT_FOUND);
      }
      await register(s, "findable");
      expectAnswer(
        await s.request("POST", "/auth/users/reset_username/", { json: { email: "findable@example.com" } }),
        204,
      );
      for (const call of [
        () => client(s).users.resetUsername.mutate({ email: "nobody@example.com" }),
        () => client(s).users.resetPassword.mutate({ email: "nobody@example.com" }),
      ]) {
        const err = await failure(call());
        expect([err.data?.code, err.data?.httpStatus, err.message]).toEqual([
          "email_not_found",
          400,
          EMAIL_NOT_FOUND[0],
        ]);
      }
    });
  });

  describe("USERNAME_FIELD=email with SET_USERNAME_RETYPE: set_email, reset_email, reset_email_confirm", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, { USERNAME_FIELD: "email", DJOSER_SET_USERNAME_RETYPE: "true" });
    });
    afterAll(async () => s?.stop());

    const setEmail = (key: string, json: unknown) =>
      s.request("POST", "/auth/users/set_email/", { headers: tokenHeader(key), json });
    const EMAIL_TAKEN = ["user with this email address already exists."];

    it("set_email: current_password, new_email and re_new_email required in that order; taken (case-insensitively, one's own included) and invalid emails refused; a mismatch names the email fields", async () => {
      await signUp(s, "Taken@example.com");
      const { key } = await signUp(s, "me@example.com");
      expectAnswer(await setEmail(key, {}), 400, {
        current_password: REQUIRED,
        new_email: REQUIRED,
        re_new_email: REQUIRED,
      });
      expectAnswer(
        await setEmail(key, { current_password: "nope-nope", new_email: "TAKEN@example.com", re_new_email: "x" }),
        400,
        { current_password: WRONG_PASSWORD, new_email: EMAIL_TAKEN },
      );
      expectAnswer(
        await setEmail(key, { current_password: PW, new_email: "me@example.com", re_new_email: "me@example.com" }),
        400,
        { new_email: EMAIL_TAKEN },
      );
      expectAnswer(
        await setEmail(key, { current_password: PW, new_email: "not-an-email", re_new_email: "not-an-email" }),
        400,
        { new_email: ["Enter a valid email address."] },
      );
      expectAnswer(
        await setEmail(key, { current_password: PW, new_email: "new@example.com", re_new_email: "other@example.com" }),
        400,
        { non_field_errors: ["The two email fields didn't match."] },
      );
      await expectLoginIs(s, "me@example.com", "new@example.com");
    });

    it("set_email: 204; the old email is refused at login, the new one works; set_username is a 405 here; tRPC setUsername takes new_email", async () => {
      const { id, key } = await signUp(s, "before@example.com");
      expectAnswer(
        await setEmail(key, {
          current_password: PW,
          new_email: "after@example.com",
          re_new_email: "after@example.com",
        }),
        204,
      );
      await expectLoginIs(s, "after@example.com", "before@example.com");
      expectAnswer(await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) }), 200, {
        id,
        email: "after@example.com",
      });
      // As in Djoser, set_username falls to the detail route users/{id}/, which takes no POST.
      expectAnswer(
        await s.request("POST", "/auth/users/set_username/", {
          headers: tokenHeader(key),
          json: { current_password: PW, new_username: "x" },
        }),
        405,
        { detail: 'Method "POST" not allowed.' },
      );
      const typed = await failure(
        client(s, `Token ${key}`).users.setUsername.mutate({ current_password: PW, new_email: "typed@example.com" }),
      );
      expect(typed.data?.fields).toEqual({ re_new_email: REQUIRED });
      expect(
        await client(s, `Token ${key}`).users.setUsername.mutate({
          current_password: PW,
          new_email: "typed@example.com",
          re_new_email: "typed@example.com",
        }),
      ).toBeUndefined();
      await expectLoginIs(s, "typed@example.com", "after@example.com");
    });

    it("reset_email → mail → reset_email_confirm with new_email: the old email is refused at login, the new one works; the link works once", async () => {
      await register(s, "lost@example.com");
      const { mail, link } = await requestReset(s, "/auth/users/reset_email/", "lost@example.com");
      expect(mail.text).toContain("Your username, in case you've forgotten: lost@example.com");
      expectAnswer(await s.request("POST", "/auth/users/reset_email_confirm/", { json: {} }), 400, {
        new_email: REQUIRED,
      });
      expectAnswer(
        await s.request("POST", "/auth/users/reset_email_confirm/", {
          json: { ...link, new_email: "found@example.com" },
        }),
        204,
      );
      await expectLoginIs(s, "found@example.com", "lost@example.com");
      expectAnswer(
        await s.request("POST", "/auth/users/reset_email_confirm/", {
          json: { ...link, new_email: "again@example.com" },
        }),
        400,
        BAD_TOKEN,
      );
    });
  });

  describe("EMAIL_CHANGE_REQUIRES_PASSWORD off (Djoser's behaviour)", () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(kind, { DJOSER_EMAIL_CHANGE_REQUIRES_PASSWORD: "false" });
    });
    afterAll(async () => s?.stop());

    it("PATCH users/me and tRPC updateMe change the email without current_password", async () => {
      const { id, key } = await signUp(s, "free", "free@example.com");
      expectAnswer(
        await s.request("PATCH", "/auth/users/me/", {
          headers: tokenHeader(key),
          json: { email: "free2@example.com" },
        }),
        200,
        { email: "free2@example.com", id, username: "free" },
      );
      expect(await client(s, `Token ${key}`).users.updateMe.mutate({ email: "free3@example.com" })).toEqual({
        email: "free3@example.com",
        id,
        username: "free",
      });
      expectAnswer(await s.request("GET", "/auth/users/me/", { headers: tokenHeader(key) }), 200, {
        email: "free3@example.com",
        id,
        username: "free",
      });
    });
  });
});
