// What the password-flow tests share: Djoser's words, the login checks that tell which password is
// in force, and the mailed reset link.
import { expect } from "vitest";
import { type Server, tokenAuth } from "../../helpers/fixture.ts";
import { uidToken } from "../../helpers/mail.ts";
import { type Client, trpcClient } from "../../helpers/trpc.ts";
import { expectAnswer } from "./rest.ts";

export const NEW_PW = "Vb4$nQ8&wT3m";
export const NO_ACCOUNT = { detail: "No active account found with the given credentials" };
export const REQUIRED = ["This field is required."];
export const BAD_UID = { uid: ["Invalid user id or user doesn't exist."] };
export const BAD_TOKEN = { token: ["Invalid token for given user."] };
export const MISMATCH = { non_field_errors: ["The two password fields didn't match."] };
export const TOO_WEAK = [
  "This password is too short. It must contain at least 8 characters.",
  "This password is too common.",
  "This password is entirely numeric.",
];
export const RESET_SUBJECT = "Password reset on Portcullis";

export const client = (s: Server, authorization?: string): Client =>
  trpcClient(s, authorization ? { authorization } : {});

export const register = (s: Server, username: string, email = `${username}@example.com`) => s.signUp(username, email);

export const tokenLogin = (s: Server, username: string, password: string) =>
  s.request("POST", "/auth/token/login/", { json: { username, password } });

/**
 * The old password is refused at login, the new one logs in. A login ends the outstanding reset
 * links (jwt/create too, by the link epoch): before a link is used, check with expectRefused.
 */
export async function expectPasswordIs(s: Server, username: string, current: string, old: string) {
  await expectRefused(s, username, old);
  expect((await s.request("POST", "/auth/jwt/create/", { json: { username, password: current } })).status).toBe(200);
}

/** This password does not log in (a failed login leaves the outstanding links alone). */
export async function expectRefused(s: Server, username: string, password: string) {
  const refused = await s.request("POST", "/auth/jwt/create/", { json: { username, password } });
  expect([refused.status, refused.json]).toEqual([401, NO_ACCOUNT]);
}

/** The uid and token of the only password-reset mail to `to`. */
export function resetLink(s: Server, to: string, subject = RESET_SUBJECT) {
  const mails = s.mailsTo(to, subject);
  expect(mails, `reset mails to ${to}`).toHaveLength(1);
  expect(mails[0]!.links).toHaveLength(1);
  return uidToken(mails[0]!.links[0]!);
}

export async function requestReset(s: Server, email: string, subject = RESET_SUBJECT) {
  expectAnswer(await s.request("POST", "/auth/users/reset_password/", { json: { email } }), 204);
  return resetLink(s, email, subject);
}

export const uidOf = (link: string) => Number(Buffer.from(uidToken(link).uid, "base64url").toString());

export const setPassword = (s: Server, key: string, json: unknown) =>
  s.request("POST", "/auth/users/set_password/", { headers: tokenAuth(key), json });
export const confirm = (s: Server, json: unknown) => s.request("POST", "/auth/users/reset_password_confirm/", { json });
