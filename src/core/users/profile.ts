// The profile: what a user shows, who may see, change or delete whom, and the changes themselves.
import { normalizeEmail } from "../../compat/django/validators.ts";
import type { EmailChange } from "../../db/store/index.ts";
import { AuthError, invalid } from "../../errors.ts";
import type { Deps, Principal, RequestMeta, User } from "../deps.ts";
import type { PublicUser } from "../dto.ts";
import {
  clientInput,
  emailField,
  form,
  optionalPasswordField,
  parseInput,
  passwordField,
  perSettings,
} from "../inputs.ts";
import { checkCurrentPassword } from "../login/current-password.ts";
import { requireRecentAuth } from "../login/step-up.ts";
import { mailRows, type QueuedMail } from "../mail/queue.ts";

/** What Djoser's UserSerializer shows: REQUIRED_FIELDS, then id and the login field. */
export function publicUser(deps: Deps, user: User): PublicUser {
  return deps.settings.USERNAME_FIELD === "email"
    ? { id: user.id, email: user.email }
    : { email: user.email, id: user.id, username: user.username ?? "" };
}

/** HIDE_USERS: a regular user lists only themself; staff see everyone. */
export async function listUsers(deps: Deps, principal: Principal): Promise<PublicUser[]> {
  const { user } = principal;
  const users = await deps.store.users.list(deps.settings.DJOSER.HIDE_USERS && !user.isStaff ? user.id : undefined);
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
export async function targetUser(
  deps: Deps,
  principal: Principal,
  id: number | null,
  action: UserAction,
): Promise<User> {
  const target = id === null ? null : await deps.store.users.byId(id);
  if (!target) throw new AuthError("not_found");
  if (target.id === principal.user.id) return target;
  if (principal.user.isStaff) {
    if (action !== "retrieve" && !mayManage(principal.user, target)) throw new AuthError("permission_denied");
    return target;
  }
  throw new AuthError(deps.settings.DJOSER.HIDE_USERS && action !== "destroy" ? "not_found" : "permission_denied");
}

// With the email as the login, users/me changes nothing (set_email does): email is read-only.
const updateForm = form({
  email: emailField({ allowBlank: true }).optional(),
  current_password: optionalPasswordField(),
});
export const updateInput = perSettings(({ settings }: Deps) =>
  settings.USERNAME_FIELD === "email" ? form({}) : updateForm,
);
/** Typed clients: email and current_password, ignored when the email is the login. */
export const updateFields = clientInput(updateForm);

/**
 * PUT and PATCH alike: the login field is read-only, unknown fields are ignored (as in DRF). With
 * EMAIL_CHANGE_REQUIRES_PASSWORD (an extension) a new email needs the caller's current_password:
 * whoever holds a stolen token must not be able to redirect the reset mails.
 */
export async function updateUser(
  deps: Deps,
  principal: Principal,
  target: User,
  raw: unknown,
  meta: RequestMeta,
): Promise<PublicUser> {
  if (!mayManage(principal.user, target)) throw new AuthError("permission_denied");
  const input = parseInput(updateInput(deps), raw) as { email?: string; current_password?: string };
  if (input.email === undefined) return publicUser(deps, target);
  const email = normalizeEmail(input.email);
  if (deps.settings.DJOSER.EMAIL_CHANGE_REQUIRES_PASSWORD && email !== target.email) {
    if (!input.current_password)
      throw invalid({ current_password: ["This field is required to change the email address."] });
    const ok = await checkCurrentPassword(deps, principal, input.current_password, meta);
    if (!ok) throw invalid({ current_password: ["Invalid password."] });
  }
  // An email change is an account takeover's first step. Without the password check above
  // (EMAIL_CHANGE_REQUIRES_PASSWORD off, Djoser's own way), only a user with MFA on is asked to step up.
  if (email !== target.email) {
    const checked = deps.settings.DJOSER.EMAIL_CHANGE_REQUIRES_PASSWORD;
    await requireRecentAuth(deps, principal, { passwordChecked: true, onlyWithMfa: !checked });
  }
  if (email === target.email) {
    // The address in use again: a change waiting for confirmation is called off.
    if (target.pendingEmail === null) return publicUser(deps, target);
    return publicUser(deps, await deps.store.users.cancelEmailChange(target.id));
  }
  const { SEND_ACTIVATION_EMAIL, EMAIL_CHANGE_DEACTIVATES } = deps.settings.DJOSER;
  // The old address is told of every change: a takeover would otherwise go unnoticed by the owner.
  const old = target.email;
  const told: QueuedMail[] = old ? [{ kind: "email_changed", to: old, extra: { to: old, newEmail: email } }] : [];
  // Deactivated by staff: an email change must not hand the account an activation link of its own.
  const suspended = !target.isActive && !target.activationPending;
  let change: EmailChange;
  let mails: QueuedMail[];
  if (!SEND_ACTIVATION_EMAIL || !email || (EMAIL_CHANGE_DEACTIVATES && suspended)) {
    // Nothing to confirm: activation mails are off, the address is removed, or staff's decision stands.
    change = { email, pendingEmail: null };
    mails = told;
  } else if (EMAIL_CHANGE_DEACTIVATES) {
    // Djoser's way: the new address at once, and the account inactive until its activation link is used.
    change = { email, pendingEmail: null, isActive: false, activationPending: true };
    mails = [{ kind: "activation", to: email }, ...told];
  } else {
    // The old address stays in use (and the account active) until the link mailed to the new one is used.
    change = { pendingEmail: email };
    mails = [
      { kind: "email_change", to: email },
      ...told.map((m) => ({ ...m, kind: "email_change_requested" as const })),
    ];
  }
  // The change and its mails are one write: an outage cannot leave one without the other.
  const user = await deps.store.users.changeEmail(target.id, change, mailRows(deps, mails));
  // Tokens survive a deactivation: they answer "User inactive or deleted." until the user activates again.
  deps.outbox.kick();
  return publicUser(deps, user);
}

export const deleteInput = form({ current_password: passwordField() });
export const deleteFields = clientInput(deleteInput);

/** Deletion needs the caller's own password (an admin deleting someone types the admin's). */
export async function deleteUser(deps: Deps, principal: Principal, target: User, raw: unknown, meta: RequestMeta) {
  if (!mayManage(principal.user, target)) throw new AuthError("permission_denied");
  const { current_password } = parseInput(deleteInput, raw);
  const ok = await checkCurrentPassword(deps, principal, current_password, meta);
  if (!ok) throw invalid({ current_password: ["Invalid password."] });
  await requireRecentAuth(deps, principal, { passwordChecked: true });
  // Tokens go with the user (ON DELETE CASCADE).
  await deps.store.users.delete(target.id);
}
