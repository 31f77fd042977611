// Re-authentication: the caller proves a factor again, and their session counts as freshly signed
// in for REAUTHENTICATION_TIMEOUT (step-up.ts). A user without MFA proves the password; a user with
// MFA on proves a second factor (a code of a method, a backup code, or a passkey assertion), which
// is what step-up asks of them: a password alone is not enough there.
import { z } from "zod";
import { AuthError, invalid } from "../../errors.ts";
import { audit } from "../audit.ts";
import type { Deps, Principal, RequestMeta } from "../deps.ts";
import type { Reauthenticated } from "../dto.ts";
import { clientInput, form, optionalPasswordField, parseInput } from "../inputs.ts";
import { proofField, proveSecondFactor } from "../mfa/verify.ts";
import { checkCurrentPassword } from "./current-password.ts";
import { sessionOf } from "./step-up.ts";

const reauthInput = form({
  password: optionalPasswordField(),
  method: z.enum(["app", "email", "webauthn"]).optional(),
  code: proofField().optional(),
});
export const reauthenticateFields = clientInput(reauthInput);

export async function reauthenticate(
  deps: Deps,
  principal: Principal,
  raw: unknown,
  meta: RequestMeta,
): Promise<Reauthenticated> {
  const input = parseInput(reauthInput, raw);
  const ref = sessionOf(principal);
  if (!ref)
    throw new AuthError(
      "reauthentication_required",
      "This token belongs to no session that can be renewed: log in again.",
    );
  const { user } = principal;
  const methods = await deps.store.mfa.activeNames(user.id);
  let factors: string[];
  if (methods.length) {
    if (input.code === undefined)
      throw invalid({ code: ["This account uses two-factor authentication: send a code (or a passkey assertion)."] });
    const proved = await proveSecondFactor(deps, user, input.code, { kind: "action" }, meta, input.method);
    if (!proved) throw invalid({ code: ["Code invalid or expired."] });
    factors = [proved.amr];
  } else {
    if (!input.password) throw invalid({ password: ["This field is required."] });
    if (!(await checkCurrentPassword(deps, principal, input.password, meta)))
      throw invalid({ password: ["Invalid password."] });
    factors = ["pwd"];
  }
  if (!(await deps.store.sessions.reauthenticated(ref, factors.join(" "))))
    throw new AuthError("authentication_failed", "Invalid token.");
  await audit(deps, "reauthenticated", meta, user.id, { factor: factors.join(" ") });
  const at = Date.now();
  return {
    factors,
    authenticatedAt: new Date(at).toISOString(),
    validUntil: new Date(at + deps.settings.REAUTHENTICATION_TIMEOUT * 1000).toISOString(),
  };
}
