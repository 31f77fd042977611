// The MFA secrets at rest. TOTP secrets must be read back (the server computes codes too), so they
// are encrypted, not hashed: AES-256-GCM under a key of their own (MFA_ENCRYPTION_KEY, else one
// derived from SECRET_KEY), with the user's id as associated data, so a secret copied into another
// user's row does not decrypt. Codes that are only ever compared (backup codes, mailed codes) are
// kept as HMACs, looked up by their HMAC: no comparison of secret bytes happens in our code.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import type { Settings } from "../../config/schema.ts";
import { purposeKey } from "../secrets.ts";

const VERSION = "v1";

function encryptionKey(settings: Pick<Settings, "SECRET_KEY" | "MFA_ENCRYPTION_KEY">): Buffer {
  const given = settings.MFA_ENCRYPTION_KEY;
  if (!given) return purposeKey(settings, "mfa").subarray(0, 32);
  return Buffer.from(hkdfSync("sha256", given, "portcullis", "portcullis/mfa-encryption", 32));
}

const aad = (userId: number) => Buffer.from(`portcullis/mfa/user:${userId}`);

export function encryptSecret(settings: Settings, userId: number, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", encryptionKey(settings), iv).setAAD(aad(userId));
  const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), body]
    .map((p) => (typeof p === "string" ? p : p.toString("base64url")))
    .join(":");
}

/** The secret, or null when it does not decrypt (another key, another user's row, a damaged value). */
export function decryptSecret(settings: Settings, userId: number, stored: string): string | null {
  const [version, iv, tag, body] = stored.split(":");
  if (version !== VERSION || !iv || !tag || !body) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", encryptionKey(settings), Buffer.from(iv, "base64url"));
    decipher.setAAD(aad(userId)).setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]).toString("utf8");
  } catch {
    return null;
  }
}

/** The HMAC a code is kept (and looked up) as: bound to its user and its kind. */
export const codeHash = (settings: Settings, userId: number, kind: "backup" | "email", code: string) =>
  createHmac("sha256", purposeKey(settings, "mfa-codes")).update(`${kind}:${userId}:${code}`).digest("hex");

/**
 * A mailed code, derived from the nonce its mail row carries: the outbox keeps the nonce, never
 * the code, so the mail queue's rows are no secret without SECRET_KEY (links work the same way).
 * 32 bits reduced to six digits: the bias (under 1 in 4,000) gives a guesser nothing.
 */
export function emailCode(settings: Settings, userId: number, nonce: string): string {
  const mac = createHmac("sha256", purposeKey(settings, "mfa-codes")).update(`email-code:${userId}:${nonce}`).digest();
  return String(mac.readUInt32BE(0) % 1_000_000).padStart(6, "0");
}
