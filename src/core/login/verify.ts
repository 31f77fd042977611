// Login: Django's authenticate() behind Djoser's token login; the JWT login uses it too.
import type { z } from "zod";
import { AuthError, ERRORS } from "../../errors.ts";
import { audit, auditLogin } from "../audit.ts";
import type { Deps, RequestMeta, User } from "../deps.ts";
import type { AuthToken } from "../dto.ts";
import { findLoginUser } from "../identity.ts";
import { charField, clientInput, form, parseInput, passwordField, perSettings } from "../inputs.ts";
import { issueToken } from "../sessions/opaque.ts";
import { issueDeviceToken, trustedDevice } from "./device-tokens.ts";
import { oneCheckAtATime, spendPasswordCheck } from "./hash-queue.ts";
import { claimLoginAttempt } from "./lockout.ts";
import { dummyVerify, hashPassword, verifyPassword } from "./passwords.ts";
import { accountKey } from "./throttle.ts";

// Djoser's TokenCreateSerializer: both fields optional (a missing one is "invalid credentials"),
// but a blank one is DRF's "This field may not be blank."; password is declared first.
const loginForm = <L extends "username" | "email">(field: L) =>
  form({ password: passwordField().optional(), [field]: charField().optional() } as {
    password: z.ZodOptional<z.ZodString>;
  } & Record<L, z.ZodOptional<z.ZodString>>);
export const loginInput = perSettings((deps: Deps) => loginForm(deps.settings.DJOSER.LOGIN_FIELD));
/** Typed clients: the login field in force (LOGIN_FIELD: username or email) and password. */
export const loginFields = clientInput(loginForm("username"), loginForm("email"));

/**
 * Django's authenticate(): the user whose login field matches, if the password is theirs and they
 * are active. Every failure is the same null and costs one hash (no enumeration).
 */
export async function verifyLogin(
  deps: Deps,
  field: "username" | "email",
  login: string | undefined,
  password: string | undefined,
  meta: RequestMeta,
): Promise<LoginResult> {
  await deps.throttle("login", [`ip:${meta.ip}`, login && accountKey(login)]);
  if (!login || !password) return { user: null, accountId: null };
  spendPasswordCheck(meta); // a known and an unknown name spend it alike
  const device = trustedDevice(deps, login, meta.deviceTokens);
  // One attempt at a time per name in this process (whether or not it has an account), so each
  // sees the count the one before it left; instances sharing the database are kept apart by the
  // lockout's own slots.
  return oneCheckAtATime(accountKey(login), async () => {
    // The slot and the user in one round trip's time (the lookup is wasted only when refused).
    const [attempt, user] = await Promise.all([
      claimLoginAttempt(deps, login, { ip: meta.ip, device }),
      findLoginUser(deps, field, login),
    ]);
    // An inactive account's right password must not answer faster than a wrong one (passwords.ts).
    const check = user
      ? verifyPassword(password, user.password, { pad: user.isActive ? "failure" : "always" })
      : dummyVerify(password).then(() => ({ ok: false, needsRehash: false }));
    const checked = await check.catch(async (e: unknown) => {
      await attempt.abandoned(); // not checked (the hash queue is full): the slot is not a failure
      throw e;
    });
    if (!user || !checked.ok || !user.isActive) {
      const { events } = await attempt.failed();
      if (user) for (const event of events) await audit(deps, "lockout", meta, user.id, event);
      return { user: null, accountId: user?.id ?? null };
    }
    await attempt.succeeded();
    const token = issueDeviceToken(deps, login);
    if (token) meta.issuedDevice?.push(token);
    // Imported Django hashes move to argon2id on the first successful login (on a later one if
    // the hash queue is full now: the login itself has succeeded).
    const rehash = checked.needsRehash ? hashPassword(password) : null;
    const hash = await rehash?.catch((e: unknown) => (e instanceof AuthError ? null : Promise.reject(e)));
    if (hash) {
      await deps.store.users.setPassword(user.id, hash);
      user.password = hash;
    }
    return { user, accountId: user.id };
  });
}

/** The user when the credentials are good; else which account was aimed at, for the audit log only. */
export type LoginResult = { user: User; accountId: number } | { user: null; accountId: number | null };

/**
 * Django's update_last_login. It also ends outstanding reset links, whose hash covers last_login.
 * A login that must leave last_login alone (SimpleJWT's UPDATE_LAST_LOGIN off) moves the link
 * epoch instead, which every link hashes once set: a login ends the links either way.
 */
export async function recordLogin(deps: Deps, user: User, column: "lastLogin" | "linkEpoch" = "lastLogin") {
  const at = new Date();
  await deps.store.users.recordLogin(user.id, column, at);
  user[column] = at;
}

/**
 * The Djoser and SimpleJWT credential endpoints hand out nothing for a password alone to a user
 * with MFA on: 403 mfa_required, pointing at the two-step login. Said only once the password was
 * right, so it tells nobody else whether an account has MFA.
 */
export async function refuseWithMfa(deps: Deps, user: User, meta: RequestMeta, method: "token" | "jwt") {
  if (!(await deps.store.mfa.activeNames(user.id)).length) return;
  await audit(deps, "login_failed", meta, user.id, { method, reason: "mfa_required" });
  throw new AuthError("mfa_required", undefined, { data: { code: "mfa_required" } });
}

export async function tokenLogin(deps: Deps, raw: unknown, meta: RequestMeta): Promise<AuthToken> {
  const field = deps.settings.DJOSER.LOGIN_FIELD;
  const input = parseInput(loginInput(deps), raw);
  const { user, accountId } = await verifyLogin(deps, field, input[field], input.password, meta);
  if (!user) {
    await auditLogin(deps, meta, "token", accountId, false, input[field]);
    const message = ERRORS.invalid_credentials.message;
    throw new AuthError("invalid_credentials", message, { fields: { non_field_errors: [message] } });
  }
  await refuseWithMfa(deps, user, meta, "token");
  // Independent writes, so one round trip's time rather than three.
  const [, , key] = await Promise.all([
    auditLogin(deps, meta, "token", accountId, true, input[field]),
    recordLogin(deps, user),
    issueToken(deps, user, meta),
  ]);
  return { auth_token: key };
}
