// Djoser's password flows end to end on its defaults: set_password, reset_password,
// reset_password_confirm, through REST (exact bodies and statuses) and the typed tRPC client
// (data.code, data.fields), on PGlite and PostgreSQL. The settings that change them are in
// password-settings.test.ts; sessions after a change in sessions/password-change.test.ts.
import { describe, expect, it } from "vitest";
import { PW, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { uidToken } from "../../helpers/mail.ts";
import { DATABASES } from "../../helpers/server.ts";
import { failure } from "../../helpers/trpc.ts";
import {
  BAD_TOKEN,
  BAD_UID,
  client,
  confirm,
  expectPasswordIs,
  expectRefused,
  NEW_PW,
  REQUIRED,
  RESET_SUBJECT,
  register,
  requestReset,
  resetLink,
  setPassword,
  TOO_WEAK,
  tokenLogin,
  uidOf,
} from "./passwords.ts";
import { expectAnswer } from "./rest.ts";

describe.each(DATABASES)("password flows on %s", (kind) => {
  describe("Djoser's defaults (no retype, no confirmation mail, emails not found kept secret)", () => {
    const s = useServer(kind);

    it("set_password needs a login", async () => {
      expectAnswer(
        await s.request("POST", "/auth/users/set_password/", { json: { new_password: NEW_PW, current_password: PW } }),
        401,
        { detail: "Authentication credentials were not provided." },
      );
    });

    it(
      "set_password: missing and blank fields in Djoser's order (new_password, current_password); " +
        "a wrong current_password is a field error beside them",
      async () => {
        await register(s, "fields");
        const key = await s.tokenLogin("fields");
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
      },
    );

    it("set_password: a wrong current_password is refused and changes nothing", async () => {
      await register(s, "wrongcurrent");
      const key = await s.tokenLogin("wrongcurrent");
      expectAnswer(await setPassword(s, key, { new_password: NEW_PW, current_password: `${PW}x` }), 400, {
        current_password: ["Invalid password."],
      });
      // The field phase comes first: a weak new password is not reported beside a wrong current one.
      expectAnswer(await setPassword(s, key, { new_password: "123", current_password: `${PW}x` }), 400, {
        current_password: ["Invalid password."],
      });
      await expectPasswordIs(s, "wrongcurrent", PW, NEW_PW);
    });

    it(
      "set_password: a weak new password gets every Django validator's message, " +
        "similarity to the username included",
      async () => {
        await register(s, "marigold77", "");
        const key = await s.tokenLogin("marigold77");
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
      },
    );

    it(
      "set_password: 204 with no body; the old password is refused at login, the new one works; " +
        "no mail (PASSWORD_CHANGED_EMAIL_CONFIRMATION off)",
      async () => {
        await register(s, "changer");
        const key = await s.tokenLogin("changer");
        expectAnswer(await setPassword(s, key, { new_password: NEW_PW, current_password: PW }), 204);
        await expectPasswordIs(s, "changer", NEW_PW, PW);
        expect(s.mailsTo("changer@example.com")).toEqual([]);
      },
    );

    it(
      "set_password: re_new_password is not a field while SET_PASSWORD_RETYPE is off " + "(a differing one is ignored)",
      async () => {
        await register(s, "noretype");
        const key = await s.tokenLogin("noretype");
        expectAnswer(
          await setPassword(s, key, { new_password: NEW_PW, re_new_password: "something else", current_password: PW }),
          204,
        );
        await expectPasswordIs(s, "noretype", NEW_PW, PW);
      },
    );

    it(
      "set_password in shared token mode: the key every device holds ends; " + "a login hands out the caller's new key",
      async () => {
        await register(s, "sharedkey");
        const key = await s.tokenLogin("sharedkey");
        expectAnswer(await setPassword(s, key, { new_password: NEW_PW, current_password: PW }), 204);
        expect((await s.request("GET", "/auth/users/me/", { headers: tokenAuth(key) })).status).toBe(401);
        const fresh = await s.tokenLogin("sharedkey", NEW_PW);
        expect(fresh).not.toBe(key);
        expect((await s.request("GET", "/auth/users/me/", { headers: tokenAuth(fresh) })).status).toBe(200);
      },
    );

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

    it(
      "reset_password: an unknown email, an inactive user's and one without a usable password " +
        "answer 204 and mail nothing",
      async () => {
        const inactive = await register(s, "sleeper");
        await s.deps.prisma.user.update({ where: { id: inactive }, data: { isActive: false } });
        const unusable = await register(s, "nopassword");
        await s.deps.prisma.user.update({ where: { id: unusable }, data: { password: "!unusable" } });
        const before = s.mails().length;
        for (const email of ["nobody@example.com", "sleeper@example.com", "nopassword@example.com"]) {
          expectAnswer(await s.request("POST", "/auth/users/reset_password/", { json: { email } }), 204);
        }
        expect(s.mails()).toHaveLength(before);
      },
    );

    it(
      "reset_password: 204 and a mail with Djoser's default link " +
        "(DOMAIN, PROTOCOL, PASSWORD_RESET_CONFIRM_URL) and the username",
      async () => {
        const id = await register(s, "forgetful");
        expectAnswer(
          await s.request("POST", "/auth/users/reset_password/", { json: { email: "forgetful@example.com" } }),
          204,
        );
        const [mail] = s.mailsTo("forgetful@example.com");
        expect(mail!.subject).toBe(RESET_SUBJECT);
        expect(mail!.links).toEqual([
          expect.stringMatching(
            /^http:\/\/localhost:8000\/#\/password\/reset\/confirm\/[A-Za-z0-9_-]+\/[0-9a-z]+-[0-9a-f]{32}$/,
          ),
        ]);
        expect(mail!.text).toContain("Your username, in case you've forgotten: forgetful");
        expect(uidOf(mail!.links[0]!)).toBe(id);
      },
    );

    it("reset_password: an email two active users share mails both, each their own link", async () => {
      const first = await register(s, "twin1", "twins@example.com");
      const second = await register(s, "twin2", "twins@example.com");
      expectAnswer(
        await s.request("POST", "/auth/users/reset_password/", { json: { email: "twins@example.com" } }),
        204,
      );
      const mails = s.mailsTo("twins@example.com", RESET_SUBJECT);
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

    it(
      "reset_password_confirm: the mailed link sets the new password: " +
        "204, the old one is refused, the new one works, no confirmation mail",
      async () => {
        await register(s, "resetter");
        const link = await requestReset(s, "resetter@example.com");
        expectAnswer(await confirm(s, { ...link, new_password: NEW_PW }), 204);
        await expectPasswordIs(s, "resetter", NEW_PW, PW);
        expect(s.mailsTo("resetter@example.com").map((m) => m.subject)).toEqual([RESET_SUBJECT]);
      },
    );

    it(
      "reset_password_confirm: " + "re_new_password is not a field while PASSWORD_RESET_CONFIRM_RETYPE is off",
      async () => {
        await register(s, "noretypereset");
        const link = await requestReset(s, "noretypereset@example.com");
        expectAnswer(await confirm(s, { ...link, new_password: NEW_PW, re_new_password: "something else" }), 204);
        await expectPasswordIs(s, "noretypereset", NEW_PW, PW);
      },
    );

    it(
      "reset_password_confirm: errors in order — fields, uid, token, then the weak password — " +
        "and none uses the link up",
      async () => {
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
      },
    );

    it("reset_password_confirm: a link works once; the second use is a 400 on the token", async () => {
      await register(s, "once");
      const link = await requestReset(s, "once@example.com");
      expectAnswer(await confirm(s, { ...link, new_password: NEW_PW }), 204);
      expectAnswer(await confirm(s, { ...link, new_password: "Zz8#another-one" }), 400, BAD_TOKEN);
      await expectPasswordIs(s, "once", NEW_PW, "Zz8#another-one");
    });

    it(
      "reset_password_confirm: " + "a token login after the mail invalidates the link (last_login is in its hash)",
      async () => {
        await register(s, "loggedin");
        const link = await requestReset(s, "loggedin@example.com");
        await s.tokenLogin("loggedin");
        expectAnswer(await confirm(s, { ...link, new_password: NEW_PW }), 400, BAD_TOKEN);
        await expectPasswordIs(s, "loggedin", PW, NEW_PW);
      },
    );

    it(
      "reset_password_confirm: ten concurrent confirms with one link → exactly one 204, " +
        "nine 400s on the token, and the winner's password",
      async () => {
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
      },
    );

    it(
      "tRPC setPassword: required fields, wrong current_password and weak passwords as data.fields; " +
        "success changes the password",
      async () => {
        await register(s, "trpcsetter");
        const as = client(s, `Token ${await s.tokenLogin("trpcsetter")}`);
        const empty = await failure(as.users.setPassword.mutate({}));
        expect([empty.data?.code, empty.data?.httpStatus, empty.data?.fields]).toEqual([
          "invalid_input",
          400,
          { new_password: REQUIRED, current_password: REQUIRED },
        ]);
        const wrong = await failure(
          as.users.setPassword.mutate({ new_password: NEW_PW, current_password: "nope-nope" }),
        );
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
      },
    );

    it(
      "tRPC resetPassword and resetPasswordConfirm: " +
        "invalid email, silent unknown email, then the mailed link end to end, once",
      async () => {
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
        expect([again.data?.code, again.data?.httpStatus, again.data?.fields]).toEqual([
          "invalid_input",
          400,
          BAD_TOKEN,
        ]);
        await expectPasswordIs(s, "trpcreset", NEW_PW, PW);
      },
    );
  });
});
