// Checking a second factor: a code of one of the user's active methods (or of the one named), a
// passkey assertion, or a backup code. Every check goes through the login throttle and the code
// lockout (lockout.ts: waits, then a lock a password reset lifts); every failure is audited.
import { z } from "zod";
import { audit } from "../audit.ts";
import type { Deps, RequestMeta, User } from "../deps.ts";
import { charField } from "../inputs.ts";
import { claimCodeCheck } from "../login/lockout.ts";
import { queueMail } from "../mail/queue.ts";
import { spendBackupCode } from "./backup.ts";
import type { MethodName, Proof, Purpose } from "./method.ts";
import { handlerOf } from "./registry.ts";

/** A code as typed (at most 128 characters), or a passkey assertion's JSON object. */
export const proofField = () =>
  z.union([charField({ maxLength: 128 }), z.record(z.string().max(64), z.unknown())], {
    error: (iss) => (iss.input === undefined ? "This field is required." : "Not a valid string."),
  });

/** What a proof showed: the method, and its RFC 8176 "amr" value for the session. */
export type Proved = { method: MethodName | "backup"; amr: string };
const AMR: Record<MethodName, string> = { app: "otp", email: "otp", webauthn: "hwk" };

/**
 * Whether `proof` is a second factor of `user` (of `method` only, when given; a backup code is
 * accepted either way, except to confirm an enrolment). Spends what it accepts.
 */
export async function proveSecondFactor(
  deps: Deps,
  user: User,
  proof: Proof,
  purpose: Purpose,
  meta: RequestMeta,
  method?: string,
): Promise<Proved | null> {
  await deps.throttle("login", [`ip:${meta.ip}`, `user:${user.id}`]);
  const rows = (await deps.store.mfa.methods(user.id)).filter((r) => r.isActive && (!method || r.name === method));
  const attempt = await claimCodeCheck(deps, user.id);
  let proved: Proved | null = null;
  try {
    for (const row of rows) {
      const handler = handlerOf(deps, row.name);
      if (handler && (await handler.verify(deps, user, row, proof, purpose, meta))) {
        proved = { method: handler.name, amr: AMR[handler.name] };
        break;
      }
    }
    if (!proved && typeof proof === "string" && (await spendBackupCode(deps, user.id, proof)))
      proved = { method: "backup", amr: "otp" };
  } catch (e) {
    await attempt.abandoned();
    throw e;
  }
  if (proved) {
    await attempt.succeeded();
    if (proved.method === "backup") {
      await audit(deps, "backup_code_used", meta, user.id, { factor: "backup" });
      await queueMail(deps, "mfa_changed", user, { mfaChange: "backup_code_used" });
    }
    return proved;
  }
  const { failures, events } = await attempt.failed();
  await audit(deps, "mfa_failed", meta, user.id, { failures, ...(method ? { factor: method } : {}) });
  for (const event of events) await audit(deps, "lockout", meta, user.id, event);
  return null;
}
