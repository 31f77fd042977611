// Password hashing: argon2id for new hashes, verification of ours and of the hashes a Django
// database holds (compat/django/hashers.ts), every failure taking the same time, in the hash queue.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Algorithm, hash, Version, verify } from "@node-rs/argon2";
import {
  checkStoredHash,
  FAIL,
  type HashRun,
  isVerifiableHash,
  type VerifyResult,
} from "../../compat/django/hashers.ts";
import { AuthError } from "../../errors.ts";
import { hashing } from "./hash-queue.ts";

export type { VerifyResult };

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

/**
 * Sets the cost of new hashes for this process (the ARGON2 setting; one server per process).
 * Hashes made at another cost still verify, and are redone at this cost on the next login.
 */
export function configureArgon2(cost: { MEMORY_COST: number; TIME_COST: number; PARALLELISM: number }) {
  const next = {
    ...ARGON2_OPTIONS,
    memoryCost: cost.MEMORY_COST,
    timeCost: cost.TIME_COST,
    parallelism: cost.PARALLELISM,
  };
  if (
    next.memoryCost === ARGON2_OPTIONS.memoryCost &&
    next.timeCost === ARGON2_OPTIONS.timeCost &&
    next.parallelism === ARGON2_OPTIONS.parallelism
  )
    return;
  ARGON2_OPTIONS = next;
  dummyHash = undefined; // the dummy must cost what a real verification costs
  observedMs.delete(DUMMY); // and its cost is measured afresh
}

/**
 * Hash with argon2id at our parameters; returns a PHC string
 * (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). The async binding runs on
 * libuv's thread pool, so the event loop stays free while hashing.
 */
export function hashPassword(plain: string): Promise<string> {
  return hashing(() => hash(plain, ARGON2_OPTIONS));
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
      else {
        clock.kind = costClass(stored);
        await check(randomBytes(16).toString("hex"), stored, clock);
      }
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
async function check(plain: string, stored: string, clock: Clock): Promise<VerifyResult> {
  if (typeof plain !== "string" || typeof stored !== "string") return fakeRuntime(plain, clock);
  const run: HashRun = {
    timed: (work) => timedHashing(clock, work),
    fake: () => fakeRuntime(plain, clock),
    argon2: ARGON2_OPTIONS,
  };
  return checkStoredHash(plain, stored, run);
}

async function fakeRuntime(plain: unknown, clock: Clock): Promise<VerifyResult> {
  await dummyCheck(typeof plain === "string" ? plain : "", clock);
  return FAIL;
}
