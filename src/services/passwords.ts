// Password hashing: argon2id for new hashes, plus verification of the hashes a
// Django 3.2 database holds (argon2, PBKDF2 and bcrypt), so users migrate without a reset.
import { createHash, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { availableParallelism } from "node:os";
import { promisify } from "node:util";
import { Algorithm, Version, hash, parseOptions, verify } from "@node-rs/argon2";
import bcrypt from "bcryptjs";
import { AuthError, throttled } from "../errors.ts";

const pbkdf2Async = promisify(pbkdf2);

// OWASP Password Storage Cheat Sheet, argon2id option 1: 19 MiB, 2 passes, 1 lane; the ARGON2
// setting may change the cost (production refuses less than OWASP's).
let ARGON2_OPTIONS = {
  algorithm: Algorithm.Argon2id,
  version: Version.V0x13,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
};

// Hashes run on libuv's thread pool (4 threads), which on a machine with few cores would take
// every core and leave the event loop waiting: authenticated requests would queue behind logins.
// At most cores − 1 hashes run at once; the rest wait their turn (FIFO), off the event loop. The
// wait is bounded (PASSWORD_HASH_QUEUE): past it a request is refused at once with a 503 rather
// than making every login wait behind a flood; the refusal does not depend on the account.
const HASH_SLOTS = Math.max(1, availableParallelism() - 1);
let hashesRunning = 0;
let maxWaiting = 64;
const waitingForSlot: (() => void)[] = [];

/** Sets how many hashes may wait for a free core (the PASSWORD_HASH_QUEUE setting). */
export function configureHashQueue(limit: number) {
  maxWaiting = limit;
}

async function hashing<T>(work: () => Promise<T>): Promise<T> {
  if (hashesRunning < HASH_SLOTS) hashesRunning++;
  else if (waitingForSlot.length >= maxWaiting) throw busy();
  else await new Promise<void>((resolve) => waitingForSlot.push(resolve)); // the slot is handed over
  try {
    return await work();
  } finally {
    const next = waitingForSlot.shift();
    if (next) next();
    else hashesRunning--;
  }
}

const busy = () =>
  new AuthError("service_unavailable", "Too many password checks are waiting; try again shortly.", {
    headers: { "Retry-After": "1" },
  });

// One password check at a time per account (key): parallel guesses at one account queue behind
// each other instead of taking every core, and each sees the lockout the one before it left.
// Keyed by the login name for logins, so a name with no account queues exactly like one that has
// an account. A few may queue; more are told to retry (as a lockout's "in flight" wait would).
const MAX_QUEUED_PER_KEY = 64;
const perKey = new Map<string, { tail: Promise<unknown>; queued: number }>();

/** Runs `check` (which hashes) after any other check for `key` in this process has finished. */
export async function oneCheckAtATime<T>(key: string, check: () => Promise<T>): Promise<T> {
  const entry = perKey.get(key) ?? { tail: Promise.resolve(), queued: 0 };
  if (entry.queued >= MAX_QUEUED_PER_KEY) throw throttled(1);
  const run = entry.tail.then(check, check);
  entry.tail = run.catch(() => {});
  entry.queued++;
  perKey.set(key, entry);
  try {
    return await run;
  } finally {
    if (--entry.queued === 0) perKey.delete(key);
  }
}

/**
 * Takes one password check (or hash) from the request's budget: a request may run one, however
 * many calls a tRPC batch holds, so one request cannot queue hundreds of hashes. Synchronous, so
 * the calls of a batch, which run at once, cannot all pass before one counts.
 */
export function spendPasswordCheck(meta: { passwordChecks?: { left: number } }) {
  const budget = meta.passwordChecks;
  if (!budget) return; // not a request (the CLI, a test's direct call)
  if (budget.left <= 0) throw new AuthError("password_check_limit");
  budget.left--;
}

/**
 * Sets the cost of new hashes for this process (the ARGON2 setting; one server per process).
 * Hashes made at another cost still verify, and are redone at this cost on the next login.
 */
export function configureArgon2(cost: { MEMORY_COST: number; TIME_COST: number; PARALLELISM: number }) {
  const next = { ...ARGON2_OPTIONS, memoryCost: cost.MEMORY_COST, timeCost: cost.TIME_COST, parallelism: cost.PARALLELISM };
  if (next.memoryCost === ARGON2_OPTIONS.memoryCost && next.timeCost === ARGON2_OPTIONS.timeCost && next.parallelism === ARGON2_OPTIONS.parallelism) return;
  ARGON2_OPTIONS = next;
  dummyHash = undefined; // the dummy must cost what a real verification costs
}
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

const FAIL: VerifyResult = { ok: false, needsRehash: false };

/**
 * Hash with argon2id at our parameters; returns a PHC string
 * (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). The async binding runs on
 * libuv's thread pool, so the event loop stays free while hashing.
 */
export function hashPassword(plain: string): Promise<string> {
  return hashing(() => hash(plain, ARGON2_OPTIONS));
}

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
 * Check `plain` against a stored hash. Accepts our PHC argon2 strings, Django's
 * `argon2$argon2id$…`, `pbkdf2_sha256$…`, `pbkdf2_sha1$…`, `bcrypt_sha256$$2b$…`
 * and `bcrypt$$2b$…`. Anything else (Django's unusable `!…` passwords, empty,
 * garbage) is `{ok:false}` and never throws. `needsRehash` is only ever true
 * alongside `ok`.
 */
export async function verifyPassword(plain: string, stored: string): Promise<VerifyResult> {
  if (typeof plain !== "string" || typeof stored !== "string") return fakeRuntime(plain);
  if (stored.startsWith("$argon2")) return verifyArgon2(plain, stored);
  // Django prefixes the PHC string with its algorithm name "argon2".
  if (stored.startsWith("argon2$argon2")) return verifyArgon2(plain, stored.slice("argon2".length));
  if (stored.startsWith("pbkdf2_sha256$")) return verifyPbkdf2(plain, stored, "sha256", 32);
  if (stored.startsWith("pbkdf2_sha1$")) return verifyPbkdf2(plain, stored, "sha1", 20);
  if (stored.startsWith("bcrypt_sha256$")) return verifyBcrypt(plain, stored.slice("bcrypt_sha256$".length), true);
  if (stored.startsWith("bcrypt$")) return verifyBcrypt(plain, stored.slice("bcrypt$".length), false);
  return fakeRuntime(plain);
}

let dummyHash: Promise<string> | undefined;

/**
 * Burn the same time as a real argon2id verification, for logins naming an
 * unknown user: without it, "no such user" answers measurably faster than
 * "wrong password", which enumerates accounts. Always resolves false.
 */
export async function dummyVerify(plain: string): Promise<false> {
  // Random password, hashed once per process at our parameters, so the cost
  // tracks ARGON2_OPTIONS. The first call pays one extra hash.
  dummyHash ??= hashPassword(randomBytes(32).toString("base64url")).catch((error: unknown) => {
    dummyHash = undefined; // don't cache a failure: a fast path would be an oracle
    throw error;
  });
  let dummy: string | undefined;
  try {
    dummy = await dummyHash;
  } catch (e) {
    if (e instanceof AuthError) throw e; // a full queue refuses this request as it would a real check
  }
  // A full queue refuses the dummy exactly as it refuses a real check: the 503 tells nothing.
  const guess = typeof plain === "string" ? plain : "";
  if (dummy !== undefined) await hashing(() => verify(dummy, guess).catch(() => false));
  return false;
}

// Like Django's check_password: an unusable or unknown stored hash still costs
// one hash, so accounts without a usable password (e.g. social-only) can't be
// told apart by timing.
async function fakeRuntime(plain: unknown): Promise<VerifyResult> {
  await dummyVerify(typeof plain === "string" ? plain : "");
  return FAIL;
}

async function verifyArgon2(plain: string, phc: string): Promise<VerifyResult> {
  let params: ReturnType<typeof parseOptions>;
  try {
    params = parseOptions(phc);
  } catch {
    return fakeRuntime(plain);
  }
  if (
    params.memoryCost > MAX_ARGON2_MEMORY_KIB ||
    params.timeCost > MAX_ARGON2_TIME_COST ||
    params.parallelism > MAX_ARGON2_PARALLELISM
  ) {
    return fakeRuntime(plain);
  }
  // The library compares the digests in constant time. A full queue (AuthError) is not a "no".
  const ok = await hashing(() => verify(phc, plain).catch(() => false));
  if (!ok) return FAIL;
  const current =
    params.algorithm === ARGON2_OPTIONS.algorithm &&
    params.version === ARGON2_OPTIONS.version &&
    params.memoryCost === ARGON2_OPTIONS.memoryCost &&
    params.timeCost === ARGON2_OPTIONS.timeCost &&
    params.parallelism === ARGON2_OPTIONS.parallelism &&
    params.outputLen === ARGON2_OPTIONS.outputLen &&
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
): Promise<VerifyResult> {
  const parts = stored.split("$");
  if (parts.length !== 4) return fakeRuntime(plain);
  const [, iterText = "", salt = "", expected = ""] = parts;
  // Django always writes iterations with %d, so anything else is corrupt.
  if (!/^[1-9][0-9]{0,7}$/.test(iterText) || salt === "" || expected === "") return fakeRuntime(plain);
  const iterations = Number(iterText);
  if (iterations > MAX_PBKDF2_ITERATIONS) return fakeRuntime(plain);

  const dk = await hashing(() => pbkdf2Async(Buffer.from(plain, "utf8"), Buffer.from(salt, "utf8"), iterations, keyLength, digest));
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

async function verifyBcrypt(plain: string, stored: string, sha256First: boolean): Promise<VerifyResult> {
  const cost = BCRYPT.exec(stored)?.[1];
  if (cost === undefined || Number(cost) < 4 || Number(cost) > MAX_BCRYPT_COST) return fakeRuntime(plain);
  // python-bcrypt (so Django) refuses a NUL in the password rather than truncating at it.
  if (!sha256First && plain.includes("\0")) return FAIL;
  const password = sha256First ? createHash("sha256").update(plain, "utf8").digest("hex") : plain;
  const ok = await hashing(() => bcrypt.compare(password, stored)); // bounded like the other hashes
  // bcrypt is a legacy hash here: move it to argon2id on successful login.
  return ok ? { ok: true, needsRehash: true } : FAIL;
}
