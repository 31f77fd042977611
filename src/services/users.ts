// Users: registration, activation, profile, deletion — Djoser's rules, one place for both adapters.
import { z } from "zod";
import { AuthError, invalid } from "../errors.ts";
import { audit } from "./audit.ts";
import { endSessions } from "./end-sessions.ts";
import type { Deps, Principal, RequestMeta, User } from "./deps.ts";
import { linkState, queueMail, withMail, withMails, type QueuedMail } from "./notify.ts";
import { charField, emailField, form, optionalPasswordField, parseInput, passwordField, perSettings, usernameField } from "./inputs.ts";
import { checkToken, decodeUid, type LinkPurpose } from "./links.ts";
import { claimLoginAttempt, clearLoginLocks } from "./lockout.ts";
import { checkCurrentPassword } from "./current-password.ts";
import { issueDeviceToken, trustedDevice } from "./device-tokens.ts";
import { dummyVerify, hashPassword, oneCheckAtATime, spendPasswordCheck, verifyPassword } from "./passwords.ts";
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
    ...(deps.settings.DJOSER.USER_CREATE_PASSWORD_RETYPE ? { re_password: passwordField() } : {}),
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
  spendPasswordCheck(meta); // one hash per request, however many calls a batch holds
  // The user and its mail are one write: a user left inactive with no activation mail queued
  // could never activate, and the username would stay taken.
  const pending = settings.DJOSER.SEND_ACTIVATION_EMAIL;
  const password = await hashPassword(input.password);
  const mails = withMail(deps, mail, email);
  const data = { username, email, emailKey, password, isActive: !pending, activationPending: pending, ...mails };
  let user: User;
  try {
    user = await prisma.user.create({ data });
  } catch (e) {
    if ((e as { code?: string }).code === "P2002") throw duplicate(deps);
    throw e;
  }
  if (mail) deps.outbox.kick();
  await clearLoginLocks(deps, [emailLogin ? user.email : user.username], { ip: meta.ip }); // failures on the name before it had an account were nobody's
  // Djoser's UserCreateSerializer order: REQUIRED_FIELDS, the login field, id.
  return emailLogin ? { email: user.email, id: user.id } : { email: user.email, username: user.username ?? "", id: user.id };
}

const duplicate = (deps: Deps) =>
  deps.settings.USERNAME_FIELD === "email"
    ? invalid({ email: ["user with this email address already exists."] })
    : invalid({ username: ["A user with that username already exists."] });

export const uidTokenInput = form({ uid: charField(), token: charField() });

/** The user a mailed link's uid names, or Djoser's uid error. */
async function linkUser(deps: Deps, uid: string): Promise<User> {
  const id = decodeUid(uid);
  const user = id === null ? null : await deps.prisma.user.findUnique({ where: { id } });
  if (!user) throw invalid({ uid: ["Invalid user id or user doesn't exist."] });
  return user;
}

/** Whether `token` is a live link of `purpose` for `user`: a link made for another purpose never is. */
function linkValid(deps: Deps, purpose: LinkPurpose, user: User, token: string): boolean {
  const { SECRET_KEY, PASSWORD_RESET_TIMEOUT } = deps.settings;
  return checkToken(purpose, linkState(user, purpose), token, SECRET_KEY, PASSWORD_RESET_TIMEOUT);
}

const badToken = () => invalid({ token: ["Invalid token for given user."] });

/** Djoser's UidAndTokenSerializer: the user behind a mailed link of `purpose`, or the field that is wrong. */
export async function userFromLink(deps: Deps, uid: string, token: string, purpose: LinkPurpose): Promise<User> {
  const user = await linkUser(deps, uid);
  if (!linkValid(deps, purpose, user, token)) throw badToken();
  return user;
}

/**
 * users/activation/: an activation link, or the confirmation link of an email change (mailed to the
 * new address with ACTIVATION_URL, so a Djoser client's activation page confirms it unchanged).
 * Only an account waiting for its activation link activates: one deactivated by staff stays so.
 */
export async function activate(deps: Deps, raw: unknown, meta: RequestMeta): Promise<void> {
  const { uid, token } = parseInput(uidTokenInput, raw);
  // Without activation mails no link of either kind is made, so none is taken (whatever it was made for).
  if (!deps.settings.DJOSER.SEND_ACTIVATION_EMAIL) throw new AuthError("activation_not_in_use");
  const user = await linkUser(deps, uid);
  if (user.pendingEmail !== null && linkValid(deps, "email_change", user, token)) {
    return confirmEmailChange(deps, user, meta);
  }
  if (!linkValid(deps, "activation", user, token)) throw badToken();
  // The link stays valid after use (nothing it hashes changes), so "no longer pending" means used
  // (or staff decided since). The conditional update makes two concurrent uses activate once.
  const { count } = await deps.prisma.user.updateMany({
    where: { id: user.id, isActive: false, activationPending: true },
    data: { isActive: true, activationPending: false },
  });
  if (count === 0) throw new AuthError("stale_token");
  await deps.authCache.forgetUser(user.id);
  await audit(deps, "activation", meta, user.id);
  const activated = { ...user, isActive: true, activationPending: false };
  if (deps.settings.DJOSER.SEND_CONFIRMATION_EMAIL) await queueMail(deps, "confirmation", activated);
}

/** The pending address becomes the account's. The link hashes both addresses, so it works once. */
async function confirmEmailChange(deps: Deps, user: User, meta: RequestMeta): Promise<void> {
  const email = user.pendingEmail!;
  // Conditional: of two uses of one link, or a use racing a newer change, at most one applies.
  const { count } = await deps.prisma.user.updateMany({
    where: { id: user.id, email: user.email, pendingEmail: email },
    data: { email, pendingEmail: null },
  });
  if (count === 0) throw badToken();
  await deps.authCache.forgetUser(user.id); // cached principals carry the old email
  await audit(deps, "email_changed", meta, user.id, { reason: "confirmed from the new address" });
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
  // Only accounts waiting for activation: a link to one deactivated by staff would be of no use
  // (activate refuses it), and is not mailed either.
  const where = { email, isActive: false, activationPending: true };
  const users = await deps.prisma.user.findMany({ where, orderBy: { id: "asc" } });
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

/**
 * Who may change, deactivate or delete whom: oneself; staff, anyone but a superuser; a superuser,
 * anyone. A staff member who could change a superuser's email could reset its password.
 */
export function mayManage(actor: User, target: Pick<User, "id" | "isSuperuser">): boolean {
  return actor.id === target.id || actor.isSuperuser || (actor.isStaff && !target.isSuperuser);
}

/**
 * CurrentUserOrAdmin, with Djoser's HIDE_USERS twist: a hidden user is "not found", except on
 * delete. Staff read anyone, but change or delete only those they may manage.
 */
export async function targetUser(deps: Deps, principal: Principal, id: number | null, action: UserAction): Promise<User> {
  const target = id === null ? null : await deps.prisma.user.findUnique({ where: { id } });
  if (!target) throw new AuthError("not_found");
  if (target.id === principal.user.id) return target;
  if (principal.user.isStaff) {
    if (action !== "retrieve" && !mayManage(principal.user, target)) throw new AuthError("permission_denied");
    return target;
  }
  throw new AuthError(deps.settings.DJOSER.HIDE_USERS && action !== "destroy" ? "not_found" : "permission_denied");
}

export const updateInput = perSettings((deps: Deps) =>
  form(deps.settings.USERNAME_FIELD === "email" ? {} : { email: emailField({ allowBlank: true }).optional(), current_password: optionalPasswordField() }),
);

/**
 * PUT and PATCH alike: the login field is read-only, unknown fields are ignored (as in DRF). With
 * EMAIL_CHANGE_REQUIRES_PASSWORD (an extension) a new email needs the caller's current_password:
 * whoever holds a stolen token must not be able to redirect the reset mails.
 */
export async function updateUser(deps: Deps, principal: Principal, target: User, raw: unknown, meta: RequestMeta) {
  if (!mayManage(principal.user, target)) throw new AuthError("permission_denied");
  const input = parseInput(updateInput(deps), raw) as { email?: string; current_password?: string };
  if (input.email === undefined) return publicUser(deps, target);
  const email = normalizeEmail(input.email);
  if (deps.settings.DJOSER.EMAIL_CHANGE_REQUIRES_PASSWORD && email !== target.email) {
    if (!input.current_password) throw invalid({ current_password: ["This field is required to change the email address."] });
    const ok = await checkCurrentPassword(deps, principal, input.current_password, meta);
    if (!ok) throw invalid({ current_password: ["Invalid password."] });
  }
  if (email === target.email) {
    // The address in use again: a change waiting for confirmation is called off.
    if (target.pendingEmail === null) return publicUser(deps, target);
    const user = await deps.prisma.user.update({ where: { id: target.id }, data: { pendingEmail: null } });
    await deps.authCache.forgetUser(user.id);
    return publicUser(deps, user);
  }
  const { SEND_ACTIVATION_EMAIL, EMAIL_CHANGE_DEACTIVATES } = deps.settings.DJOSER;
  // The old address is told of every change: a takeover would otherwise go unnoticed by the owner.
  const old = target.email;
  const told: QueuedMail[] = old ? [{ kind: "email_changed", to: old, extra: { to: old, newEmail: email } }] : [];
  // Deactivated by staff: an email change must not hand the account an activation link of its own.
  const suspended = !target.isActive && !target.activationPending;
  let data;
  if (!SEND_ACTIVATION_EMAIL || !email || (EMAIL_CHANGE_DEACTIVATES && suspended)) {
    // Nothing to confirm: activation mails are off, the address is removed, or staff's decision stands.
    data = { email, pendingEmail: null, ...withMails(deps, told) };
  } else if (EMAIL_CHANGE_DEACTIVATES) {
    // Djoser's way: the new address at once, and the account inactive until its activation link is used.
    const mails = withMails(deps, [{ kind: "activation", to: email }, ...told]);
    data = { email, pendingEmail: null, isActive: false, activationPending: true, ...mails };
  } else {
    // The old address stays in use (and the account active) until the link mailed to the new one is used.
    const notice: QueuedMail[] = told.map((m) => ({ ...m, kind: "email_change_requested" }));
    data = { pendingEmail: email, ...withMails(deps, [{ kind: "email_change", to: email }, ...notice]) };
  }
  // The change and its mails are one write: an outage cannot leave one without the other.
  const user = await deps.prisma.user.update({ where: { id: target.id }, data });
  await deps.authCache.forgetUser(user.id); // cached principals carry the old email
  // Tokens survive a deactivation: they answer "User inactive or deleted." until the user activates again.
  deps.outbox.kick();
  return publicUser(deps, user);
}

export const deleteInput = form({ current_password: passwordField() });

/** Deletion needs the caller's own password (an admin deleting someone types the admin's). */
export async function deleteUser(deps: Deps, principal: Principal, target: User, raw: unknown, meta: RequestMeta) {
  if (!mayManage(principal.user, target)) throw new AuthError("permission_denied");
  const { current_password } = parseInput(deleteInput, raw);
  const ok = await checkCurrentPassword(deps, principal, current_password, meta);
  if (!ok) throw invalid({ current_password: ["Invalid password."] });
  // Tokens go with the user (ON DELETE CASCADE).
  await deps.prisma.user.deleteMany({ where: { id: target.id } });
  await deps.authCache.forgetUser(target.id);
}

// Djoser's TokenCreateSerializer: both fields optional (a missing one is "invalid credentials"),
// but a blank one is DRF's "This field may not be blank."; password is declared first.
export const loginInput = perSettings((deps: Deps) =>
  form({ password: passwordField().optional(), [deps.settings.DJOSER.LOGIN_FIELD]: charField().optional() } as Record<string, z.ZodOptional<z.ZodString>>),
);

/**
 * Django's authenticate(): the user whose login field matches, if the password is theirs and they
 * are active. Every failure is the same null and costs one hash (no enumeration).
 */
export async function verifyLogin(deps: Deps, field: "username" | "email", login: string | undefined, password: string | undefined, meta: RequestMeta): Promise<LoginResult> {
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
      field === "username"
        ? deps.prisma.user.findUnique({ where: { username: login } })
        : deps.prisma.user.findFirst({ where: deps.settings.USERNAME_FIELD === "email" ? { emailKey: login.toLowerCase() } : { email: login }, orderBy: { id: "asc" } }),
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
      await deps.prisma.user.update({ where: { id: user.id }, data: { password: hash } });
      await deps.authCache.forgetUser(user.id);
      user.password = hash;
    }
    return { user, accountId: user.id };
  });
}

/** The user when the credentials are good; else which account was aimed at, for the audit log only. */
export type LoginResult = { user: User; accountId: number } | { user: null; accountId: number | null };

/**
 * Staff: activate or deactivate a user (not a superuser, unless a superuser asks). Either way the
 * decision is staff's: a user deactivated here cannot activate themself with a link. Deactivating
 * ends every session of theirs at once.
 */
export async function setActive(deps: Deps, principal: Principal, id: number, active: boolean, meta: RequestMeta) {
  if (!principal.user.isStaff) throw new AuthError("permission_denied");
  const target = await deps.prisma.user.findUnique({ where: { id }, select: { id: true, isSuperuser: true } });
  if (!target) throw new AuthError("not_found");
  if (!mayManage(principal.user, target)) throw new AuthError("permission_denied");
  // The superuser condition again in the write: promoted meanwhile, the target is out of reach.
  const where = { id, ...(principal.user.isSuperuser || id === principal.user.id ? {} : { isSuperuser: false }) };
  const { count } = await deps.prisma.user.updateMany({ where, data: { isActive: active, activationPending: false } });
  if (!count) throw new AuthError("permission_denied");
  await deps.authCache.forgetUser(id);
  if (!active) {
    await endSessions(deps, id, "deactivated");
    await audit(deps, "session_revoked", meta, id, { session: "all", reason: "deactivated", by: principal.user.id });
  }
  return publicUser(deps, await deps.prisma.user.findUniqueOrThrow({ where: { id } }));
}
