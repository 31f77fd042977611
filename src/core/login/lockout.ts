// Lockout without denial of service. Failed password checks are counted in buckets (rows of
// login_lock, keyed by an HMAC), and which buckets count an attempt depends on who makes it:
//
// - a client that presents a device token from an earlier successful login as this name (OWASP's
//   device cookies) is counted in that token's own bucket: waits after FREE_FAILURES, and after
//   MAX_FAILURES the token is worth nothing (the client is counted as any other). Others' wrong
//   guesses never touch it, so the owner's right password gets them in even while others are
//   locked out.
// - any other client is counted per name and network (an IPv4 address, an IPv6 /64): the waits,
//   doubling from BASE_DELAY up to MAX_DELAY, slow one guesser without slowing anyone else; and
//   per name, with no wait, only NIST's absolute bound (800-63B: at most 100): after MAX_FAILURES
//   consecutive failures from untrusted clients, only a password reset unlocks the name for them.
// - re-checks of an authenticated caller's current password are counted per user, with waits and
//   the same bound (a stolen token must not become a password oracle); so are second-factor codes.
//
// A success resets the buckets it was counted in. Names that match no account are counted alike,
// so a lockout never tells whether an account exists.
import { createHmac } from "node:crypto";
import { isIPv6 } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { AuthError, throttled } from "../../errors.ts";
import type { Deps } from "../deps.ts";
import { purposeKey } from "../secrets.ts";
import { accountKey } from "./throttle.ts";

/** What a failure started, for the audit log. */
export type LockoutEvent = { failures: number; reason: string };

export type LoginAttempt = {
  /** Records the failure: the most consecutive failures a bucket now holds, and what started. */
  failed(): Promise<{ failures: number; events: LockoutEvent[] }>;
  succeeded(): Promise<void>;
  /** The check did not happen (the hash queue refused it): frees the slot without counting. */
  abandoned(): Promise<void>;
};

type Kind = "name" | "network" | "device" | "recheck" | "mfa";
/** `waits`: failures past FREE_FAILURES make the next attempt wait; `bound`: MAX_FAILURES locks. */
type Bucket = { key: string; kind: Kind; waits: boolean; bound: boolean };

const hmac = (deps: Deps, text: string) =>
  createHmac("sha256", purposeKey(deps.settings, "lockout")).update(text).digest("hex");
const nameKey = (deps: Deps, name: string) => hmac(deps, accountKey(name));
const bucket = {
  name: (deps: Deps, name: string): Bucket => ({ key: nameKey(deps, name), kind: "name", waits: false, bound: true }),
  network: (deps: Deps, name: string, ip: string): Bucket => ({
    key: hmac(deps, `${accountKey(name)}|net:${network(ip)}`),
    kind: "network",
    waits: true,
    bound: false,
  }),
  device: (deps: Deps, id: string): Bucket => ({
    key: hmac(deps, `device:${id}`),
    kind: "device",
    waits: true,
    bound: true,
  }),
  recheck: (deps: Deps, userId: number): Bucket => ({
    key: hmac(deps, `recheck:user:${userId}`),
    kind: "recheck",
    waits: true,
    bound: true,
  }),
  mfa: (deps: Deps, userId: number): Bucket => ({
    key: hmac(deps, `mfa:user:${userId}`),
    kind: "mfa",
    waits: true,
    bound: true,
  }),
};

const EVENTS: Record<Kind, { waits?: string; bound?: string }> = {
  name: { bound: "locked until a password reset" },
  network: { waits: "backoff started" },
  device: { waits: "backoff started for a trusted device", bound: "device token locked out" },
  recheck: {
    waits: "backoff started for password re-checks",
    bound: "password re-checks locked until a password reset",
  },
  mfa: { waits: "backoff started for second-factor codes", bound: "second-factor codes locked until a password reset" },
};

/**
 * The network an address stands for: IPv4 as it is, IPv6 by its /64 (one subscriber is handed a
 * whole /64, so counting single IPv6 addresses would give a guesser 2^64 fresh starts).
 */
export function network(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip)?.[1];
  if (mapped) return mapped;
  const address = ip.split("%")[0]!;
  if (!isIPv6(address)) return ip;
  const [head = "", tail = ""] = address.split("::");
  const groups = (part: string) => (part ? part.split(":") : []);
  const [before, after] = [groups(head), groups(tail)];
  const full = address.includes("::")
    ? [...before, ...Array(8 - before.length - after.length).fill("0"), ...after]
    : before;
  return `${full
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

// How long an attempt waits for one in flight to finish when all the slots it may take are taken.
const IN_FLIGHT_PATIENCE_MS = 10_000;

/** The bucket with the settings its statements apply. */
const rule = (deps: Deps, b: Bucket) => {
  const { FREE_FAILURES: free, MAX_FAILURES: limit } = deps.settings.LOGIN_LOCKOUT;
  return { key: b.key, waits: b.waits, bound: b.bound, free, limit };
};

/**
 * Takes a slot in the bucket, or refuses: while it waits, once it is bound and full, or while as
 * many attempts are in flight as could fail before a wait starts (so parallel guesses cannot
 * outrun the waits nor the bound: attempts in flight count as failures). Only a known failure
 * starts a wait or the lock, so many right passwords at once never lock their owner out. One
 * statement decides, however many instances share the database.
 */
const take = (deps: Deps, b: Bucket) => deps.store.loginLocks.take(rule(deps, b));
const release = (deps: Deps, b: Bucket) => deps.store.loginLocks.release(b.key);

/** Records a failure in the bucket; its consecutive failures (0 if a success reset them meanwhile). */
function fail(deps: Deps, b: Bucket): Promise<number> {
  const { FREE_FAILURES: free, BASE_DELAY: base, MAX_DELAY: max, MAX_FAILURES: limit } = deps.settings.LOGIN_LOCKOUT;
  // An unbound bucket's count stops below MAX_FAILURES (its waits are long capped by then), so
  // housekeeping, which keeps locked rows, still forgets it.
  const cap = b.bound ? 2_147_483_647 : Math.max(limit - 1, free);
  return deps.store.loginLocks.fail(rule(deps, b), { base, max, cap });
}

const clear = (deps: Deps, keys: string[]) => deps.store.loginLocks.clear(keys);

/**
 * Claims every bucket of `pick()` or none, waiting a little for attempts in flight. `lockedOut`
 * decides what a full bound bucket means: an error to throw, or (returning true) pick again.
 */
async function claim(
  deps: Deps,
  pick: () => Bucket[],
  lockedOut: (b: Bucket) => AuthError | true,
  deadline: number,
  onSuccess: Bucket[] = [],
): Promise<LoginAttempt> {
  const limit = deps.settings.LOGIN_LOCKOUT.MAX_FAILURES;
  for (;;) {
    const buckets = pick();
    const taken: Bucket[] = [];
    let refused: Bucket | undefined;
    for (const b of buckets) {
      if (await take(deps, b)) taken.push(b);
      else {
        refused = b;
        break;
      }
    }
    if (!refused) return attempt(deps, buckets, onSuccess);
    for (const b of taken) await release(deps, b);
    const lock = await deps.store.loginLocks.find(refused.key);
    if (refused.bound && lock && lock.failures >= limit) {
      const outcome = lockedOut(refused);
      if (outcome === true) continue;
      throw outcome;
    }
    const wait = (lock?.blockedUntil?.getTime() ?? 0) - Date.now();
    if (wait > 0) throw throttled(wait / 1000);
    // Every slot is taken by attempts in flight (or a success just cleared the row): those finish
    // within a hash or two, so wait for a slot a little before asking the client to retry.
    if (Date.now() >= deadline) throw throttled(1);
    await sleep(25 + Math.random() * 50);
  }
}

function attempt(deps: Deps, buckets: Bucket[], alsoOnSuccess: Bucket[]): LoginAttempt {
  const { FREE_FAILURES: free, MAX_FAILURES: limit } = deps.settings.LOGIN_LOCKOUT;
  return {
    async failed() {
      const events: LockoutEvent[] = [];
      let most = 0;
      for (const b of buckets) {
        const failures = await fail(deps, b);
        most = Math.max(most, failures);
        const reasons = EVENTS[b.kind];
        if (reasons.waits && failures === free) events.push({ failures, reason: reasons.waits });
        if (reasons.bound && failures === limit) events.push({ failures, reason: reasons.bound });
      }
      return { failures: most, events };
    },
    async succeeded() {
      await clear(
        deps,
        buckets.map((b) => b.key),
      );
      // NIST counts consecutive failures: the owner's success from a trusted device ends the
      // untrusted count on the name too, unless it already reached the lock (a reset lifts that).
      for (const b of alsoOnSuccess) await deps.store.loginLocks.clearBelow(b.key, limit);
    },
    async abandoned() {
      for (const b of buckets) await release(deps, b);
    },
  };
}

/**
 * Takes a slot for a login attempt on `login` before its password is checked, or refuses it: 429
 * while it waits, 403 once the name is locked. `from.device` is the id of a device token that a
 * successful login as this name issued to the client (see device-tokens.ts), if it sent one.
 */
export function claimLoginAttempt(
  deps: Deps,
  login: string,
  from: { ip: string; device?: string | null },
  deadline = Date.now() + IN_FLIGHT_PATIENCE_MS,
): Promise<LoginAttempt> {
  const name = bucket.name(deps, login);
  let device = from.device ? bucket.device(deps, from.device) : null;
  return claim(
    deps,
    () => (device ? [device] : [name, bucket.network(deps, login, from.ip)]),
    (b) => {
      if (b.kind !== "device") return new AuthError("login_locked");
      device = null; // a locked-out device token is worth no more than none
      return true;
    },
    deadline,
    from.device ? [name] : [],
  );
}

/** Takes a slot for re-checking user `userId`'s current password: 429 while it waits, 403 once locked. */
export function claimPasswordCheck(deps: Deps, userId: number, deadline = Date.now() + IN_FLIGHT_PATIENCE_MS) {
  return claim(
    deps,
    () => [bucket.recheck(deps, userId)],
    () => new AuthError("password_check_locked"),
    deadline,
  );
}

/**
 * Takes a slot for checking a second-factor code of user `userId` (a login's second step, a
 * re-authentication, a protected MFA change): 429 while it waits, 403 mfa_locked once locked.
 * Six digits are a small space: without this bound, many ephemeral tokens would add up to a search.
 */
export function claimCodeCheck(deps: Deps, userId: number, deadline = Date.now() + IN_FLIGHT_PATIENCE_MS) {
  return claim(
    deps,
    () => [bucket.mfa(deps, userId)],
    () => new AuthError("mfa_locked"),
    deadline,
  );
}

/**
 * Ends any wait or lock on these login names (from `ip`'s network too, when given) and on the
 * re-checks of `userId`: the owner's after a password reset, or a unique name that just became an
 * account's (failures before then were nobody's). Never a shared email on its own account's
 * say-so: another account logging in by it would lose its protection.
 */
export async function clearLoginLocks(
  deps: Deps,
  names: (string | null)[],
  also: { ip?: string; userId?: number } = {},
) {
  const known = names.filter((n): n is string => !!n);
  const keys = known.map((n) => nameKey(deps, n));
  if (also.ip !== undefined) keys.push(...known.map((n) => bucket.network(deps, n, also.ip!).key));
  if (also.userId !== undefined) keys.push(bucket.recheck(deps, also.userId).key, bucket.mfa(deps, also.userId).key);
  await clear(deps, keys);
}
