// Users: registration, activation, profile, deletion — Djoser's rules, one place for both adapters.
import { z } from "zod";
import { AuthError, invalid } from "../errors.ts";
import { audit } from "./audit.ts";
import { endSessions } from "./end-sessions.ts";
import type { Deps, Principal, RequestMeta, User } from "./deps.ts";
import { queueMail, withMail } from "./notify.ts";
import { charField, emailField, form, parseInput, passwordField, perSettings, stringField, usernameField } from "./inputs.ts";
import { checkToken, decodeUid } from "./links.ts";
import { claimLoginAttempt, clearLoginLocks } from "./lockout.ts";
import { dummyVerify, hashPassword, verifyPassword } from "./passwords.ts";
import { accountKey } from "./throttle.ts";
import { normalizeEmail, validatePassword } from "./validators.ts";

/** What Djoser's UserSerializer shows: REQUIRED_FIELDS, then id and the login field. */
export function publicUser(deps: Deps, user: User) {
  return deps.settings.USERNAME_FIELD === "email" ? { id: user.id, email: user.email } : { email: user.email, id: user.id, username: user.username ?? "" };
}

export const createInput = perSettings((deps: Deps) => {
  const emailLogin = deps.settings.USERNAME_FIELD === "email";
  return form({
    ...(emailLogin ? { email: emailField() } : { email: emailField({ allowBlank: true }).optional(), username: usernameField() }),
    password: passwordField(),
    ...(deps.settings.DJOSER.USER_CREATE_PASSWORD_RETYPE ? { re_password: charField() } : {}),
  });
});
export type CreateInput = { email?: string; username?: string; password: string; re_password?: string };

export async function createUser(deps: Deps, raw: unknown, meta: RequestMeta) {
  const { settings, prisma } = deps;
  await deps.throttle("registration", [`ip:${meta.ip}`]);
  const input = parseInput(createInput(deps), raw) as CreateInput;
  const emailLogin = settings.USERNAME_FIELD === "email";
  const email = normalizeEmail(input.email ?? "");
  // Django's create_user normalises usernames (NFKC), so look-alike forms cannot coexist.
  const username = emailLogin ? null : input.username!.normalize("NFKC");
  const emailKey = emailLogin ? email.toLowerCase() : null;
  // Unique fields are checked with the other field errors, as DRF's UniqueValidator does; the
  // database constraint below still decides under a race.
  const taken = await prisma.user.findUnique({ where: emailLogin ? { emailKey: emailKey! } : { username: username! }, select: { id: true } });
  if (taken) throw duplicate(deps);
  const problems = validatePassword(input.password, { username: input.username, email }, settings.AUTH_PASSWORD_VALIDATORS);
  if (problems.length) throw invalid({ password: problems });
  if (settings.DJOSER.USER_CREATE_PASSWORD_RETYPE && input.password !== input.re_password) {
    throw invalid({ non_field_errors: ["The two password fields didn't match."] });
  }
  const mail = settings.DJOSER.SEND_ACTIVATION_EMAIL ? "activation" : settings.DJOSER.SEND_CONFIRMATION_EMAIL ? "confirmation" : null;
  // The user and its mail are one write: a user left inactive with no activation mail queued
  // could never activate, and the username would stay taken.
  const data = { username, email, emailKey, password: await hashPassword(input.password), isActive: !settings.DJOSER.SEND_ACTIVATION_EMAIL, ...withMail(deps, mail, email) };
  let user: User;
  try {
    user = await prisma.user.create({ data });
  } catch (e) {
    if ((e as { code?: string }).code === "P2002") throw duplicate(deps);
    throw e;
  }
  if (mail) deps.outbox.kick();
  await clearLoginLocks(deps, [emailLogin ? user.email : user.username]); // failures on the name before it had an account were nobody's
  // Djoser's UserCreateSerializer order: REQUIRED_FIELDS, the login field, id.
  return emailLogin ? { email: user.email, id: user.id } : { email: user.email, username: user.username ?? "", id: user.id };
}

const duplicate = (deps: Deps) =>
  deps.settings.USERNAME_FIELD === "email"
    ? invalid({ email: ["user with this email address already exists."] })
    : invalid({ username: ["A user with that username already exists."] });

export const uidTokenInput = form({ uid: charField(), token: charField() });

/** Djoser's UidAndTokenSerializer: the user behind a mailed link, or the field that is wrong. */
export async function userFromLink(deps: Deps, uid: string, token: string): Promise<User> {
  const id = decodeUid(uid);
  const user = id === null ? null : await deps.prisma.user.findUnique({ where: { id } });
  if (!user) throw invalid({ uid: ["Invalid user id or user doesn't exist."] });
  const ok = checkToken({ id: user.id, password: user.password, lastLogin: user.lastLogin, email: user.email }, token, deps.settings.SECRET_KEY, deps.settings.PASSWORD_RESET_TIMEOUT);
  if (!ok) throw invalid({ token: ["Invalid token for given user."] });
  return user;
}

export async function activate(deps: Deps, raw: unknown, meta: RequestMeta): Promise<void> {
  const { uid, token } = parseInput(uidTokenInput, raw);
  const user = await userFromLink(deps, uid, token);
  // The link stays valid after use (nothing it hashes changes), so an active user means "used".
  // The conditional update makes two concurrent uses of one link activate once.
  const { count } = await deps.prisma.user.updateMany({ where: { id: user.id, isActive: false }, data: { isActive: true } });
  if (count === 0) throw new AuthError("stale_token");
  await audit(deps, "activation", meta, user.id);
  if (deps.settings.DJOSER.SEND_CONFIRMATION_EMAIL) await queueMail(deps, "confirmation", { ...user, isActive: true });
}

export const emailInput = form({ email: emailField() });

export async function resendActivation(deps: Deps, raw: unknown, meta: RequestMeta): Promise<void> {
  await deps.throttle("email", [`ip:${meta.ip}`]);
  const { email } = parseInput(emailInput, raw);
  await deps.throttle("email", [accountKey(email)]);
  const { SEND_ACTIVATION_EMAIL, RESEND_ACTIVATION_SHOW_EMAIL_NOT_FOUND } = deps.settings.DJOSER;
  // Djoser answers an empty 400 when activation mails are off, and also when no inactive user has
  // this email, which tells anyone whether an address has an account; that second 400 is opt-in.
  if (!SEND_ACTIVATION_EMAIL) throw new AuthError("activation_not_sent");
  const users = await deps.prisma.user.findMany({ where: { email, isActive: false }, orderBy: { id: "asc" } });
  if (!users.length && RESEND_ACTIVATION_SHOW_EMAIL_NOT_FOUND) throw new AuthError("activation_not_sent");
  // Django's password-reset form mails every matching account; Djoser crashed on two (a 500).
  for (const user of users) await queueMail(deps, "activation", user);
}

/** HIDE_USERS: a regular user lists only themself; staff see everyone. */
export async function listUsers(deps: Deps, principal: Principal) {
  const { user } = principal;
  const where = deps.settings.DJOSER.HIDE_USERS && !user.isStaff ? { id: user.id } : {};
  const users = await deps.prisma.user.findMany({ where, orderBy: { id: "asc" } });
  return users.map((u) => publicUser(deps, u));
}

export type UserAction = "retrieve" | "update" | "destroy";

/** CurrentUserOrAdmin, with Djoser's HIDE_USERS twist: a hidden user is "not found", except on delete. */
export async function targetUser(deps: Deps, principal: Principal, id: number | null, action: UserAction): Promise<User> {
  const target = id === null ? null : await deps.prisma.user.findUnique({ where: { id } });
  if (!target) throw new AuthError("not_found");
  if (principal.user.isStaff || target.id === principal.user.id) return target;
  throw new AuthError(deps.settings.DJOSER.HIDE_USERS && action !== "destroy" ? "not_found" : "permission_denied");
}

export const updateInput = perSettings((deps: Deps) =>
  form(deps.settings.USERNAME_FIELD === "email" ? {} : { email: emailField({ allowBlank: true }).optional(), current_password: stringField().optional() }),
);

/**
 * PUT and PATCH alike: the login field is read-only, unknown fields are ignored (as in DRF). With
 * EMAIL_CHANGE_REQUIRES_PASSWORD (an extension) a new email needs the caller's current_password:
 * whoever holds a stolen token must not be able to redirect the reset mails.
 */
export async function updateUser(deps: Deps, principal: Principal, target: User, raw: unknown) {
  const input = parseInput(updateInput(deps), raw) as { email?: string; current_password?: string };
  if (input.email === undefined) return publicUser(deps, target);
  const email = normalizeEmail(input.email);
  if (deps.settings.DJOSER.EMAIL_CHANGE_REQUIRES_PASSWORD && email !== target.email) {
    if (!input.current_password) throw invalid({ current_password: ["This field is required to change the email address."] });
    if (!(await verifyPassword(input.current_password, principal.user.password)).ok) throw invalid({ current_password: ["Invalid password."] });
  }
  // Djoser deactivates a user whose email changes until the new address is confirmed.
  const reactivate = deps.settings.DJOSER.SEND_ACTIVATION_EMAIL && email !== target.email;
  // Deactivation and the activation mail are one write, or an outage could lock the user out.
  const user = await deps.prisma.user.update({ where: { id: target.id }, data: { email, ...(reactivate ? { isActive: false, ...withMail(deps, "activation", email) } : {}) } });
  await deps.authCache.forgetUser(user.id); // cached principals carry the old email
  // Tokens survive: they answer "User inactive or deleted." until the user activates again.
  if (reactivate) deps.outbox.kick();
  return publicUser(deps, user);
}

export const deleteInput = form({ current_password: charField() });

/** Deletion needs the caller's own password (an admin deleting someone types the admin's). */
export async function deleteUser(deps: Deps, principal: Principal, target: User, raw: unknown): Promise<void> {
  const { current_password } = parseInput(deleteInput, raw);
  const { ok } = await verifyPassword(current_password, principal.user.password);
  if (!ok) throw invalid({ current_password: ["Invalid password."] });
  // Tokens go with the user (ON DELETE CASCADE).
  await deps.prisma.user.deleteMany({ where: { id: target.id } });
  await deps.authCache.forgetUser(target.id);
}

// Djoser's TokenCreateSerializer: both fields optional (a missing one is "invalid credentials"),
// but a blank one is DRF's "This field may not be blank."; password is declared first.
export const loginInput = perSettings((deps: Deps) =>
  form({ password: charField().optional(), [deps.settings.DJOSER.LOGIN_FIELD]: charField().optional() } as Record<string, z.ZodOptional<z.ZodString>>),
);

/**
 * Django's authenticate(): the user whose login field matches, if the password is theirs and they
 * are active. Every failure is the same null and costs one hash (no enumeration).
 */
export async function verifyLogin(deps: Deps, field: "username" | "email", login: string | undefined, password: string | undefined, meta: RequestMeta): Promise<LoginResult> {
  await deps.throttle("login", [`ip:${meta.ip}`, login && accountKey(login)]);
  if (!login || !password) return { user: null, accountId: null };
  // The slot and the user in one round trip's time (the lookup is wasted only when refused).
  const [attempt, user] = await Promise.all([
    claimLoginAttempt(deps, login),
    field === "username"
      ? deps.prisma.user.findUnique({ where: { username: login } })
      : deps.prisma.user.findFirst({ where: deps.settings.USERNAME_FIELD === "email" ? { emailKey: login.toLowerCase() } : { email: login }, orderBy: { id: "asc" } }),
  ]);
  if (!user) {
    await dummyVerify(password);
    await attempt.failed();
    return { user: null, accountId: null };
  }
  // An inactive account's right password must not answer faster than a wrong one (passwords.ts).
  const pad = user.isActive ? "failure" : "always";
  const { ok, needsRehash } = await verifyPassword(password, user.password, { pad });
  if (!ok || !user.isActive) {
    const failures = await attempt.failed();
    const { FREE_FAILURES, MAX_FAILURES } = deps.settings.LOGIN_LOCKOUT;
    if (failures === FREE_FAILURES || failures === MAX_FAILURES) await audit(deps, "lockout", meta, user.id, { failures, reason: failures === MAX_FAILURES ? "locked until a password reset" : "backoff started" });
    return { user: null, accountId: user.id };
  }
  await attempt.succeeded();
  if (needsRehash) {
    // Imported Django hashes move to argon2id on the first successful login.
    const hash = await hashPassword(password);
    await deps.prisma.user.update({ where: { id: user.id }, data: { password: hash } });
    await deps.authCache.forgetUser(user.id);
    user.password = hash;
  }
  return { user, accountId: user.id };
}

/** The user when the credentials are good; else which account was aimed at, for the audit log only. */
export type LoginResult = { user: User; accountId: number } | { user: null; accountId: number | null };

/** Staff: activate or deactivate a user. Deactivating ends every session of theirs at once. */
export async function setActive(deps: Deps, principal: Principal, id: number, active: boolean, meta: RequestMeta) {
  if (!principal.user.isStaff) throw new AuthError("permission_denied");
  const { count } = await deps.prisma.user.updateMany({ where: { id }, data: { isActive: active } });
  if (!count) throw new AuthError("not_found");
  await deps.authCache.forgetUser(id);
  if (!active) {
    await endSessions(deps, id, "deactivated");
    await audit(deps, "session_revoked", meta, id, { session: "all", reason: "deactivated", by: principal.user.id });
  }
  return publicUser(deps, await deps.prisma.user.findUniqueOrThrow({ where: { id } }));
}
