// "app": TOTP (RFC 6238) codes from an authenticator app, through otplib. One step of clock skew
// either way is accepted; each time step is accepted once (replay refused), recorded with a
// conditional write so two requests carrying the same code cannot both pass.
import { generateSecret, generateURI, verify } from "otplib";
import type { Deps, User } from "../deps.ts";
import { decryptSecret, encryptSecret } from "./crypto.ts";
import type { MethodHandler, MethodRow } from "./method.ts";

const DIGITS = /^\d{6}$/;

/** A new secret (20 bytes, RFC 4226's recommendation), encrypted for the user's row. */
export const newAppSecret = (deps: Deps, userId: number) =>
  encryptSecret(deps.settings, userId, generateSecret({ length: 20 }));

/** The otpauth:// URI an authenticator app scans: the issuer, the user's login name, the secret. */
export function provisioningUri(deps: Deps, user: User, secret: string): string {
  const login = user[deps.settings.USERNAME_FIELD] ?? user.email;
  return generateURI({
    issuer: deps.settings.TRENCH_AUTH.APPLICATION_ISSUER_NAME,
    label: login || `user-${user.id}`,
    secret,
    period: deps.settings.TRENCH_AUTH.DEFAULT_VALIDITY_PERIOD,
  });
}

/** The time step `code` belongs to, within the skew and after the last one accepted; null if none. */
async function acceptedStep(deps: Deps, row: MethodRow, code: string): Promise<number | null> {
  if (!DIGITS.test(code)) return null;
  const secret = decryptSecret(deps.settings, row.userId, row.secret);
  if (!secret) return null;
  const period = deps.settings.TRENCH_AUTH.DEFAULT_VALIDITY_PERIOD;
  const afterTimeStep = row.lastStep === null ? undefined : Number(row.lastStep);
  const result = await verify({ secret, token: code, period, epochTolerance: period, afterTimeStep }).catch(() => null);
  // A TOTP result carries its time step (HOTP's, which this never asks for, does not).
  return result?.valid && "timeStep" in result ? result.timeStep : null;
}

export const appMethod: MethodHandler = {
  name: "app",
  async enrol(deps, user, row) {
    const secret = decryptSecret(deps.settings, user.id, row.secret);
    return secret ? provisioningUri(deps, user, secret) : null;
  },
  dispatch: async () => null, // the app makes its codes itself
  async verify(deps, _user, row, proof) {
    if (typeof proof !== "string") return false;
    const step = await acceptedStep(deps, row, proof.trim());
    return step !== null && deps.store.mfa.spendStep(row.id, step);
  },
};
