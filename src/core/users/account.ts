// Djoser's password and login-name flows: set_password, reset_password, reset_password_confirm,
// set_<login>, reset_<login>, reset_<login>_confirm (<login> = USERNAME_FIELD: username or email).
//
// Validation runs in Djoser's order, because clients show the first error they find: field errors
// all at once (current_password and uniqueness are field checks there), then the password
// validators, then the retype check. Except for the mailed link (uid, then token), which Djoser
// checks last: the two confirm views check it right after the field errors, so that a request
// without a valid link learns nothing (which names are taken) and costs no validator run.
import type { z } from "zod";
import { validatePassword } from "../../compat/django/password-validation.ts";
import { AuthError, invalid } from "../../errors.ts";
import { audit } from "../audit.ts";
import type { Deps, Principal, RequestMeta, User } from "../deps.ts";
import type { AuthToken, FieldErrors } from "../dto.ts";
import { isLoginTaken, loginColumns, loginTaken, takenMessage } from "../identity.ts";
import { charField, clientInput, emailField, form, passwordField, toFieldErrors, usernameField } from "../inputs.ts";
import { checkCurrentPassword } from "../login/current-password.ts";
import { spendPasswordCheck } from "../login/hash-queue.ts";
import { clearLoginLocks } from "../login/lockout.ts";
import { hashPassword } from "../login/passwords.ts";
import { requireRecentAuth } from "../login/step-up.ts";
import { accountKey } from "../login/throttle.ts";
import { queueMail } from "../mail/queue.ts";
import { endSessions } from "../sessions/end.ts";
import { emailInput, userFromLink } from "./register.ts";

type Shape = Record<string, z.ZodType>;
type FieldCheck = (value: string) => Promise<string | null>;

const PASSWORD_MISMATCH = "The two password fields didn't match.";
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** DRF's is_valid() field phase: every field's errors, in field order, async field checks included. */
async function validateFields(
  shape: Shape,
  raw: unknown,
  checks: Record<string, FieldCheck> = {},
): Promise<Record<string, string>> {
  const result = form(shape).safeParse(raw ?? {});
  const errors: FieldErrors = result.success ? {} : toFieldErrors(result.error);
  if (errors.non_field_errors) throw invalid(errors); // not a JSON object at all
  const input = isObject(raw) ? raw : {};
  for (const [field, check] of Object.entries(checks)) {
    const parsed = shape[field]!.safeParse(input[field]);
    if (errors[field] || !parsed.success) continue;
    const message = await check(parsed.data as string);
    if (message) errors[field] = [message];
  }
  if (Object.keys(errors).length)
    throw invalid(
      Object.fromEntries(
        Object.keys(shape)
          .filter((k) => errors[k])
          .map((k) => [k, errors[k]!]),
      ),
    );
  return result.data as Record<string, string>;
}

// Throttled, locked out per user and audited like a login (current-password.ts); Djoser's words.
const currentPassword =
  (deps: Deps, principal: Principal, meta: RequestMeta): FieldCheck =>
  async (value) =>
    (await checkCurrentPassword(deps, principal, value, meta)) ? null : "Invalid password.";

function checkNewPassword(deps: Deps, password: string, user: User | null, retype: string | undefined) {
  const attributes = user
    ? { username: user.username ?? undefined, email: user.email, first_name: user.firstName, last_name: user.lastName }
    : {};
  const problems = validatePassword(password, attributes, deps.settings.AUTH_PASSWORD_VALIDATORS);
  if (problems.length) throw invalid({ new_password: problems });
  if (retype !== undefined && password !== retype) throw invalid({ non_field_errors: [PASSWORD_MISMATCH] });
}

/** The login field's name, value schema and uniqueness check (identity.ts): username or email. */
function loginField(deps: Deps) {
  const field = deps.settings.USERNAME_FIELD;
  const unique: FieldCheck = async (v) => ((await isLoginTaken(deps, v)) ? takenMessage(deps.settings) : null);
  return { field, unique };
}

type Login = "username" | "email";
/** new_<login> and, with the retype setting, re_new_<login>, named for the login field in force. */
const newLogin = <L extends Login>(field: L, retype: boolean) =>
  ({
    [`new_${field}`]: field === "email" ? emailField() : usernameField(),
    ...(retype ? { [`re_new_${field}`]: charField() } : {}),
  }) as Record<`new_${L}` | `re_new_${L}`, z.ZodString>;

/**
 * A password changed: Djoser's LOGOUT_ON_PASSWORD_CHANGE ends the caller's opaque tokens; with
 * PASSWORD_CHANGE_ENDS_SESSIONS every other session ends too, JWT sessions included. `ended` is
 * what the mail may say: the other sessions (true), every one ("all"), or none it can claim (false).
 * A caller on the shared key, which every device holds, gets a new key (`key`).
 */
async function afterPasswordChange(
  deps: Deps,
  user: User,
  reason: "password_change" | "password_reset",
  caller?: Principal,
) {
  const { LOGOUT_ON_PASSWORD_CHANGE: logout, PASSWORD_CHANGE_ENDS_SESSIONS: endAll } = deps.settings.DJOSER;
  if (!endAll) {
    if (logout && caller) await deps.store.tokens.endAll(user.id);
    return { ended: false as const, key: null };
  }
  const keep = logout ? undefined : caller;
  const { key } = await endSessions(deps, user.id, reason, { keep });
  return { ended: keep ? (true as const) : ("all" as const), key };
}

const setPasswordForm = (retype: boolean) => ({
  new_password: passwordField(),
  ...(retype ? { re_new_password: passwordField() } : {}),
  current_password: passwordField(),
});
export const setPasswordShape = (deps: Deps): Shape => setPasswordForm(deps.settings.DJOSER.SET_PASSWORD_RETYPE);
/** Typed clients: re_new_password is read with SET_PASSWORD_RETYPE only. */
export const setPasswordFields = clientInput(form(setPasswordForm(true)));

/** The new shared key when the caller's (held by every device) had to go with the others; else null. */
export async function setPassword(
  deps: Deps,
  principal: Principal,
  raw: unknown,
  meta: RequestMeta,
): Promise<AuthToken | null> {
  const { user } = principal;
  const input = await validateFields(setPasswordShape(deps), raw, {
    current_password: currentPassword(deps, principal, meta),
  });
  checkNewPassword(deps, input.new_password!, user, input.re_new_password);
  await requireRecentAuth(deps, principal, { passwordChecked: true });
  const password = await hashPassword(input.new_password!);
  await deps.store.users.setPassword(user.id, password);
  const { ended, key } = await afterPasswordChange(deps, user, "password_change", principal);
  const reason = ended === "all" ? "every session ended" : ended ? "other sessions ended" : "sessions kept";
  await audit(deps, "password_changed", meta, user.id, { reason });
  if (deps.settings.DJOSER.PASSWORD_CHANGED_EMAIL_CONFIRMATION)
    await queueMail(deps, "password_changed_confirmation", { ...user, password }, { sessionsEnded: ended });
  return key ? { auth_token: key } : null;
}

export const emailShape: Shape = emailInput.shape;

/**
 * reset_password / reset_<login>: mails a link to every active user with that email and a usable
 * password; 204 whether or not one exists, unless *_SHOW_EMAIL_NOT_FOUND (either one, as Djoser).
 */
export async function requestReset(
  deps: Deps,
  kind: "password_reset" | "username_reset",
  raw: unknown,
  meta: RequestMeta,
): Promise<void> {
  await deps.throttle("email", [`ip:${meta.ip}`]);
  const { email } = await validateFields(emailShape, raw);
  await deps.throttle("email", [accountKey(email!)]);
  const users = await deps.store.users.resettable(email!);
  const { PASSWORD_RESET_SHOW_EMAIL_NOT_FOUND: a, USERNAME_RESET_SHOW_EMAIL_NOT_FOUND: b } = deps.settings.DJOSER;
  const event = kind === "password_reset" ? "password_reset_requested" : "username_reset_requested";
  if (!users.length)
    await audit(deps, event, meta, null, { login: email, reason: "no active account with this email" });
  for (const user of users) await audit(deps, event, meta, user.id, { login: email });
  if (!users.length && (a || b)) throw new AuthError("email_not_found");
  // Djoser crashed (500) on an email two users share; Django's own reset form mails each.
  for (const user of users) await queueMail(deps, kind, user);
}

const resetPasswordConfirmForm = (retype: boolean) => ({
  uid: charField(),
  token: charField(),
  new_password: passwordField(),
  ...(retype ? { re_new_password: passwordField() } : {}),
});
export const resetPasswordConfirmShape = (deps: Deps): Shape =>
  resetPasswordConfirmForm(deps.settings.DJOSER.PASSWORD_RESET_CONFIRM_RETYPE);
/** Typed clients: re_new_password is read with PASSWORD_RESET_CONFIRM_RETYPE only. */
export const resetPasswordConfirmFields = clientInput(form(resetPasswordConfirmForm(true)));

export async function resetPasswordConfirm(deps: Deps, raw: unknown, meta: RequestMeta): Promise<void> {
  const input = await validateFields(resetPasswordConfirmShape(deps), raw);
  // The link before the password (Djoser checks it last): whoever holds no link learns nothing
  // about the password rules and costs no validator run.
  const user = await userFromLink(deps, input.uid!, input.token!, "password_reset");
  // Djoser validates the new password against an anonymous user: no similarity check here.
  checkNewPassword(deps, input.new_password!, null, input.re_new_password);
  spendPasswordCheck(meta); // one hash per request, however many calls a batch holds
  const password = await hashPassword(input.new_password!);
  // last_login moves (as Djoser does) so the link, which hashes it, works once; the conditions on
  // the old hash and last_login make two concurrent uses of one link change the password once.
  if (!(await deps.store.users.resetPassword(user, password)))
    throw invalid({ token: ["Invalid token for given user."] });
  const { ended } = await afterPasswordChange(deps, user, "password_reset");
  // The owner's way out of a lockout.
  await clearLoginLocks(deps, [user.username, user.email], { ip: meta.ip, userId: user.id });
  await audit(deps, "password_reset_confirmed", meta, user.id, {
    reason: ended ? "every session ended" : "sessions kept",
  });
  if (deps.settings.DJOSER.PASSWORD_CHANGED_EMAIL_CONFIRMATION)
    await queueMail(deps, "password_changed_confirmation", { ...user, password }, { sessionsEnded: ended });
}

const setLoginForm = <L extends Login>(field: L, retype: boolean) => ({
  current_password: passwordField(),
  ...newLogin(field, retype),
});
export const setLoginShape = (deps: Deps): Shape =>
  setLoginForm(deps.settings.USERNAME_FIELD, deps.settings.DJOSER.SET_USERNAME_RETYPE);
/** Typed clients: the fields are named for USERNAME_FIELD (new_username or new_email). */
export const setLoginFields = clientInput(form(setLoginForm("username", true)), form(setLoginForm("email", true)));

const loginMismatch = (field: string) => invalid({ non_field_errors: [`The two ${field} fields didn't match.`] });

/** set_<login>: a new username (or email, the login), with the current password. */
export async function setLogin(deps: Deps, principal: Principal, raw: unknown, meta: RequestMeta): Promise<void> {
  const { user } = principal;
  const { field, unique } = loginField(deps);
  const input = await validateFields(setLoginShape(deps), raw, {
    current_password: currentPassword(deps, principal, meta),
    [`new_${field}`]: unique,
  });
  const value = input[`new_${field}`]!;
  if (deps.settings.DJOSER.SET_USERNAME_RETYPE && value !== input[`re_new_${field}`]) throw loginMismatch(field);
  await requireRecentAuth(deps, principal, { passwordChecked: true });
  const updated = await saveLogin(deps, user.id, value);
  await tellOldAddress(deps, user, updated);
  await audit(deps, "username_changed", meta, user.id);
  if (deps.settings.DJOSER.USERNAME_CHANGED_EMAIL_CONFIRMATION)
    await queueMail(deps, "username_changed_confirmation", updated);
}

/** For a mailed link (`link`): the row must still be as the link saw it (same password, link unused). */
async function saveLogin(deps: Deps, id: number, value: string, link?: User): Promise<User> {
  const user = await deps.store.users.setLogin(id, loginColumns(deps.settings, value), link);
  // Taken between the check and the write: the unique index decided, and is answered as the check.
  if (user === "taken") throw loginTaken(deps.settings, `new_${deps.settings.USERNAME_FIELD}`);
  if (user === "stale") throw invalid({ token: ["Invalid token for given user."] });
  // Failures on the new (unique) name were nobody's.
  await clearLoginLocks(deps, [deps.settings.USERNAME_FIELD === "email" ? user.email : user.username]);
  return user;
}

/** set_email / reset_email_confirm (the email is the login): the old address is told, as for users/me. */
async function tellOldAddress(deps: Deps, before: User, after: User): Promise<void> {
  if (!before.email || before.email === after.email) return;
  await queueMail(deps, "email_changed", after, { to: before.email, newEmail: after.email });
}

export const resetLoginConfirmShape = (deps: Deps): Shape =>
  newLogin(deps.settings.USERNAME_FIELD, deps.settings.DJOSER.USERNAME_RESET_CONFIRM_RETYPE);
/** Typed clients: uid and token, then the fields named for USERNAME_FIELD, as set_<login>. */
export const resetLoginConfirmFields = clientInput(
  form({ uid: charField(), token: charField(), ...newLogin("username", true) }),
  form(newLogin("email", true)),
);

/**
 * reset_<login>_confirm. As in Djoser, uid and token are not declared fields: a missing one is
 * "Invalid user id or user doesn't exist." after the field checks, not "This field is required.".
 * Then, unlike Djoser, the link comes before the uniqueness and retype checks.
 */
export async function resetLoginConfirm(deps: Deps, raw: unknown, meta: RequestMeta): Promise<void> {
  const { field, unique } = loginField(deps);
  const input = await validateFields(resetLoginConfirmShape(deps), raw);
  const link = isObject(raw) ? raw : {};
  // The link before "already exists" (Djoser checks it last): else this unthrottled view tells
  // anyone which usernames (or emails) are taken.
  const [uid, token] = [link.uid, link.token].map((v) => (typeof v === "string" ? v : ""));
  const user = await userFromLink(deps, uid!, token!, "username_reset");
  const value = input[`new_${field}`]!;
  const taken = await unique(value);
  if (taken) throw invalid({ [`new_${field}`]: [taken] });
  if (deps.settings.DJOSER.USERNAME_RESET_CONFIRM_RETYPE && value !== input[`re_new_${field}`])
    throw loginMismatch(field);
  // last_login moves, as in Djoser, so the link works once (the login name is not in its hash).
  const updated = await saveLogin(deps, user.id, value, user);
  await tellOldAddress(deps, user, updated);
  await audit(deps, "username_reset_confirmed", meta, user.id);
  if (deps.settings.DJOSER.USERNAME_CHANGED_EMAIL_CONFIRMATION)
    await queueMail(deps, "username_changed_confirmation", updated);
}
