// What the login-name flow tests share: Djoser's words, registration and login on either login
// field, the checks that tell which login is in force, and the mailed reset link.
import { expect } from "vitest";
import { PW, type Server } from "../../helpers/fixture.ts";
import { uidToken } from "../../helpers/mail.ts";
import type { Client } from "../../helpers/trpc.ts";
import { expectAnswer } from "./rest.ts";

export const NO_ACCOUNT = { detail: "No active account found with the given credentials" };
export const REQUIRED = ["This field is required."];
export const WRONG_PASSWORD = ["Invalid password."];
export const TAKEN = ["A user with that username already exists."];
export const BAD_USERNAME = [
  "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
];
export const BAD_UID = { uid: ["Invalid user id or user doesn't exist."] };
export const BAD_TOKEN = { token: ["Invalid token for given user."] };
export const MISMATCH = { non_field_errors: ["The two username fields didn't match."] };
export const EMAIL_NOT_FOUND = ["User with given email does not exist."];
export const RESET_SUBJECT = "Username reset on Portcullis";
export const CHANGED_SUBJECT = "Portcullis - Your username has been successfully changed!";

export const client = (s: Server, authorization?: string): Client => s.trpc(authorization ? { authorization } : {});

/** Registers (on the server's USERNAME_FIELD) without logging in: last_login stays empty. */
export const register = (s: Server, login: string, email = `${login}@example.com`) => s.signUp(login, email);

/** Registers and logs in with an opaque token. */
export async function signUp(s: Server, login: string, email = `${login}@example.com`) {
  const id = await register(s, login, email);
  return { id, key: await s.tokenLogin(login) };
}

/**
 * The old login is refused, the new one works. A login ends the outstanding reset links (jwt/create
 * too, by the link epoch): before a link is used, check with expectRefused.
 */
export async function expectLoginIs(s: Server, current: string, old: string) {
  const field = current.includes("@") ? "email" : "username";
  await expectRefused(s, old);
  const ok = await s.request("POST", "/auth/jwt/create/", { json: { [field]: current, password: PW } });
  expect(ok.status, `login as ${current}`).toBe(200);
}

/** This login name does not log in (a failed login leaves the outstanding links alone). */
export async function expectRefused(s: Server, login: string) {
  const json = { [login.includes("@") ? "email" : "username"]: login, password: PW };
  const refused = await s.request("POST", "/auth/jwt/create/", { json });
  expect([refused.status, refused.json], `login as ${login}`).toEqual([401, NO_ACCOUNT]);
}

export async function requestReset(s: Server, path: string, email: string) {
  expectAnswer(await s.request("POST", path, { json: { email } }), 204);
  const mails = s.mailsTo(email, RESET_SUBJECT);
  expect(mails, `reset mails to ${email}`).toHaveLength(1);
  return { mail: mails[0]!, link: uidToken(mails[0]!.links[0]!) };
}
