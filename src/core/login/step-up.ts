// Step-up: sensitive actions (a password, email or username change, MFA and passkey changes,
// deleting the account) need a sign-in at most REAUTHENTICATION_TIMEOUT seconds old, as allauth
// asks, and for a user with MFA on one that proved a second factor. A re-authentication
// (core/login/reauthenticate.ts) renews the session's sign-in. Djoser's own checks of
// current_password count as a fresh password, so a Djoser client of a user without MFA sees no change.
import type { SessionRef } from "../../db/store/sessions.ts";
import { AuthError } from "../../errors.ts";
import type { Deps, Principal } from "../deps.ts";
import { sidOf } from "../sessions/jwt-access.ts";

/** The session a principal signed in with; null for a JWT that names none (SimpleJWT's, pre-cutover). */
export function sessionOf(principal: Principal): SessionRef | null {
  if (principal.via === "token") return { tokenId: principal.tokenId };
  const sid = sidOf(principal.claims);
  return sid ? { sid } : null;
}

/** Whether an amr holds a factor beyond the password (or the social provider's sign-in, "fed"). */
export const hasSecondFactor = (amr: string) => amr.split(" ").some((f) => f !== "" && f !== "pwd" && f !== "fed");

/**
 * Throws 403 reauthentication_required unless the caller's sign-in is recent enough (and, with
 * MFA on, proved a second factor). `passwordChecked`: the request carried the right current
 * password, which is re-authentication enough for a user without MFA. The error's data says what
 * would do: `required` ("password" or "second_factor"), `methods` (the user's MFA methods) and
 * `timeout` (seconds). `onlyWithMfa`: a check Djoser's flow never had, asked only of users with MFA on.
 */
export async function requireRecentAuth(
  deps: Deps,
  principal: Principal,
  opts: { passwordChecked?: boolean; onlyWithMfa?: boolean } = {},
): Promise<void> {
  const methods = await deps.store.mfa.activeNames(principal.user.id);
  if ((opts.passwordChecked || opts.onlyWithMfa) && methods.length === 0) return;
  const ref = sessionOf(principal);
  const signedIn = ref ? await deps.store.sessions.signedIn(ref) : null;
  const timeout = deps.settings.REAUTHENTICATION_TIMEOUT;
  const recent = !!signedIn && Date.now() - signedIn.authAt.getTime() <= timeout * 1000;
  if (recent && (methods.length === 0 || hasSecondFactor(signedIn.amr))) return;
  const required = methods.length ? "second_factor" : "password";
  const message =
    required === "password"
      ? "This action needs a recent sign-in: re-authenticate with your password (/auth/reauthenticate/) and try again."
      : "This action needs a recent second factor: re-authenticate with a code or a passkey " +
        "(/auth/reauthenticate/) and try again.";
  throw new AuthError("reauthentication_required", message, {
    data: { code: "reauthentication_required", required, methods, timeout, session: !!ref },
  });
}
