// Lockout without denial of service: consecutive failed logins per login name back off
// exponentially, a success resets, and after LOGIN_LOCKOUT.MAX_FAILURES (NIST 800-63B: at most
// 100) only a password reset (which the owner can always ask for) unlocks. Names that match no
// account are counted the same way, so a lockout never tells whether an account exists.
import { createHmac } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { AuthError, throttled } from "../errors.ts";
import type { Deps } from "./deps.ts";
import { purposeKey } from "./secrets.ts";
import { accountKey } from "./throttle.ts";

export type LoginAttempt = {
  /** Records the failure; the consecutive failures counted so far (0 if a success reset them meanwhile). */
  failed(): Promise<number>;
  succeeded(): Promise<void>;
};

const keyHash = (deps: Deps, name: string) => createHmac("sha256", purposeKey(deps.settings, "lockout")).update(accountKey(name)).digest("hex");

// Attempts still pending after this never finished (their process died): they stop counting.
const STALE_PENDING = "1 minute";
// How long an attempt waits for one in flight to finish when all MAX_FAILURES slots are taken.
const IN_FLIGHT_PATIENCE_MS = 10_000;

/**
 * Takes a slot for an attempt on `login` before its password is checked, or refuses it: 429
 * while the name waits, 403 once it is locked. Attempts in flight count against MAX_FAILURES
 * (so parallel guesses cannot outrun it: the 101st is refused however many are in flight), but
 * only a known failure starts a wait or the lock, so many correct logins at once never lock
 * their owner out. One statement decides, however many instances share the database.
 */
export async function claimLoginAttempt(deps: Deps, login: string, deadline = Date.now() + IN_FLIGHT_PATIENCE_MS): Promise<LoginAttempt> {
  const { FREE_FAILURES: free, BASE_DELAY: base, MAX_DELAY: max, MAX_FAILURES: limit } = deps.settings.LOGIN_LOCKOUT;
  const key = keyHash(deps, login);
  const claimed = await deps.prisma.$queryRaw<unknown[]>`
    INSERT INTO login_lock AS l (key_hash, pending, updated_at) VALUES (${key}, 1, now())
    ON CONFLICT (key_hash) DO UPDATE SET
      pending = (CASE WHEN l.updated_at < now() - ${STALE_PENDING}::interval THEN 0 ELSE l.pending END) + 1,
      updated_at = now()
    WHERE (l.blocked_until IS NULL OR l.blocked_until <= now())
      AND l.failures + (CASE WHEN l.updated_at < now() - ${STALE_PENDING}::interval THEN 0 ELSE l.pending END) < ${limit}::int
    RETURNING 1`;
  if (claimed.length) {
    return {
      // The wait after the n-th consecutive failure: none before FREE_FAILURES, then doubling.
      failed: async () => {
        const rows = await deps.prisma.$queryRaw<{ failures: number }[]>`
          UPDATE login_lock SET failures = failures + 1, pending = greatest(pending - 1, 0), updated_at = now(),
            blocked_until = CASE WHEN failures + 1 >= ${free}::int
              THEN now() + make_interval(secs => least(${max}::int, ${base}::int * power(2, failures + 1 - ${free}::int))) ELSE blocked_until END
          WHERE key_hash = ${key} RETURNING failures`;
        return rows[0]?.failures ?? 0;
      },
      succeeded: () => clear(deps, [key]),
    };
  }
  const lock = await deps.prisma.loginLock.findUnique({ where: { keyHash: key } });
  if (lock && lock.failures >= limit) throw new AuthError("login_locked");
  if (lock?.blockedUntil && lock.blockedUntil.getTime() > Date.now()) throw throttled((lock.blockedUntil.getTime() - Date.now()) / 1000);
  // Every remaining slot is taken by attempts in flight (or a success just cleared the row): those
  // finish within a hash or two, so wait for a slot a little before asking the client to retry.
  if (Date.now() >= deadline) throw throttled(1);
  await sleep(25 + Math.random() * 50);
  return claimLoginAttempt(deps, login, deadline);
}

async function clear(deps: Deps, keys: string[]) {
  await deps.prisma.loginLock.deleteMany({ where: { keyHash: { in: keys } } });
}

/**
 * Ends any wait or lock on these login names: the owner's after a password reset, or a unique
 * name that just became an account's (failures before then were nobody's). Never a shared email
 * on its own account's say-so: another account logging in by it would lose its protection.
 */
export async function clearLoginLocks(deps: Deps, names: (string | null)[]) {
  await clear(deps, names.filter((n): n is string => !!n).map((n) => keyHash(deps, n)));
}
