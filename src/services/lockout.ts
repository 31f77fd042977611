// Lockout without denial of service: consecutive failed logins per login name back off
// exponentially, a success resets, and after LOGIN_LOCKOUT.MAX_FAILURES (NIST 800-63B: at most
// 100) only a password reset (which the owner can always ask for) unlocks. Names that match no
// account are counted the same way, so a lockout never tells whether an account exists.
import { createHmac } from "node:crypto";
import { AuthError, throttled } from "../errors.ts";
import type { Deps, User } from "./deps.ts";
import { accountKey } from "./throttle.ts";

export type LoginAttempt = {
  /** Consecutive failures counted so far, this attempt included. */
  failures: number;
  /** Whether this attempt, if it fails, starts the waits or the lock (worth an audit event). */
  locksOnFailure: boolean;
  failed(): Promise<void>;
  succeeded(): Promise<void>;
};

const keyHash = (deps: Deps, name: string) => createHmac("sha256", deps.settings.SECRET_KEY).update(accountKey(name)).digest("hex");

/**
 * Counts an attempt for `login` before its password is checked, or refuses it: 429 while the
 * name waits, 403 once it is locked. Counting first means parallel guesses cannot outrun the
 * limit (the 101st is refused however many are in flight); the wait itself starts only when a
 * failure is known, so several correct logins at once never lock their owner out. One
 * statement decides, however many instances share the database.
 */
export async function claimLoginAttempt(deps: Deps, login: string, retry = true): Promise<LoginAttempt> {
  const { FREE_FAILURES: free, BASE_DELAY: base, MAX_DELAY: max, MAX_FAILURES: limit } = deps.settings.LOGIN_LOCKOUT;
  const key = keyHash(deps, login);
  const rows = await deps.prisma.$queryRaw<{ failures: number }[]>`
    INSERT INTO login_lock AS l (key_hash, failures, updated_at) VALUES (${key}, 1, now())
    ON CONFLICT (key_hash) DO UPDATE SET failures = l.failures + 1, updated_at = now()
    WHERE (l.blocked_until IS NULL OR l.blocked_until <= now()) AND l.failures < ${limit}::int
    RETURNING failures`;
  if (rows[0]) {
    const failures = rows[0].failures;
    return {
      failures,
      locksOnFailure: failures === free || failures === limit,
      // The wait after the n-th consecutive failure: none before FREE_FAILURES, then doubling.
      failed: async () => {
        await deps.prisma.$executeRaw`
          UPDATE login_lock SET blocked_until = now() + make_interval(secs => least(${max}::int, ${base}::int * power(2, failures - ${free}::int)))
          WHERE key_hash = ${key} AND failures >= ${free}::int`;
      },
      succeeded: () => clear(deps, [key]),
    };
  }
  const lock = await deps.prisma.loginLock.findUnique({ where: { keyHash: key } });
  if (!lock && retry) return claimLoginAttempt(deps, login, false); // a success cleared it in between
  if (!lock) throw throttled(1);
  if (lock.failures >= limit) throw new AuthError("login_locked");
  throw throttled(((lock.blockedUntil?.getTime() ?? Date.now()) - Date.now()) / 1000);
}

async function clear(deps: Deps, keys: string[]) {
  await deps.prisma.loginLock.deleteMany({ where: { keyHash: { in: keys } } });
}

/** A password reset ends any wait or lock on the user's login names. */
export async function clearLoginLocks(deps: Deps, user: Pick<User, "username" | "email">) {
  await clear(deps, [user.username, user.email].filter((n): n is string => !!n).map((n) => keyHash(deps, n)));
}
