// The login name, decided once: which field it is (USERNAME_FIELD), the unique key it is stored
// under, how a login finds its user, and the words for "already taken".
import { normalizeEmail } from "../compat/django/validators.ts";
import type { Settings } from "../config/schema.ts";
import type { LoginColumns, LoginKey, LoginLookup } from "../db/store/index.ts";
import { type AuthError, invalid } from "../errors.ts";
import type { Deps, User } from "./deps.ts";

export const isEmailLogin = (settings: Settings) => settings.USERNAME_FIELD === "email";

/**
 * The columns a login name is written to. Django's create_user normalises usernames (NFKC), so
 * look-alike forms cannot coexist; an email login is Django's normalised address, unique in any case.
 */
export function loginColumns(settings: Settings, value: string): LoginColumns {
  if (!isEmailLogin(settings)) return { username: value.normalize("NFKC") };
  const email = normalizeEmail(value);
  return { email, emailKey: email.toLowerCase() };
}

/** The unique key `value` would be stored under. */
export function loginKey(settings: Settings, value: string): LoginKey {
  const columns = loginColumns(settings, value);
  return "emailKey" in columns ? { emailKey: columns.emailKey } : { username: columns.username };
}

/** Djoser's (DRF's UniqueValidator's) words for a taken login name. */
export const takenMessage = (settings: Settings) =>
  isEmailLogin(settings) ? "user with this email address already exists." : "A user with that username already exists.";

/** The 400 for a taken login name, under `field`: the login field itself, or set_<login>'s new_<login>. */
export const loginTaken = (settings: Settings, field: string = settings.USERNAME_FIELD): AuthError =>
  invalid({ [field]: [takenMessage(settings)] });

/** Whether `value` names an account already (the unique index still decides under a race). */
export const isLoginTaken = (deps: Deps, value: string) => deps.store.users.isTaken(loginKey(deps.settings, value));

/**
 * The user a login names, by `field` (DJOSER.LOGIN_FIELD, or USERNAME_FIELD for JWTs). The name is
 * matched as typed, as Django's authenticate() does; an email login case-insensitively, and a
 * non-unique email (USERNAME_FIELD=username) names its oldest account.
 */
export function findLoginUser(deps: Deps, field: "username" | "email", login: string): Promise<User | null> {
  const lookup: LoginLookup =
    field === "username"
      ? { username: login }
      : isEmailLogin(deps.settings)
        ? { emailKey: login.toLowerCase() }
        : { email: login };
  return deps.store.users.byLogin(lookup);
}
