// Registration and activation: Djoser's rules for new accounts and their mailed links.
import { checkToken, decodeUid, type LinkPurpose } from "../../compat/django/links.ts";
import { validatePassword } from "../../compat/django/password-validation.ts";
import { normalizeEmail } from "../../compat/django/validators.ts";
import { AuthError, invalid } from "../../errors.ts";
import { audit } from "../audit.ts";
import type { Deps, RequestMeta, User } from "../deps.ts";
import type { PublicUser } from "../dto.ts";
import { isEmailLogin, isLoginTaken, loginColumns, loginTaken } from "../identity.ts";
import {
  charField,
  clientInput,
  emailField,
  form,
  parseInput,
  passwordField,
  perSettings,
  usernameField,
} from "../inputs.ts";
import { spendPasswordCheck } from "../login/hash-queue.ts";
import { clearLoginLocks } from "../login/lockout.ts";
import { hashPassword } from "../login/passwords.ts";
import { accountKey } from "../login/throttle.ts";
import { linkState, mailRows, queueMail } from "../mail/queue.ts";

const createForm = (emailLogin: boolean, retype: boolean) =>
  form({
    ...(emailLogin
      ? { email: emailField() }
      : { email: emailField({ allowBlank: true }).optional(), username: usernameField() }),
    password: passwordField(),
    ...(retype ? { re_password: passwordField() } : {}),
  });
export const createInput = perSettings(({ settings }: Deps) =>
  createForm(settings.USERNAME_FIELD === "email", settings.DJOSER.USER_CREATE_PASSWORD_RETYPE),
);
/** Typed clients: username (USERNAME_FIELD=username) and re_password (USER_CREATE_PASSWORD_RETYPE) optional. */
export const createFields = clientInput(createForm(false, true));
export type CreateInput = { email?: string; username?: string; password: string; re_password?: string };

export async function createUser(deps: Deps, raw: unknown, meta: RequestMeta): Promise<PublicUser> {
  const { settings } = deps;
  await deps.throttle("registration", [`ip:${meta.ip}`]);
  const input = parseInput(createInput(deps), raw) as CreateInput;
  const emailLogin = isEmailLogin(settings);
  const email = normalizeEmail(input.email ?? "");
  const login = emailLogin ? email : input.username!;
  // Unique fields are checked with the other field errors, as DRF's UniqueValidator does; the
  // database constraint below still decides under a race.
  if (await isLoginTaken(deps, login)) throw loginTaken(settings);
  const problems = validatePassword(
    input.password,
    { username: input.username, email },
    settings.AUTH_PASSWORD_VALIDATORS,
  );
  if (problems.length) throw invalid({ password: problems });
  if (settings.DJOSER.USER_CREATE_PASSWORD_RETYPE && input.password !== input.re_password) {
    throw invalid({ non_field_errors: ["The two password fields didn't match."] });
  }
  const mail = settings.DJOSER.SEND_ACTIVATION_EMAIL
    ? "activation"
    : settings.DJOSER.SEND_CONFIRMATION_EMAIL
      ? "confirmation"
      : null;
  spendPasswordCheck(meta); // one hash per request, however many calls a batch holds
  // The user and its mail are one write: a user left inactive with no activation mail queued
  // could never activate, and the username would stay taken.
  const pending = settings.DJOSER.SEND_ACTIVATION_EMAIL;
  const password = await hashPassword(input.password);
  const mails = mailRows(deps, mail ? [{ kind: mail, to: email }] : []);
  const columns = { username: null, emailKey: null, email, ...loginColumns(settings, login) };
  const user = await deps.store.users.create(
    { ...columns, password, isActive: !pending, activationPending: pending },
    mails,
  );
  if (user === "taken") throw loginTaken(settings);
  if (mail) deps.outbox.kick();
  // Failures on the name before it had an account were nobody's.
  await clearLoginLocks(deps, [emailLogin ? user.email : user.username], { ip: meta.ip });
  // Djoser's UserCreateSerializer order: REQUIRED_FIELDS, the login field, id.
  return emailLogin
    ? { email: user.email, id: user.id }
    : { email: user.email, username: user.username ?? "", id: user.id };
}

export const uidTokenInput = form({ uid: charField(), token: charField() });
export const uidTokenFields = clientInput(uidTokenInput);

/** The user a mailed link's uid names, or Djoser's uid error. */
async function linkUser(deps: Deps, uid: string): Promise<User> {
  const id = decodeUid(uid);
  const user = id === null ? null : await deps.store.users.byId(id);
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
  if (!(await deps.store.users.activate(user.id))) throw new AuthError("stale_token");
  await audit(deps, "activation", meta, user.id);
  const activated = { ...user, isActive: true, activationPending: false };
  if (deps.settings.DJOSER.SEND_CONFIRMATION_EMAIL) await queueMail(deps, "confirmation", activated);
}

/** The pending address becomes the account's. The link hashes both addresses, so it works once. */
async function confirmEmailChange(deps: Deps, user: User, meta: RequestMeta): Promise<void> {
  // Conditional: of two uses of one link, or a use racing a newer change, at most one applies.
  if (!(await deps.store.users.confirmEmail(user))) throw badToken();
  await audit(deps, "email_changed", meta, user.id, { reason: "confirmed from the new address" });
}

export const emailInput = form({ email: emailField() });
export const emailFields = clientInput(emailInput);

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
  const users = await deps.store.users.awaitingActivation(email);
  if (!users.length && RESEND_ACTIVATION_SHOW_EMAIL_NOT_FOUND) throw new AuthError("activation_not_sent");
  // Django's password-reset form mails every matching account; Djoser crashed on two (a 500).
  for (const user of users) await queueMail(deps, "activation", user);
}
