// Django's stored password hashes (argon2, PBKDF2, bcrypt and bcrypt_sha256, as Django 3.2 writes
// them) and ours (argon2id PHC strings): which forms are understood, and checking a password
// against one, so users move over from a Django database without a password reset.
import { createHash, pbkdf2, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import { type Options, parseOptions, verify } from "@node-rs/argon2";
import bcrypt from "bcryptjs";

const pbkdf2Async = promisify(pbkdf2);

/** How the caller runs a hash: `timed` queues and times it, `fake` spends a hash's time for nothing. */
export type HashRun = {
  timed<T>(work: () => Promise<T>): Promise<T>;
  fake(): Promise<VerifyResult>;
  /** Our current argon2 parameters: a hash made with others is redone on login. */
  argon2: Required<Pick<Options, "algorithm" | "version" | "memoryCost" | "timeCost" | "parallelism" | "outputLen">>;
};

const MIN_SALT_BYTES = 16;

// Upper bounds on the work a *stored* hash may ask for. Stored hashes are
// trusted-ish, but a corrupt or injected row with m=2^32-1 makes the native
// library try to allocate terabytes (observed: a ~90 s stall, then a crash).
// Django's own defaults (m=102400 KiB, t=2, p=8; PBKDF2 260k) are far below.
const MAX_ARGON2_MEMORY_KIB = 1024 * 1024; // 1 GiB
const MAX_ARGON2_TIME_COST = 16;
const MAX_ARGON2_PARALLELISM = 64;
const MAX_PBKDF2_ITERATIONS = 10_000_000;

export type VerifyResult = { ok: boolean; needsRehash: boolean };

export const FAIL: VerifyResult = { ok: false, needsRehash: false };

// The stored forms verifyPassword understands, by prefix (Django's "<algorithm>$…", and ours).
const VERIFIABLE = ["$argon2", "argon2$argon2", "pbkdf2_sha256$", "pbkdf2_sha1$", "bcrypt_sha256$$2", "bcrypt$$2"];

/**
 * Whether `stored` is of a kind verifyPassword can check (it may still be corrupt). False for
 * Django's unusable `!…` passwords and for algorithms Portcullis does not verify (Django's md5,
 * sha1, crypt, unsalted_*): such users can log in only after a password reset.
 */
export function isVerifiableHash(stored: string): boolean {
  return VERIFIABLE.some((prefix) => stored.startsWith(prefix));
}

/**
 * Checks `plain` against a stored hash in one of Django's forms (or ours). `run` times the hash
 * itself and queues it; `fake` spends a hash's time on a corrupt or unknown one, like Django's
 * check_password, so accounts without a usable password cannot be told apart by timing.
 */
export function checkStoredHash(plain: string, stored: string, run: HashRun): Promise<VerifyResult> {
  if (typeof plain !== "string" || typeof stored !== "string") return run.fake();
  if (stored.startsWith("$argon2")) return verifyArgon2(plain, stored, run);
  // Django prefixes the PHC string with its algorithm name "argon2".
  if (stored.startsWith("argon2$argon2")) return verifyArgon2(plain, stored.slice("argon2".length), run);
  if (stored.startsWith("pbkdf2_sha256$")) return verifyPbkdf2(plain, stored, "sha256", 32, run);
  if (stored.startsWith("pbkdf2_sha1$")) return verifyPbkdf2(plain, stored, "sha1", 20, run);
  if (stored.startsWith("bcrypt_sha256$")) {
    return verifyBcrypt(plain, stored.slice("bcrypt_sha256$".length), true, run);
  }
  if (stored.startsWith("bcrypt$")) return verifyBcrypt(plain, stored.slice("bcrypt$".length), false, run);
  return run.fake();
}

async function verifyArgon2(plain: string, phc: string, run: HashRun): Promise<VerifyResult> {
  let params: ReturnType<typeof parseOptions>;
  try {
    params = parseOptions(phc);
  } catch {
    return run.fake();
  }
  if (
    params.memoryCost > MAX_ARGON2_MEMORY_KIB ||
    params.timeCost > MAX_ARGON2_TIME_COST ||
    params.parallelism > MAX_ARGON2_PARALLELISM
  ) {
    return run.fake();
  }
  // The library compares the digests in constant time. A full queue (AuthError) is not a "no".
  const ok = await run.timed(() => verify(phc, plain).catch(() => false));
  if (!ok) return FAIL;
  const ours = run.argon2;
  const current =
    params.algorithm === ours.algorithm &&
    params.version === ours.version &&
    params.memoryCost === ours.memoryCost &&
    params.timeCost === ours.timeCost &&
    params.parallelism === ours.parallelism &&
    params.outputLen === ours.outputLen &&
    params.saltLen >= MIN_SALT_BYTES;
  return { ok: true, needsRehash: !current };
}

// Django: "<algorithm>$<iterations>$<salt>$<base64(dk)>", dk = PBKDF2-HMAC over
// the UTF-8 password and salt, key length = digest size.
async function verifyPbkdf2(
  plain: string,
  stored: string,
  digest: "sha256" | "sha1",
  keyLength: number,
  run: HashRun,
): Promise<VerifyResult> {
  const parts = stored.split("$");
  if (parts.length !== 4) return run.fake();
  const [, iterText = "", salt = "", expected = ""] = parts;
  // Django always writes iterations with %d, so anything else is corrupt.
  if (!/^[1-9][0-9]{0,7}$/.test(iterText) || salt === "" || expected === "") return run.fake();
  const iterations = Number(iterText);
  if (iterations > MAX_PBKDF2_ITERATIONS) return run.fake();

  const dk = await run.timed(() =>
    pbkdf2Async(Buffer.from(plain, "utf8"), Buffer.from(salt, "utf8"), iterations, keyLength, digest),
  );
  // Compare the encoded forms, as Django does, so a non-canonical base64 in
  // the database can't be matched by a different digest. Lengths are public.
  const actual = Buffer.from(dk.toString("base64"), "utf8");
  const wanted = Buffer.from(expected, "utf8");
  const ok = actual.length === wanted.length && timingSafeEqual(actual, wanted);
  // Any PBKDF2 hash is a legacy hash: move it to argon2id on successful login.
  return ok ? { ok: true, needsRehash: true } : FAIL;
}

// Django's BCryptSHA256PasswordHasher: "bcrypt_sha256$" + bcrypt's "$2b$<cost>$<salt><hash>",
// over hex(sha256(password)) — 64 ASCII bytes, so no 72-byte truncation. BCryptPasswordHasher
// ("bcrypt$…") hashes the UTF-8 password itself (bcrypt reads at most 72 bytes of it). bcryptjs
// (pure JavaScript: native bcrypt needs a compiler at install) re-hashes with the stored salt and
// compares in constant time; it yields to the event loop between rounds.
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const MAX_BCRYPT_COST = 16; // Django's default is 12; a huge cost in a stored hash must not cost us minutes

async function verifyBcrypt(plain: string, stored: string, sha256First: boolean, run: HashRun): Promise<VerifyResult> {
  const cost = BCRYPT.exec(stored)?.[1];
  if (cost === undefined || Number(cost) < 4 || Number(cost) > MAX_BCRYPT_COST) return run.fake();
  // python-bcrypt (so Django) refuses a NUL in the password rather than truncating at it; the
  // refusal costs a hash too, or a NUL would tell plain-bcrypt accounts from the others.
  if (!sha256First && plain.includes("\0")) return run.fake();
  const password = sha256First ? createHash("sha256").update(plain, "utf8").digest("hex") : plain;
  const ok = await run.timed(() => bcrypt.compare(password, stored)); // bounded like the other hashes
  // bcrypt is a legacy hash here: move it to argon2id on successful login.
  return ok ? { ok: true, needsRehash: true } : FAIL;
}
