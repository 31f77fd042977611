// Password hashing: argon2id for new hashes, plus verification of the hashes a
// Django 3.2 database holds (argon2, PBKDF2 and bcrypt), so users migrate without a reset.
import { createHash, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { availableParallelism } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
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
  observedMs.delete(DUMMY); // and its cost is measured afresh
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

// ── A failed verification costs the same, whatever the account holds ──
// Each kind of stored hash (algorithm and cost parameters) takes its own time to check: an unknown
// name (the dummy: argon2id at our cost) ~20 ms, Django's PBKDF2 at 260k iterations ~60 ms, at
// 870k ~190 ms, Django's argon2 (100 MiB) more than ours. Answering a failure as soon as its check
// ends would tell an attacker which names exist and which were imported. So every failed check (and
// the dummy) ends no earlier than FLOOR after its work began: FLOOR is the recent cost of the
// slowest kind present in the database (surveyHashes, at start and then now and then; a kind met
// at login counts at once), so it shrinks as imported users log in and are re-hashed. The wait is
// a timer: no CPU, no hash slot. A success does not wait: the right password tells its sender
// nothing new. The price: while slow legacy hashes remain, every failed login takes their time.

/** The cost class of a stored hash: everything but its salt and digest ("pbkdf2_sha256$870000"). */
function costClass(stored: string): string {
  const parts = stored.split("$");
  return parts.slice(0, stored.startsWith("bcrypt") ? -1 : -2).join("$"); // bcrypt's salt and digest are one field
}
const DUMMY = "(dummy)";
/** The last few work times of each cost class, ms. */
const observedMs = new Map<string, number[]>();
const KEPT = 10;
/** The classes the database held at the last survey (null: none yet, every class seen counts). */
let present: Set<string> | null = null;

/** When a check's work began (as it left the hash queue: its wait there says nothing of the account), and its class. */
type Clock = { started: number; kind: string };

function record(kind: string, ms: number): void {
  const times = observedMs.get(kind) ?? [];
  times.push(ms);
  if (times.length > KEPT) times.shift();
  observedMs.set(kind, times);
}

function observe(clock: Clock): void {
  record(clock.kind, performance.now() - clock.started);
  present?.add(clock.kind); // read from the database just now, so it is there
}

/**
 * What a class costs: the second-highest of its recent times (one stall, a GC pause, does not set
 * the floor; the slowest kind's own answers rarely end after it, as they would after an average).
 */
function costOf(times: number[]): number {
  const sorted = [...times].sort((a, b) => b - a);
  return sorted[sorted.length > 2 ? 1 : 0] ?? 0; // of a survey's two, the higher
}

function floorMs(): number {
  let floor = 0;
  for (const [kind, times] of observedMs) {
    if (kind === DUMMY || !present || present.has(kind)) floor = Math.max(floor, costOf(times));
  }
  return floor;
}

/** Waits (a timer) until the floor has passed since the check's work began. */
async function padToFloor(clock: Clock): Promise<void> {
  const left = clock.started + floorMs() - performance.now();
  if (left >= 1) await sleep(left);
}

/** Runs `work` in the hash queue, starting `clock` when it leaves the queue. */
const timedHashing = <T>(clock: Clock, work: () => Promise<T>) =>
  hashing(() => {
    clock.started = performance.now();
    return work();
  });

/**
 * Tells this process which stored hashes the database holds (one sample of each cost class, as
 * login-cost.ts reads them): each class (and the dummy) is measured now, against a random
 * password, and the floor of failed checks becomes the cost of the slowest class present.
 */
export async function surveyHashes(samples: string[]): Promise<void> {
  const kinds = new Set<string>();
  // Each class is measured afresh, twice, replacing the times kept: times from a busy moment would
  // hold the floor up (costOf keeps high ones) until that class had been checked ten more times.
  const fresh = new Map<string, number[]>();
  const measure = async (stored: string | null) => {
    for (let i = 0; i < 2; i++) {
      const clock: Clock = { started: performance.now(), kind: DUMMY };
      if (stored === null) await dummyCheck(randomBytes(16).toString("hex"), clock);
      else await check(randomBytes(16).toString("hex"), stored, (clock.kind = costClass(stored), clock));
      const kind = clock.kind; // a corrupt sample is checked as the dummy
      fresh.set(kind, [...(fresh.get(kind) ?? []), performance.now() - clock.started]);
    }
  };
  for (const stored of samples) {
    if (!isVerifiableHash(stored)) continue; // checked as the dummy
    kinds.add(costClass(stored));
    await measure(stored);
  }
  if (kinds.size) await measure(null);
  for (const [kind, times] of fresh) observedMs.set(kind, times);
  present = kinds;
}

/**
 * Check `plain` against a stored hash. Accepts our PHC argon2 strings, Django's
 * `argon2$argon2id$…`, `pbkdf2_sha256$…`, `pbkdf2_sha1$…`, `bcrypt_sha256$$2b$…`
 * and `bcrypt$$2b$…`. Anything else (Django's unusable `!…` passwords, empty,
 * garbage) is `{ok:false}` and never throws. `needsRehash` is only ever true
 * alongside `ok`. A failure takes as long as the slowest kind of hash stored (see above);
 * `pad: "always"` makes a success take as long too, for an account that cannot log in anyway
 * (inactive), so its right password does not answer faster than a wrong one.
 */
export async function verifyPassword(
  plain: string,
  stored: string,
  opts: { pad?: "failure" | "always" } = {},
): Promise<VerifyResult> {
  const clock: Clock = { started: performance.now(), kind: typeof stored === "string" ? costClass(stored) : DUMMY };
  const result = await check(plain, stored, clock);
  observe(clock);
  if (!result.ok || opts.pad === "always") await padToFloor(clock);
  return result;
}

async function check(plain: string, stored: string, clock: Clock): Promise<VerifyResult> {
  if (typeof plain !== "string" || typeof stored !== "string") return fakeRuntime(plain, clock);
  if (stored.startsWith("$argon2")) return verifyArgon2(plain, stored, clock);
  // Django prefixes the PHC string with its algorithm name "argon2".
  if (stored.startsWith("argon2$argon2")) return verifyArgon2(plain, stored.slice("argon2".length), clock);
  if (stored.startsWith("pbkdf2_sha256$")) return verifyPbkdf2(plain, stored, "sha256", 32, clock);
  if (stored.startsWith("pbkdf2_sha1$")) return verifyPbkdf2(plain, stored, "sha1", 20, clock);
  if (stored.startsWith("bcrypt_sha256$")) {
    return verifyBcrypt(plain, stored.slice("bcrypt_sha256$".length), true, clock);
  }
  if (stored.startsWith("bcrypt$")) return verifyBcrypt(plain, stored.slice("bcrypt$".length), false, clock);
  return fakeRuntime(plain, clock);
}

let dummyHash: Promise<string> | undefined;

/**
 * Burn the same time as a failed verification of a real account, for logins naming an
 * unknown user: without it, "no such user" answers measurably faster than "wrong password",
 * which enumerates accounts. One argon2id verification, then the floor above. Always resolves false.
 */
export async function dummyVerify(plain: string): Promise<false> {
  const clock: Clock = { started: performance.now(), kind: DUMMY };
  await dummyCheck(plain, clock);
  observe(clock);
  await padToFloor(clock);
  return false;
}

async function dummyCheck(plain: unknown, clock: Clock): Promise<void> {
  clock.kind = DUMMY;
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
  if (dummy !== undefined) await timedHashing(clock, () => verify(dummy, guess).catch(() => false));
}

// Like Django's check_password: an unusable or unknown stored hash still costs
// one hash, so accounts without a usable password (e.g. social-only) can't be
// told apart by timing.
async function fakeRuntime(plain: unknown, clock: Clock): Promise<VerifyResult> {
  await dummyCheck(typeof plain === "string" ? plain : "", clock);
  return FAIL;
}

async function verifyArgon2(plain: string, phc: string, clock: Clock): Promise<VerifyResult> {
  let params: ReturnType<typeof parseOptions>;
  try {
    params = parseOptions(phc);
  } catch {
    return fakeRuntime(plain, clock);
  }
  if (
    params.memoryCost > MAX_ARGON2_MEMORY_KIB ||
    params.timeCost > MAX_ARGON2_TIME_COST ||
    params.parallelism > MAX_ARGON2_PARALLELISM
  ) {
    return fakeRuntime(plain, clock);
  }
  // The library compares the digests in constant time. A full queue (AuthError) is not a "no".
  const ok = await timedHashing(clock, () => verify(phc, plain).catch(() => false));
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
  clock: Clock,
): Promise<VerifyResult> {
  const parts = stored.split("$");
  if (parts.length !== 4) return fakeRuntime(plain, clock);
  const [, iterText = "", salt = "", expected = ""] = parts;
  // Django always writes iterations with %d, so anything else is corrupt.
  if (!/^[1-9][0-9]{0,7}$/.test(iterText) || salt === "" || expected === "") return fakeRuntime(plain, clock);
  const iterations = Number(iterText);
  if (iterations > MAX_PBKDF2_ITERATIONS) return fakeRuntime(plain, clock);

  const dk = await timedHashing(clock, () =>
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

async function verifyBcrypt(plain: string, stored: string, sha256First: boolean, clock: Clock): Promise<VerifyResult> {
  const cost = BCRYPT.exec(stored)?.[1];
  if (cost === undefined || Number(cost) < 4 || Number(cost) > MAX_BCRYPT_COST) return fakeRuntime(plain, clock);
  // python-bcrypt (so Django) refuses a NUL in the password rather than truncating at it; the
  // refusal costs a hash too, or a NUL would tell plain-bcrypt accounts from the others.
  if (!sha256First && plain.includes("\0")) return fakeRuntime(plain, clock);
  const password = sha256First ? createHash("sha256").update(plain, "utf8").digest("hex") : plain;
  const ok = await timedHashing(clock, () => bcrypt.compare(password, stored)); // bounded like the other hashes
  // bcrypt is a legacy hash here: move it to argon2id on successful login.
  return ok ? { ok: true, needsRehash: true } : FAIL;
}
