// Djoser's login-name flows end to end on its defaults — set_username, reset_username,
// reset_username_confirm — and the email change through users/me (EMAIL_CHANGE_REQUIRES_PASSWORD).
// Through REST (exact bodies and statuses) and the typed tRPC client (data.code, data.fields), on
// PGlite and PostgreSQL. The settings that change them are in username-settings.test.ts.
import { describe, expect, it } from "vitest";
import { PW, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { uidToken } from "../../helpers/mail.ts";
import { DATABASES } from "../../helpers/server.ts";
import { failure } from "../../helpers/trpc.ts";
import { expectAnswer } from "./rest.ts";
import {
  BAD_TOKEN,
  BAD_UID,
  BAD_USERNAME,
  client,
  expectLoginIs,
  expectRefused,
  REQUIRED,
  RESET_SUBJECT,
  register,
  requestReset,
  signUp,
  TAKEN,
  WRONG_PASSWORD,
} from "./usernames.ts";

describe.each(DATABASES)("login-name flows on %s", (kind) => {
  describe(
    "Djoser's defaults " + "(USERNAME_FIELD=username, no retype, no confirmation mail, emails not found kept secret)",
    () => {
      const s = useServer(kind);

      const setUsername = (key: string, json: unknown) =>
        s.request("POST", "/auth/users/set_username/", { headers: tokenAuth(key), json });
      const confirm = (json: unknown) => s.request("POST", "/auth/users/reset_username_confirm/", { json });

      it("set_username needs a login", async () => {
        expectAnswer(
          await s.request("POST", "/auth/users/set_username/", { json: { current_password: PW, new_username: "x" } }),
          401,
          { detail: "Authentication credentials were not provided." },
        );
      });

      it(
        "set_username: missing fields in Djoser's order (current_password, new_username); " +
          "a wrong password and a taken name are reported together",
        async () => {
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
        },
      );

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
        expectAnswer(await s.request("GET", "/auth/users/me/", { headers: tokenAuth(key) }), 200, {
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

      it(
        "set_username: 204; the old name is refused at login, the new one works; " +
          "the caller's token lives on; no mail (USERNAME_CHANGED_EMAIL_CONFIRMATION off)",
        async () => {
          const { id, key } = await signUp(s, "renamer");
          expectAnswer(await setUsername(key, { current_password: PW, new_username: "renamed" }), 204);
          await expectLoginIs(s, "renamed", "renamer");
          expectAnswer(await s.request("GET", "/auth/users/me/", { headers: tokenAuth(key) }), 200, {
            email: "renamer@example.com",
            id,
            username: "renamed",
          });
          expect(s.mailsTo("renamer@example.com")).toEqual([]);
        },
      );

      it(
        "set_username: re_new_username is not a field while SET_USERNAME_RETYPE is off " +
          "(a differing one is ignored)",
        async () => {
          const { key } = await signUp(s, "noretype");
          expectAnswer(
            await setUsername(key, { current_password: PW, new_username: "noretype2", re_new_username: "whatever" }),
            204,
          );
          await expectLoginIs(s, "noretype2", "noretype");
        },
      );

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

      it(
        "reset_username → mail → reset_username_confirm: " +
          "the link sets the new name (204), the old one is refused at login",
        async () => {
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
          expect(s.mailsTo("amnesiac@example.com").map((m) => m.subject)).toEqual([RESET_SUBJECT]);
        },
      );

      it(
        "reset_username_confirm: uid and token are not declared fields — " +
          "an empty body needs only new_username, a missing uid or token comes after the field checks",
        async () => {
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
        },
      );

      it(
        "reset_username_confirm: a bad uid is reported before a taken username " +
          "(Djoser's order told anyone which names are taken)",
        async () => {
          await register(s, "holder");
          expectAnswer(await confirm({ new_username: "holder", uid: "garbage!", token: "x" }), 400, BAD_UID);
          const { link } = await requestReset(s, "/auth/users/reset_username/", "holder@example.com");
          expectAnswer(await confirm({ new_username: "holder", uid: link.uid, token: "x" }), 400, BAD_TOKEN);
          expectAnswer(await confirm({ ...link, new_username: "holder" }), 400, { new_username: TAKEN });
        },
      );

      it("reset_username_confirm: a link works once; the second use is a 400 on the token", async () => {
        await register(s, "oneshot");
        const { link } = await requestReset(s, "/auth/users/reset_username/", "oneshot@example.com");
        expectAnswer(await confirm({ ...link, new_username: "oneshot2" }), 204);
        expectAnswer(await confirm({ ...link, new_username: "oneshot3" }), 400, BAD_TOKEN);
        await expectLoginIs(s, "oneshot2", "oneshot3");
      });

      it(
        "reset_username_confirm: a link works once even when used within the second of the last login " +
          "(last_login is hashed to the second)",
        async () => {
          await signUp(s, "hasty");
          const { link } = await requestReset(s, "/auth/users/reset_username/", "hasty@example.com");
          expectAnswer(await confirm({ ...link, new_username: "hasty2" }), 204);
          expectAnswer(await confirm({ ...link, new_username: "hasty3" }), 400, BAD_TOKEN);
          await expectLoginIs(s, "hasty2", "hasty3");
        },
      );

      it(
        "reset_username_confirm: " + "ten concurrent confirms with one link → exactly one 204, nine 400s on the token",
        async () => {
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
        },
      );

      it(
        "tRPC setUsername: required fields, wrong password and taken names as data.fields; " + "success renames",
        async () => {
          const { key } = await signUp(s, "trpcname");
          const as = client(s, `Token ${key}`);
          const empty = await failure(as.users.setUsername.mutate({}));
          expect([empty.data?.code, empty.data?.httpStatus, empty.data?.fields]).toEqual([
            "invalid_input",
            400,
            { current_password: REQUIRED, new_username: REQUIRED },
          ]);
          expect(
            (await failure(as.users.setUsername.mutate({ current_password: "nope-nope", new_username: "trpcname" })))
              .data?.fields,
          ).toEqual({ current_password: WRONG_PASSWORD, new_username: TAKEN });
          expect(
            (await failure(as.users.setUsername.mutate({ current_password: PW, new_username: "bad name!" }))).data
              ?.fields,
          ).toEqual({ new_username: BAD_USERNAME });
          expect(
            (await failure(client(s).users.setUsername.mutate({ current_password: PW, new_username: "x" }))).data?.code,
          ).toBe("not_authenticated");
          expect(
            await as.users.setUsername.mutate({ current_password: PW, new_username: "trpcname2" }),
          ).toBeUndefined();
          expect(await as.users.me.query()).toMatchObject({ username: "trpcname2" });
          await expectLoginIs(s, "trpcname2", "trpcname");
        },
      );

      it("tRPC resetUsername and resetUsernameConfirm: the mailed link end to end, once", async () => {
        await register(s, "trpcreset");
        const anon = client(s);
        expect((await failure(anon.users.resetUsername.mutate({ email: "nope" }))).data?.fields).toEqual({
          email: ["Enter a valid email address."],
        });
        expect(await anon.users.resetUsername.mutate({ email: "nobody@example.com" })).toBeUndefined();
        expect(await anon.users.resetUsername.mutate({ email: "trpcreset@example.com" })).toBeUndefined();
        const link = uidToken(s.mailsTo("trpcreset@example.com", RESET_SUBJECT)[0]!.links[0]!);
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

      it(
        "PATCH users/me: a new email needs current_password (EMAIL_CHANGE_REQUIRES_PASSWORD on by default); " +
          "an unchanged one needs nothing",
        async () => {
          const { id, key } = await signUp(s, "mover", "old@example.com");
          const patch = (json: unknown, method = "PATCH") =>
            s.request(method, "/auth/users/me/", { headers: tokenAuth(key), json });
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
          expectAnswer(await patch({ email: "old@EXAMPLE.com" }), 200, {
            email: "old@example.com",
            id,
            username: "mover",
          });
          expectAnswer(await patch({}), 200, { email: "old@example.com", id, username: "mover" });
          expectAnswer(await patch({ email: "new@example.com", current_password: PW }), 200, {
            email: "new@example.com",
            id,
            username: "mover",
          });
          expectAnswer(await s.request("GET", "/auth/users/me/", { headers: tokenAuth(key) }), 200, {
            email: "new@example.com",
            id,
            username: "mover",
          });
        },
      );

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
    },
  );
});
