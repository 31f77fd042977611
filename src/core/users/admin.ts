// Staff and operator actions: (de)activating accounts, and Django's createsuperuser for the CLI.
import { validatePassword } from "../../compat/django/password-validation.ts";
import { normalizeEmail, validateEmailField, validateUsername } from "../../compat/django/validators.ts";
import type { Settings } from "../../config/schema.ts";
import type { Prisma } from "../../db/index.ts";
import { createStore } from "../../db/store/index.ts";
import { AuthError, invalid } from "../../errors.ts";
import { audit } from "../audit.ts";
import type { Deps, Principal, RequestMeta } from "../deps.ts";
import type { PublicUser } from "../dto.ts";
import { isEmailLogin, loginColumns, loginTaken } from "../identity.ts";
import { hashPassword } from "../login/passwords.ts";
import { requireRecentAuth } from "../login/step-up.ts";
import { queueMail } from "../mail/queue.ts";
import { endSessions } from "../sessions/end.ts";
import { mayManage, publicUser } from "./profile.ts";

/**
 * Django's createsuperuser: username and email are checked; with `validatePassword`, so is the
 * password, by AUTH_PASSWORD_VALIDATORS (as Django's interactive mode does; the CLI's
 * --skip-password-validation is Django's "Bypass password validation and create user anyway?").
 */
export async function createSuperuser(
  settings: Settings,
  prisma: Prisma,
  input: { username?: string; email: string; password: string; validatePassword?: boolean },
) {
  const emailLogin = isEmailLogin(settings);
  const email = normalizeEmail(input.email);
  if (emailLogin || email) {
    // The field's checks (length after normalising included), not only the format: else an
    // address the column cannot hold fails at the insert.
    const problems = email ? validateEmailField(email) : ["This field is required."];
    if (problems.length) throw invalid({ email: problems });
  }
  if (!emailLogin) {
    if (!input.username) throw invalid({ username: ["This field is required."] });
    const problems = validateUsername(input.username);
    if (problems.length) throw invalid({ username: problems });
  }
  if (input.validatePassword) {
    const user = { username: emailLogin ? undefined : input.username, email };
    const problems = validatePassword(input.password, user, settings.AUTH_PASSWORD_VALIDATORS);
    if (problems.length) throw invalid({ password: problems });
  }
  const columns = {
    username: null,
    emailKey: null,
    email,
    ...loginColumns(settings, emailLogin ? email : input.username!),
  };
  const password = await hashPassword(input.password);
  // A new user: no server holds a cached principal of theirs, so the store needs no cache here.
  const user = await createStore(prisma).users.create({
    ...columns,
    password,
    isStaff: true,
    isSuperuser: true,
    isActive: true,
  });
  if (user === "taken") throw loginTaken(settings);
  return user;
}

/**
 * Staff: activate or deactivate a user (not a superuser, unless a superuser asks). Either way the
 * decision is staff's: a user deactivated here cannot activate themself with a link. Deactivating
 * ends every session of theirs at once.
 */
export async function setActive(
  deps: Deps,
  principal: Principal,
  id: number,
  active: boolean,
  meta: RequestMeta,
): Promise<PublicUser> {
  if (!principal.user.isStaff) throw new AuthError("permission_denied");
  const target = await deps.store.users.rank(id);
  if (!target) throw new AuthError("not_found");
  if (!mayManage(principal.user, target)) throw new AuthError("permission_denied");
  // The superuser condition again in the write: promoted meanwhile, the target is out of reach.
  const exceptSuperuser = !principal.user.isSuperuser && id !== principal.user.id;
  if (!(await deps.store.users.setActive(id, active, exceptSuperuser))) throw new AuthError("permission_denied");
  if (!active) {
    await endSessions(deps, id, "deactivated");
    await audit(deps, "session_revoked", meta, id, { session: "all", reason: "deactivated", by: principal.user.id });
  }
  return publicUser(deps, await deps.store.users.get(id));
}

/**
 * Staff: turns a user's MFA off (a lost phone, a lost key): every method, backup code and login
 * waiting for a code goes; their passkeys stay (a passkey sign-in needs the device itself). Staff
 * must have signed in recently (step-up); the user is mailed and the reset audited with who did it.
 */
export async function resetMfa(deps: Deps, principal: Principal, id: number, meta: RequestMeta): Promise<void> {
  if (!principal.user.isStaff) throw new AuthError("permission_denied");
  const target = await deps.store.users.rank(id);
  if (!target) throw new AuthError("not_found");
  if (!mayManage(principal.user, target)) throw new AuthError("permission_denied");
  await requireRecentAuth(deps, principal);
  const active = await deps.store.mfa.resetAll(id);
  await audit(deps, "mfa_reset", meta, id, { by: principal.user.id });
  if (active) await queueMail(deps, "mfa_changed", await deps.store.users.get(id), { mfaChange: "reset" });
}
