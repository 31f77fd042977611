// Mailed link parts (uid + token). The token is Django 3.2's default_token_generator
// (django/contrib/auth/tokens.py, sha256) with one key salt per purpose: a link made for one
// purpose fails every other check. Password reset keeps Django's own salt, byte for byte, so reset
// links Django mailed verify here (and ours there) across a cutover; the uid is Djoser's encoding.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * What a token hashes: Django's fields, plus two of ours that change the hash only once set (so a
 * user Django knows hashes as Django does): `linkEpoch`, moved by a login that leaves last_login
 * alone, and `bound`, a value the link is for (the pending address of an email change).
 */
export type TokenUser = {
  id: number;
  password: string;
  lastLogin: Date | null;
  email: string;
  linkEpoch?: Date | null;
  bound?: string;
};

export type LinkPurpose = "password_reset" | "activation" | "username_reset" | "email_change";

const KEY_SALTS: Record<LinkPurpose, string> = {
  password_reset: "django.contrib.auth.tokens.PasswordResetTokenGenerator", // Django's
  activation: "portcullis.links.activation",
  username_reset: "portcullis.links.username_reset",
  email_change: "portcullis.links.email_change",
};
const EPOCH_2001_MS = Date.UTC(2001, 0, 1);
const MAX_PK = 2 ** 31 - 1; // Django's AutoField is a 32-bit signed integer.

/** Djoser's encode_uid: urlsafe base64 of the decimal pk, padding stripped. */
export function encodeUid(id: number): string {
  return Buffer.from(String(id), "utf8").toString("base64url");
}

/**
 * Inverse of encodeUid; null unless `uid` is the canonical encoding of an
 * integer in 1..2^31-1. Never throws.
 */
export function decodeUid(uid: string): number | null {
  // Node's base64 decoder silently skips invalid characters ("M!g" → "2"),
  // so check the alphabet first. 2^31-1 has 10 digits → at most 14 chars.
  if (typeof uid !== "string" || !/^[A-Za-z0-9_-]{2,14}$/.test(uid)) return null;
  const text = Buffer.from(uid, "base64url").toString("latin1");
  if (!/^[1-9][0-9]{0,9}$/.test(text)) return null;
  const id = Number(text);
  if (id > MAX_PK) return null;
  // Reject non-canonical spellings (e.g. "Mh" also decodes to "2") so each
  // user has exactly one uid.
  return encodeUid(id) === uid ? id : null;
}

/** Django's PasswordResetTokenGenerator.make_token: "<ts base36>-<32 hex>", for one purpose. */
export function makeToken(purpose: LinkPurpose, user: TokenUser, secret: string, now: Date = new Date()): string {
  return tokenWithTimestamp(purpose, user, secondsSince2001(now), secret);
}

/**
 * Django's check_token: the HMAC must match this user's current state (a new
 * password, login or email invalidates it) and the timestamp must be at most
 * `timeoutSeconds` old. Constant-time compare; false on any garbage.
 */
export function checkToken(
  purpose: LinkPurpose,
  user: TokenUser,
  token: string,
  secret: string,
  timeoutSeconds: number,
  now: Date = new Date(),
): boolean {
  try {
    if (!user || typeof token !== "string") return false;
    // Exactly one "-", a timestamp of at most 13 base36 digits (Django's
    // base36_to_int limit) and a 32-hex-digit hash; anything longer is refused
    // before any hashing.
    const match = /^([0-9a-z]{1,13})-[0-9a-f]{32}$/.exec(token);
    if (!match) return false;
    const ts = parseInt(match[1]!, 36);
    if (!Number.isSafeInteger(ts)) return false;
    // Recomputing from the parsed timestamp also rejects non-canonical
    // spellings of it (leading zeros), since base36 output has none.
    const expected = Buffer.from(tokenWithTimestamp(purpose, user, ts, secret), "utf8");
    const given = Buffer.from(token, "utf8");
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return false;
    // Future timestamps pass, as in Django: only the HMAC holder can mint them.
    return secondsSince2001(now) - ts <= timeoutSeconds;
  } catch {
    return false;
  }
}

function tokenWithTimestamp(purpose: LinkPurpose, user: TokenUser, timestamp: number, secret: string): string {
  const django = `${user.id}${user.password}${loginTimestamp(user.lastLogin)}${timestamp}${user.email ?? ""}`;
  // NUL cannot occur in a valid email, so the extras cannot be forged from Django's fields.
  const epoch = user.linkEpoch ? `\0epoch:${user.linkEpoch.getTime()}` : "";
  const bound = user.bound !== undefined ? `\0bound:${user.bound}` : "";
  // hexdigest()[::2]: every other hex digit, "to shorten the URL".
  const digest = saltedHmacHex(KEY_SALTS[purpose], django + epoch + bound, secret);
  let half = "";
  for (let i = 0; i < digest.length; i += 2) half += digest[i];
  return `${timestamp.toString(36)}-${half}`;
}

// django.utils.crypto.salted_hmac(key_salt, value, secret, algorithm="sha256").
function saltedHmacHex(keySalt: string, value: string, secret: string): string {
  const key = createHash("sha256")
    .update(keySalt + secret, "utf8")
    .digest();
  return createHmac("sha256", key).update(value, "utf8").digest("hex");
}

// Django: int((dt - datetime(2001, 1, 1)).total_seconds()). Django uses naive
// *local* time (settings.TIME_ZONE); we use UTC, which equals Django's value
// when TIME_ZONE = "UTC" (the startproject default).
function secondsSince2001(now: Date): number {
  const ms = now.getTime();
  if (!Number.isFinite(ms)) throw new TypeError("invalid date");
  return Math.trunc((ms - EPOCH_2001_MS) / 1000);
}

// str(last_login.replace(microsecond=0, tzinfo=None)): Django keeps last_login
// in UTC (USE_TZ=True), so its naive form is the UTC wall clock.
function loginTimestamp(lastLogin: Date | null): string {
  if (lastLogin === null || lastLogin === undefined) return "";
  if (!Number.isFinite(lastLogin.getTime())) throw new TypeError("invalid lastLogin");
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const d = lastLogin;
  return (
    `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`
  );
}
