// The settings of the second factors and passkeys: django-trench's TRENCH_AUTH and Djoser 2.3's WEBAUTHN.
import { z } from "zod";

const url = z.string().min(1);

// Djoser 2.3's WEBAUTHN dict (in the environment DJOSER_WEBAUTHN, as JSON). ORIGIN may also be a
// list (a site served from several origins, or an Android app's "android:apk-key-hash:…" origin).
// CHALLENGE_TTL (seconds), USER_VERIFICATION and CREDENTIAL are Portcullis extensions (Djoser's
// challenges never expire, and its login answers a token).
export const webauthnSchema = z.object({
  RP_NAME: z.string().min(1).default("localhost"),
  RP_ID: z.string().min(1).default("localhost"),
  ORIGIN: z.union([url, z.array(url).min(1)]).default("http://localhost:8000"),
  CHALLENGE_LENGTH: z.number().int().min(16).max(64).default(32),
  UKEY_LENGTH: z.number().int().min(16).max(64).default(20),
  CHALLENGE_TTL: z.number().int().min(30).max(3600).default(300),
  // What the server asks of the authenticator: "required" refuses a passkey that did not verify the user.
  USER_VERIFICATION: z.enum(["required", "preferred", "discouraged"]).default("preferred"),
  // What a passkey login hands out: Djoser's token, or a SimpleJWT pair.
  CREDENTIAL: z.enum(["token", "jwt"]).default("token"),
});

// django-trench's TRENCH_AUTH (in the environment TRENCH_AUTH_<NAME>), its names and defaults.
// MFA_METHODS lists the methods offered (trench's dict keys; a dict is read by its keys). Portcullis
// extensions: CREDENTIAL, what login/ and login/code/ hand out (trench's authtoken or jwt URL set);
// EPHEMERAL_TOKEN_TTL (trench: 900 s) and MAX_CODE_ATTEMPTS per ephemeral token; EMAIL_CODE_TTL,
// how long a mailed code works (trench: one 30 s TOTP step, too short for mail).
export const MFA_METHOD_NAMES = ["app", "email", "webauthn"] as const;
export const trenchSchema = z.object({
  BACKUP_CODES_QUANTITY: z.number().int().min(1).max(20).default(5),
  BACKUP_CODES_LENGTH: z.number().int().min(8).max(32).default(12),
  BACKUP_CODES_CHARACTERS: z
    .string()
    .min(16, "at least 16 distinct characters")
    .max(128)
    .default("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
  DEFAULT_VALIDITY_PERIOD: z.number().int().min(15).max(300).default(30),
  CONFIRM_DISABLE_WITH_CODE: z.boolean().default(false),
  CONFIRM_BACKUP_CODES_REGENERATION_WITH_CODE: z.boolean().default(true),
  ALLOW_BACKUP_CODES_REGENERATION: z.boolean().default(true),
  APPLICATION_ISSUER_NAME: z.string().min(1).default("MyApplication"),
  MFA_METHODS: z
    .union([z.array(z.enum(MFA_METHOD_NAMES)), z.record(z.enum(MFA_METHOD_NAMES), z.unknown())])
    .transform((m) => (Array.isArray(m) ? [...new Set(m)] : (Object.keys(m) as (typeof MFA_METHOD_NAMES)[number][])))
    .default(["app", "email", "webauthn"]),
  CREDENTIAL: z.enum(["token", "jwt"]).default("token"),
  EPHEMERAL_TOKEN_TTL: z.number().int().min(1).max(3600).default(300),
  MAX_CODE_ATTEMPTS: z.number().int().min(1).max(20).default(5),
  EMAIL_CODE_TTL: z.number().int().min(60).max(3600).default(600),
});
