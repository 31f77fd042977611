// TOTP as the "app" method computes it (otplib, as app.ts calls it) against RFC 6238's Appendix B
// vectors, and the encryption of secrets at rest.
import { generate } from "otplib";
import { describe, expect, it } from "vitest";
import type { Settings } from "../../config/schema.ts";
import { codeHash, decryptSecret, emailCode, encryptSecret } from "./crypto.ts";

// RFC 6238 Appendix B, SHA1: the ASCII seed "12345678901234567890", 8 digits, 30 s steps.
const SEED = new TextEncoder().encode("12345678901234567890");
const VECTORS: [number, string][] = [
  [59, "94287082"],
  [1111111109, "07081804"],
  [1111111111, "14050471"],
  [1234567890, "89005924"],
  [2000000000, "69279037"],
  [20000000000, "65353130"],
];

const settings = (over: Partial<Settings> = {}) =>
  ({ SECRET_KEY: "a-test-secret-key-of-enough-length-000", MFA_ENCRYPTION_KEY: null, ...over }) as Settings;

describe("TOTP", () => {
  it.each(VECTORS)("at T=%i the SHA1 code is %s (RFC 6238 Appendix B)", async (epoch, code) => {
    expect(await generate({ secret: SEED, epoch, digits: 8, period: 30, algorithm: "sha1" })).toBe(code);
  });
});

describe("secrets at rest", () => {
  it("round-trips, and fails for another user's row, another key or a damaged value", () => {
    const s = settings();
    const stored = encryptSecret(s, 7, "JBSWY3DPEHPK3PXP");
    expect(stored).toMatch(/^v1:[\w-]+:[\w-]+:[\w-]+$/);
    expect(stored).not.toContain("JBSWY3DPEHPK3PXP");
    expect(decryptSecret(s, 7, stored)).toBe("JBSWY3DPEHPK3PXP");
    expect(decryptSecret(s, 8, stored)).toBeNull();
    expect(decryptSecret(settings({ SECRET_KEY: "another-secret-key-of-enough-length-1" }), 7, stored)).toBeNull();
    expect(decryptSecret(s, 7, `${stored.slice(0, -2)}AA`)).toBeNull();
    expect(decryptSecret(s, 7, "garbage")).toBeNull();
  });

  it("MFA_ENCRYPTION_KEY, when set, is the key: SECRET_KEY can change without losing the secrets", () => {
    const key = "a-dedicated-mfa-encryption-key-0123456789";
    const stored = encryptSecret(settings({ MFA_ENCRYPTION_KEY: key }), 1, "SECRET");
    const rotated = settings({ SECRET_KEY: "a-rotated-secret-key-of-enough-length", MFA_ENCRYPTION_KEY: key });
    expect(decryptSecret(rotated, 1, stored)).toBe("SECRET");
    expect(decryptSecret(settings(), 1, stored)).toBeNull();
  });

  it("codes are kept as HMACs bound to the user and the kind; mailed codes are six digits", () => {
    const s = settings();
    expect(codeHash(s, 1, "backup", "abc")).toMatch(/^[0-9a-f]{64}$/);
    expect(codeHash(s, 1, "backup", "abc")).not.toBe(codeHash(s, 2, "backup", "abc"));
    expect(codeHash(s, 1, "backup", "abc")).not.toBe(codeHash(s, 1, "email", "abc"));
    expect(emailCode(s, 1, "nonce")).toMatch(/^\d{6}$/);
    expect(emailCode(s, 1, "nonce")).toBe(emailCode(s, 1, "nonce"));
    expect(emailCode(s, 1, "nonce")).not.toBe(emailCode(s, 1, "other"));
  });
});
