// Limits on what a client can send, through REST and the typed tRPC client, on PGlite and
// PostgreSQL: passwords have a length cap (characters and UTF-8 bytes); the two confirm views
// check the mailed link before anything else about the request (no validator run, no "already
// exists" for whoever holds no link); values are measured as they will be stored (lower-cased
// email domains, NFKC usernames), so none grows past its column into a 500.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyError } from "../../../src/http/classify.ts";
import { uidToken } from "../../helpers/mail.ts";
import { DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";
import { failure, trpcClient } from "../../helpers/trpc.ts";

const PW = "Kq7!vLp2#Zx9";
const CHEAP = { ARGON2: JSON.stringify({ MEMORY_COST: 1024, TIME_COST: 1, PARALLELISM: 1 }) };
const TOO_MANY_CHARS = ["Ensure this field has no more than 1024 characters."];
const TOO_MANY_BYTES = ["Ensure this field has no more than 1024 bytes (UTF-8)."];
const BAD_UID = { uid: ["Invalid user id or user doesn't exist."] };
const BAD_TOKEN = { token: ["Invalid token for given user."] };
const TAKEN = { new_username: ["A user with that username already exists."] };
/** A strong password of exactly n characters. */
const strong = (n: number) => `${PW}${"Zq8#wX3!mR".repeat(Math.ceil(n / 10))}`.slice(0, n);
// 251 characters, valid; lower-casing its domain makes each "İ" two code points: 256.
const DOMAIN = "İİİİİ.example.com";
const GROWING_EMAIL = `${"a".repeat(251 - 1 - DOMAIN.length)}@${DOMAIN}`;
const EMAIL_TOO_LONG = ["Ensure this field has no more than 254 characters."];
// Nine letters; their NFKC form (what is stored) is 162 characters.
const GROWING_USERNAME = "\ufdfa".repeat(9);
const USERNAME_TOO_LONG = ["Ensure this field has no more than 150 characters."];

type Res = Awaited<ReturnType<TestServer["request"]>>;
const answer = (res: Res) => ({ status: res.status, body: res.json });

for (const db of DATABASES) {
  describe(`[${db}] input limits`, () => {
    let s: TestServer;
    let key: string;
    beforeAll(async () => {
      s = await startTestServer(db, { ...CHEAP, DJOSER_PASSWORD_RESET_CONFIRM_RETYPE: "true" });
      expect(
        (
          await s.request("POST", "/auth/users/", {
            json: { username: "owner", email: "owner@example.com", password: PW },
          })
        ).status,
      ).toBe(201);
      expect(
        (
          await s.request("POST", "/auth/users/", {
            json: { username: "taken", email: "taken@example.com", password: PW },
          })
        ).status,
      ).toBe(201);
      key = (await s.request("POST", "/auth/token/login/", { json: { username: "owner", password: PW } })).json
        .auth_token;
    });
    afterAll(async () => s?.stop());
    const auth = () => ({ authorization: `Token ${key}` });

    /** A fresh reset link of `kind` for owner. */
    async function link(kind: "password" | "username") {
      const before = s.mails().length;
      expect(
        (await s.request("POST", `/auth/users/reset_${kind}/`, { json: { email: "owner@example.com" } })).status,
      ).toBe(204);
      const mail = s.mails().slice(before).at(-1)!;
      return uidToken(mail.links[0]!);
    }

    describe("password length cap", () => {
      it("registration: 1024 characters are fine, 1025 are refused in DRF's words, before any validator", async () => {
        const ok = await s.request("POST", "/auth/users/", { json: { username: "longpw", password: strong(1024) } });
        expect(ok.status, ok.text).toBe(201);
        const res = await s.request("POST", "/auth/users/", { json: { username: "longerpw", password: strong(1025) } });
        expect(answer(res)).toEqual({ status: 400, body: { password: TOO_MANY_CHARS } });
        // Characters are code points, as Django counts them: 1024 emoji are 2048 UTF-16 units.
        const emoji = await s.request("POST", "/auth/users/", {
          json: { username: "emojipw", password: "🔥".repeat(1025) },
        });
        expect(answer(emoji)).toEqual({ status: 400, body: { password: TOO_MANY_CHARS } });
      });

      it("and 1024 UTF-8 bytes: 341 three-byte letters pass, 342 are refused", async () => {
        const ok = await s.request("POST", "/auth/users/", {
          json: { username: "eurospw", password: "€".repeat(341) },
        });
        expect(ok.status, ok.text).toBe(201); // 1023 bytes
        const res = await s.request("POST", "/auth/users/", {
          json: { username: "eurospw2", password: "€".repeat(342) },
        });
        expect(answer(res)).toEqual({ status: 400, body: { password: TOO_MANY_BYTES } });
      });

      it("every password field of every flow, REST and tRPC", async () => {
        const long = strong(1025);
        const cases: [string, string, Record<string, string>, string][] = [
          ["POST", "/auth/token/login/", { username: "owner", password: long }, "password"],
          ["POST", "/auth/jwt/create/", { username: "owner", password: long }, "password"],
          ["POST", "/auth/users/set_password/", { new_password: long, current_password: PW }, "new_password"],
          [
            "POST",
            "/auth/users/set_password/",
            { new_password: strong(20), current_password: long },
            "current_password",
          ],
          ["POST", "/auth/users/set_username/", { new_username: "free", current_password: long }, "current_password"],
          [
            "POST",
            "/auth/users/reset_password_confirm/",
            { uid: "MQ", token: "x", new_password: long, re_new_password: long },
            "new_password",
          ],
          ["DELETE", "/auth/users/me/", { current_password: long }, "current_password"],
          ["PATCH", "/auth/users/me/", { email: "new@example.com", current_password: long }, "current_password"],
        ];
        for (const [method, path, json, field] of cases) {
          const res = await s.request(method, path, { json, headers: auth() });
          expect({ status: res.status, [field]: res.json?.[field] }, `${method} ${path} ${field}`).toEqual({
            status: 400,
            [field]: TOO_MANY_CHARS,
          });
        }
        const anon = trpcClient(s);
        const owner = trpcClient(s, auth());
        const calls: [() => Promise<unknown>, string][] = [
          // called one at a time
          [() => anon.users.create.mutate({ username: "trpclong", password: long }), "password"],
          [() => anon.token.login.mutate({ username: "owner", password: long }), "password"],
          [() => anon.jwt.create.mutate({ username: "owner", password: long }), "password"],
          [() => owner.users.setPassword.mutate({ new_password: long, current_password: PW }), "new_password"],
          [
            () =>
              anon.users.resetPasswordConfirm.mutate({
                uid: "MQ",
                token: "x",
                new_password: long,
                re_new_password: long,
              }),
            "new_password",
          ],
          [() => owner.users.deleteMe.mutate({ current_password: long }), "current_password"],
        ];
        for (const [call, field] of calls) {
          const err = await failure(call());
          expect({ code: err.data?.code, field: err.data?.fields?.[field] }, field).toEqual({
            code: "invalid_input",
            field: TOO_MANY_CHARS,
          });
        }
        // Nothing happened to the owner.
        expect((await s.request("GET", "/auth/users/me/", { headers: auth() })).status).toBe(200);
      });

      it(
        "a lone surrogate is refused in DRF's words: " + "UTF-8 cannot hold it, so two passwords would hash as one",
        async () => {
          const surrogate = (cp: string) => [`Surrogate characters are not allowed: U+${cp}.`];
          // JSON can carry a lone surrogate as an escape; the body is written by hand to keep it.
          const body = '{"username": "lonely", "password": "Kq7!vLp2#\\ud800"}';
          const res = await s.request("POST", "/auth/users/", {
            body,
            headers: { "content-type": "application/json" },
          });
          expect(answer(res)).toEqual({ status: 400, body: { password: surrogate("D800") } });
          const login = await s.request("POST", "/auth/token/login/", {
            body: body.replace("lonely", "owner"),
            headers: { "content-type": "application/json" },
          });
          expect(answer(login)).toEqual({ status: 400, body: { password: surrogate("D800") } });
          const err = await failure(trpcClient(s).users.create.mutate({ username: "lonely", password: `${PW}\udc00` }));
          expect({ code: err.data?.code, fields: err.data?.fields }).toEqual({
            code: "invalid_input",
            fields: { password: surrogate("DC00") },
          });
          expect(
            (await s.request("POST", "/auth/token/login/", { json: { username: "lonely", password: PW } })).status,
          ).toBe(400); // never created
        },
      );
    });

    describe("the mailed link is checked before the rest", () => {
      it(
        "reset_password_confirm: " + "a bad link is named before a weak or mismatched password (no validator runs)",
        async () => {
          const weak = { new_password: "1234", re_new_password: "1234" };
          expect(
            answer(
              await s.request("POST", "/auth/users/reset_password_confirm/", {
                json: { uid: "OTk5OTk5OTk", token: "x", ...weak },
              }),
            ),
          ).toEqual({ status: 400, body: BAD_UID });
          const { uid } = await link("password");
          expect(
            answer(
              await s.request("POST", "/auth/users/reset_password_confirm/", {
                json: { uid, token: "abc123-0123456789abcdef0123456789abcdef", ...weak },
              }),
            ),
          ).toEqual({ status: 400, body: BAD_TOKEN });
          const mismatch = { new_password: strong(14), re_new_password: strong(15) };
          expect(
            answer(
              await s.request("POST", "/auth/users/reset_password_confirm/", {
                json: { uid, token: "x", ...mismatch },
              }),
            ),
          ).toEqual({ status: 400, body: BAD_TOKEN });
          const err = await failure(
            trpcClient(s).users.resetPasswordConfirm.mutate({ uid: "OTk5OTk5OTk", token: "x", ...weak }),
          );
          expect(err.data?.fields).toEqual(BAD_UID);
        },
      );

      it(
        "reset_password_confirm with a good link: " +
          "the validators and the retype check still answer, in Djoser's words",
        async () => {
          const { uid, token } = await link("password");
          const weak = await s.request("POST", "/auth/users/reset_password_confirm/", {
            json: { uid, token, new_password: "password", re_new_password: "password" },
          });
          expect(answer(weak)).toEqual({ status: 400, body: { new_password: ["This password is too common."] } });
          const mismatch = await s.request("POST", "/auth/users/reset_password_confirm/", {
            json: { uid, token, new_password: strong(14), re_new_password: strong(15) },
          });
          expect(answer(mismatch)).toEqual({
            status: 400,
            body: { non_field_errors: ["The two password fields didn't match."] },
          });
        },
      );

      it("reset_username_confirm: without a good link nobody learns whether a username is taken", async () => {
        const probe = await s.request("POST", "/auth/users/reset_username_confirm/", {
          json: { uid: "OTk5OTk5OTk", token: "x", new_username: "taken" },
        });
        expect(answer(probe)).toEqual({ status: 400, body: BAD_UID });
        const free = await s.request("POST", "/auth/users/reset_username_confirm/", {
          json: { uid: "OTk5OTk5OTk", token: "x", new_username: "nobody-has-it" },
        });
        expect(answer(free)).toEqual(answer(probe)); // taken or free: the same answer
        const { uid, token } = await link("username");
        const badToken = await s.request("POST", "/auth/users/reset_username_confirm/", {
          json: { uid, token: "abc123-0123456789abcdef0123456789abcdef", new_username: "taken" },
        });
        expect(answer(badToken)).toEqual({ status: 400, body: BAD_TOKEN });
        const anon = trpcClient(s);
        expect(
          (
            await failure(
              anon.users.resetUsernameConfirm.mutate({ uid: "OTk5OTk5OTk", token: "x", new_username: "taken" }),
            )
          ).data?.fields,
        ).toEqual(BAD_UID);
        // The link's holder is told, and the link still works for a free name.
        expect(
          answer(
            await s.request("POST", "/auth/users/reset_username_confirm/", {
              json: { uid, token, new_username: "taken" },
            }),
          ),
        ).toEqual({ status: 400, body: TAKEN });
        expect(
          (
            await s.request("POST", "/auth/users/reset_username_confirm/", {
              json: { uid, token, new_username: "owner2" },
            })
          ).status,
        ).toBe(204);
        expect(
          (
            await s.request("POST", "/auth/users/set_username/", {
              headers: auth(),
              json: { new_username: "owner", current_password: PW },
            })
          ).status,
        ).toBe(204);
      });
    });

    describe("lengths are checked on the stored form", () => {
      it(
        "an email whose domain lengthens when lower-cased: " + "a 400 naming the field and its limit, not a 500",
        async () => {
          const reg = await s.request("POST", "/auth/users/", {
            json: { username: "growing", email: GROWING_EMAIL, password: PW },
          });
          expect(answer(reg)).toEqual({ status: 400, body: { email: EMAIL_TOO_LONG } });
          const patch = await s.request("PATCH", "/auth/users/me/", {
            headers: auth(),
            json: { email: GROWING_EMAIL, current_password: PW },
          });
          expect(answer(patch)).toEqual({ status: 400, body: { email: EMAIL_TOO_LONG } });
          const err = await failure(
            trpcClient(s).users.create.mutate({ username: "growing", email: GROWING_EMAIL, password: PW }),
          );
          expect(err.data?.fields).toEqual({ email: EMAIL_TOO_LONG });
          // The same address with a plain "i" is 251 characters stored too, and is accepted.
          const plain = await s.request("POST", "/auth/users/", {
            json: { username: "plain", email: GROWING_EMAIL.replace(/İ/g, "i"), password: PW },
          });
          expect(plain.status, plain.text).toBe(201);
        },
      );

      it("a username whose NFKC form is longer than 150 characters: a 400, not a 500", async () => {
        const reg = await s.request("POST", "/auth/users/", { json: { username: GROWING_USERNAME, password: PW } });
        expect(answer(reg)).toEqual({ status: 400, body: { username: USERNAME_TOO_LONG } });
        const set = await s.request("POST", "/auth/users/set_username/", {
          headers: auth(),
          json: { new_username: GROWING_USERNAME, current_password: PW },
        });
        expect(answer(set)).toEqual({ status: 400, body: { new_username: USERNAME_TOO_LONG } });
        const err = await failure(trpcClient(s).users.create.mutate({ username: GROWING_USERNAME, password: PW }));
        expect(err.data?.fields).toEqual({ username: USERNAME_TOO_LONG });
        // 8 characters that store as 144.
        const fits = await s.request("POST", "/auth/users/", { json: { username: "\ufdfa".repeat(8), password: PW } });
        expect(fits.status, fits.text).toBe(201);
      });

      it(
        "USERNAME_FIELD=email: the whole lower-cased address (the unique key) is measured, " +
          "and reset_email_confirm tells no one which emails are taken",
        async () => {
          const e = await startTestServer(db, { ...CHEAP, USERNAME_FIELD: "email" });
          try {
            const reg = await e.request("POST", "/auth/users/", { json: { email: GROWING_EMAIL, password: PW } });
            expect(answer(reg)).toEqual({ status: 400, body: { email: EMAIL_TOO_LONG } });
            expect(
              (await e.request("POST", "/auth/users/", { json: { email: "held@example.com", password: PW } })).status,
            ).toBe(201);
            const probe = await e.request("POST", "/auth/users/reset_email_confirm/", {
              json: { uid: "OTk5OTk5OTk", token: "x", new_email: "HELD@example.com" },
            });
            expect(answer(probe)).toEqual({ status: 400, body: BAD_UID });
            const err = await failure(
              trpcClient(e).users.resetUsernameConfirm.mutate({
                uid: "OTk5OTk5OTk",
                token: "x",
                new_email: "held@example.com",
              }),
            );
            expect(err.data?.fields).toEqual(BAD_UID);
          } finally {
            await e.stop();
          }
        },
      );

      it(
        "a value the database still finds too long (Prisma's P2000) " +
          "is a 400 field error with its limit, for both adapters",
        async () => {
          const tooLong = async (data: { username?: string; email?: string }) => {
            try {
              await s.deps.prisma.user.create({ data: { username: "p2000", email: "", password: "!", ...data } });
            } catch (e) {
              return classifyError(e, s.deps.log);
            }
            throw new Error("expected the write to fail");
          };
          const email = await tooLong({ email: "x".repeat(255) });
          expect({ status: email.status, code: email.code, fields: email.fields }).toEqual({
            status: 400,
            code: "invalid_input",
            fields: { email: EMAIL_TOO_LONG },
          });
          const username = await tooLong({ username: "x".repeat(151) });
          expect(username.fields).toEqual({ username: USERNAME_TOO_LONG });
        },
      );
    });
  });
}
