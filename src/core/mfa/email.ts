// "email": six-digit codes mailed through the outbox (django-trench's email backend, whose codes
// are TOTP steps of 30 s; a mail can take longer than that, so ours last EMAIL_CODE_TTL). Only
// the latest code works, once; sending is throttled like every mail a client can trigger.
import { randomBytes } from "node:crypto";
import { queueMail } from "../mail/queue.ts";
import { codeHash, emailCode } from "./crypto.ts";
import type { MethodHandler } from "./method.ts";

const DIGITS = /^\d{6}$/;
export const EMAIL_SENT = "Email message with MFA code has been sent.";

export const emailMethod: MethodHandler = {
  name: "email",
  async enrol(deps, user, row) {
    return emailMethod.dispatch(deps, user, row, null);
  },
  async dispatch(deps, user, row) {
    await deps.throttle("email", [`user:${user.id}`]);
    const nonce = randomBytes(16).toString("hex");
    const code = emailCode(deps.settings, user.id, nonce);
    const ttl = deps.settings.TRENCH_AUTH.EMAIL_CODE_TTL;
    await deps.store.mfa.setCode(
      row.id,
      codeHash(deps.settings, user.id, "email", code),
      new Date(Date.now() + ttl * 1000),
    );
    await queueMail(deps, "mfa_code", user, { codeNonce: nonce });
    return EMAIL_SENT;
  },
  async verify(deps, user, row, proof) {
    if (typeof proof !== "string" || !DIGITS.test(proof.trim())) return false;
    return deps.store.mfa.spendCode(row.id, codeHash(deps.settings, user.id, "email", proof.trim()));
  },
};
