// One key per purpose, derived from SECRET_KEY with HKDF (RFC 5869): a key that leaks, or is shared
// on purpose (the HS* JWT key a resource server verifies with), reveals neither SECRET_KEY nor the
// other purposes' keys. Django's password-reset links keep SECRET_KEY itself (links.ts), as Django does.
import { hkdfSync } from "node:crypto";
import type { Settings } from "../config/schema.ts";

export type Purpose =
  | "authtoken"
  | "lockout"
  | "throttle"
  | "jwt"
  | "device"
  | "mfa"
  | "mfa-codes"
  | "webauthn"
  | "social";

const derived = new Map<string, Buffer>();

/** The 64-byte key of `purpose`; the same for the same SECRET_KEY on every instance. */
export function purposeKey(settings: Pick<Settings, "SECRET_KEY">, purpose: Purpose): Buffer {
  const id = `${purpose}\0${settings.SECRET_KEY}`;
  let key = derived.get(id);
  if (!key) {
    key = Buffer.from(hkdfSync("sha256", settings.SECRET_KEY, "portcullis", `portcullis/${purpose}`, 64));
    if (derived.size > 64) derived.clear(); // a handful of SECRET_KEYs per process at most (tests)
    derived.set(id, key);
  }
  return key;
}
