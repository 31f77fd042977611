// Djoser's password flows under the settings that shape them: retyped passwords, the confirmation
// mail, emails not found shown, a custom link (SITE_NAME, DOMAIN, PROTOCOL, PASSWORD_RESET_CONFIRM_URL)
// and PASSWORD_RESET_TIMEOUT. Through REST and tRPC, on PGlite and PostgreSQL.
import { describe, expect, it } from "vitest";
import { PW, useServer } from "../../helpers/fixture.ts";
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
  MISMATCH,
  NEW_PW,
  REQUIRED,
  RESET_SUBJECT,
  register,
  requestReset,
  setPassword,
  TOO_WEAK,
} from "./passwords.ts";
import { expectAnswer } from "./rest.ts";

describe.each(DATABASES)("password flows on %s", (kind) => {
  describe(
    "retypes on, confirmation mail on, emails not found shown, " +
      "a custom link (SITE_NAME, DOMAIN, PROTOCOL, PASSWORD_RESET_CONFIRM_URL)",
    () => {
      const s = useServer(kind, {
        DJOSER_SET_PASSWORD_RETYPE: "true",
        DJOSER_PASSWORD_RESET_CONFIRM_RETYPE: "true",
        DJOSER_PASSWORD_CHANGED_EMAIL_CONFIRMATION: "true",
        DJOSER_PASSWORD_RESET_SHOW_EMAIL_NOT_FOUND: "true",
        DJOSER_SITE_NAME: "Acme",
        DJOSER_DOMAIN: "app.example.org",
        DJOSER_PROTOCOL: "https",
        DJOSER_PASSWORD_RESET_CONFIRM_URL: "account/new-password/{uid}/{token}/",
      });

      const CHANGED = "Acme - Your password has been successfully changed!";
      const ACME_RESET = "Password reset on Acme";

      it(
        "set_password with SET_PASSWORD_RETYPE: " +
          "re_new_password is required (new_password, re_new_password, current_password), " +
          "weak before mismatch, a mismatch is a non-field error",
        async () => {
          await register(s, "retyper");
          const key = await s.tokenLogin("retyper");
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
          expect(s.mailsTo("retyper@example.com")).toEqual([]);
          expectAnswer(
            await setPassword(s, key, { new_password: NEW_PW, re_new_password: NEW_PW, current_password: PW }),
            204,
          );
          await expectPasswordIs(s, "retyper", NEW_PW, PW);
        },
      );

      it("tRPC setPassword with SET_PASSWORD_RETYPE: a mismatch is data.fields.non_field_errors", async () => {
        await register(s, "trpcretyper");
        const as = client(s, `Token ${await s.tokenLogin("trpcretyper")}`);
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

      it(
        "PASSWORD_CHANGED_EMAIL_CONFIRMATION: " +
          "set_password mails the user, saying the other sessions were signed out",
        async () => {
          await register(s, "notified");
          const key = await s.tokenLogin("notified");
          expectAnswer(
            await setPassword(s, key, { new_password: NEW_PW, re_new_password: NEW_PW, current_password: PW }),
            204,
          );
          const mails = s.mailsTo("notified@example.com");
          expect(mails.map((m) => m.subject)).toEqual([CHANGED]);
          expect(mails[0]!.text).toContain("Your password has been changed!");
          expect(mails[0]!.text).toContain("Your sessions on other devices have been signed out");
          expect(mails[0]!.text).toContain("The Acme team");
        },
      );

      it(
        "PASSWORD_CHANGED_EMAIL_CONFIRMATION: " + "a reset through the mailed link mails the confirmation too",
        async () => {
          await register(s, "resetnotified");
          const link = await requestReset(s, "resetnotified@example.com", ACME_RESET);
          expectAnswer(await confirm(s, { ...link, new_password: NEW_PW, re_new_password: NEW_PW }), 204);
          expect(s.mailsTo("resetnotified@example.com", CHANGED)).toHaveLength(1);
        },
      );

      it(
        "reset_password: the link follows SITE_NAME, PROTOCOL, DOMAIN and PASSWORD_RESET_CONFIRM_URL, " +
          "and leads to the reset",
        async () => {
          const id = await register(s, "custom");
          expectAnswer(
            await s.request("POST", "/auth/users/reset_password/", { json: { email: "custom@example.com" } }),
            204,
          );
          const [mail] = s.mailsTo("custom@example.com", ACME_RESET);
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
        },
      );

      it(
        "PASSWORD_RESET_SHOW_EMAIL_NOT_FOUND: " +
          "an unknown or inactive user's email is a 400 whose body is the JSON list [message]; " +
          "a known one still 204",
        async () => {
          const sleeper = await register(s, "shownsleeper");
          await s.deps.prisma.user.update({ where: { id: sleeper }, data: { isActive: false } });
          for (const email of ["nobody@example.com", "shownsleeper@example.com"]) {
            const res = await s.request("POST", "/auth/users/reset_password/", { json: { email } });
            expectAnswer(res, 400, ["User with given email does not exist."]);
            expect(res.headers.get("content-type")).toBe("application/json");
          }
          expect(s.mailsTo("shownsleeper@example.com")).toEqual([]);
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
        },
      );

      it(
        "reset_password_confirm with PASSWORD_RESET_CONFIRM_RETYPE: " +
          "re_new_password required; a bad uid before a weak password or a mismatch",
        async () => {
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
        },
      );
    },
  );

  describe("PASSWORD_RESET_TIMEOUT=1", () => {
    const s = useServer(kind, { PASSWORD_RESET_TIMEOUT: "1" });

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
      const fresh = s
        .mailsTo("slowpoke@example.com", RESET_SUBJECT)
        .map((m) => uidToken(m.links[0]!))
        .find((l) => l.token !== stale.token)!;
      expectAnswer(await confirm(s, { ...fresh, new_password: NEW_PW }), 204);
      await expectPasswordIs(s, "slowpoke", NEW_PW, PW);
    });
  });
});
