// Djoser's login-name flows under the settings that shape them: retyped names, the confirmation
// mail, emails not found shown; set_email, reset_email and reset_email_confirm when USERNAME_FIELD
// is email; an email change without the password (Djoser's way). Through REST and tRPC, on PGlite
// and PostgreSQL.
import { describe, expect, it } from "vitest";
import { PW, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { DATABASES } from "../../helpers/server.ts";
import { failure } from "../../helpers/trpc.ts";
import { expectAnswer } from "./rest.ts";
import {
  BAD_TOKEN,
  BAD_UID,
  CHANGED_SUBJECT,
  client,
  EMAIL_NOT_FOUND,
  expectLoginIs,
  expectRefused,
  MISMATCH,
  REQUIRED,
  register,
  requestReset,
  signUp,
  TAKEN,
  WRONG_PASSWORD,
} from "./usernames.ts";

describe.each(DATABASES)("login-name flows on %s", (kind) => {
  describe(
    "SET_USERNAME_RETYPE, USERNAME_RESET_CONFIRM_RETYPE, " +
      "USERNAME_CHANGED_EMAIL_CONFIRMATION and USERNAME_RESET_SHOW_EMAIL_NOT_FOUND on",
    () => {
      const s = useServer(kind, {
        DJOSER_SET_USERNAME_RETYPE: "true",
        DJOSER_USERNAME_RESET_CONFIRM_RETYPE: "true",
        DJOSER_USERNAME_CHANGED_EMAIL_CONFIRMATION: "true",
        DJOSER_USERNAME_RESET_SHOW_EMAIL_NOT_FOUND: "true",
      });

      const setUsername = (key: string, json: unknown) =>
        s.request("POST", "/auth/users/set_username/", { headers: tokenAuth(key), json });
      const confirm = (json: unknown) => s.request("POST", "/auth/users/reset_username_confirm/", { json });

      it(
        "set_username with SET_USERNAME_RETYPE: " +
          "re_new_username is required, field errors come before a mismatch, a mismatch is a non-field error",
        async () => {
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
          expect(s.mailsTo("retyper@example.com")).toEqual([]);
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
        },
      );

      it("USERNAME_CHANGED_EMAIL_CONFIRMATION: set_username mails the user", async () => {
        const { key } = await signUp(s, "announced");
        expectAnswer(
          await setUsername(key, { current_password: PW, new_username: "announced2", re_new_username: "announced2" }),
          204,
        );
        const mails = s.mailsTo("announced@example.com");
        expect(mails.map((m) => m.subject)).toEqual([CHANGED_SUBJECT]);
        expect(mails[0]!.text).toContain("Your username has been changed!");
      });

      it(
        "reset_username_confirm with USERNAME_RESET_CONFIRM_RETYPE: " +
          "re_new_username required, a bad uid reported before a mismatch; " +
          "the match resets and mails the confirmation",
        async () => {
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
          expectAnswer(
            await confirm({ ...link, new_username: "resetretype2", re_new_username: "other" }),
            400,
            MISMATCH,
          );
          await expectRefused(s, "resetretype2");
          expectAnswer(await confirm({ ...link, new_username: "resetretype2", re_new_username: "resetretype2" }), 204);
          await expectLoginIs(s, "resetretype2", "resetretype");
          expect(s.mailsTo("resetretype@example.com", CHANGED_SUBJECT)).toHaveLength(1);
        },
      );

      it(
        "USERNAME_RESET_SHOW_EMAIL_NOT_FOUND: an unknown email is a 400 JSON list, " +
          "for reset_username and — Djoser's quirk — for reset_password too",
        async () => {
          for (const path of ["/auth/users/reset_username/", "/auth/users/reset_password/"]) {
            expectAnswer(
              await s.request("POST", path, { json: { email: "nobody@example.com" } }),
              400,
              EMAIL_NOT_FOUND,
            );
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
        },
      );
    },
  );

  describe("USERNAME_FIELD=email with SET_USERNAME_RETYPE: set_email, reset_email, reset_email_confirm", () => {
    const s = useServer(kind, { USERNAME_FIELD: "email", DJOSER_SET_USERNAME_RETYPE: "true" });

    const setEmail = (key: string, json: unknown) =>
      s.request("POST", "/auth/users/set_email/", { headers: tokenAuth(key), json });
    const EMAIL_TAKEN = ["user with this email address already exists."];

    it(
      "set_email: current_password, new_email and re_new_email required in that order; " +
        "taken (case-insensitively, one's own included) and invalid emails refused; " +
        "a mismatch names the email fields",
      async () => {
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
          await setEmail(key, {
            current_password: PW,
            new_email: "new@example.com",
            re_new_email: "other@example.com",
          }),
          400,
          { non_field_errors: ["The two email fields didn't match."] },
        );
        await expectLoginIs(s, "me@example.com", "new@example.com");
      },
    );

    it(
      "set_email: 204; the old email is refused at login, the new one works; " +
        "set_username is a 405 here; tRPC setUsername takes new_email",
      async () => {
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
        expectAnswer(await s.request("GET", "/auth/users/me/", { headers: tokenAuth(key) }), 200, {
          id,
          email: "after@example.com",
        });
        // As in Djoser, set_username falls to the detail route users/{id}/, which takes no POST.
        expectAnswer(
          await s.request("POST", "/auth/users/set_username/", {
            headers: tokenAuth(key),
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
      },
    );

    it(
      "reset_email → mail → reset_email_confirm with new_email: " +
        "the old email is refused at login, the new one works; the link works once",
      async () => {
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
      },
    );
  });

  describe("EMAIL_CHANGE_REQUIRES_PASSWORD off (Djoser's behaviour)", () => {
    const s = useServer(kind, { DJOSER_EMAIL_CHANGE_REQUIRES_PASSWORD: "false" });

    it("PATCH users/me and tRPC updateMe change the email without current_password", async () => {
      const { id, key } = await signUp(s, "free", "free@example.com");
      expectAnswer(
        await s.request("PATCH", "/auth/users/me/", {
          headers: tokenAuth(key),
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
      expectAnswer(await s.request("GET", "/auth/users/me/", { headers: tokenAuth(key) }), 200, {
        email: "free3@example.com",
        id,
        username: "free",
      });
    });
  });
});
