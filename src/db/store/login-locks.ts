// login_lock: consecutive failed logins per bucket (core/login/lockout.ts decides the buckets and
// what they mean), keyed by an HMAC. Each decision is one statement, however many instances share
// the database.
import type { Db } from "./base.ts";

/**
 * A bucket as the statements see it: with `waits`, failures past `free` make the next attempt
 * wait; `limit` failures lock a `bound` one.
 */
export type LockRule = { key: string; waits: boolean; bound: boolean; free: number; limit: number };

// Attempts still pending after this never finished (their process died): they stop counting.
const STALE_PENDING = "1 minute";

export function loginLocksStore({ prisma }: Db) {
  return {
    /**
     * Takes a slot in the bucket, or refuses (false): while it waits, once it is bound and full, or
     * while as many attempts are in flight as could fail before a wait starts.
     */
    async take(b: LockRule): Promise<boolean> {
      const claimed = await prisma.$queryRaw<unknown[]>`
        INSERT INTO login_lock AS l (key_hash, pending, updated_at) VALUES (${b.key}, 1, now())
        ON CONFLICT (key_hash) DO UPDATE SET
          pending = (CASE WHEN l.updated_at < now() - ${STALE_PENDING}::interval THEN 0 ELSE l.pending END) + 1,
          updated_at = now()
        WHERE (l.blocked_until IS NULL OR l.blocked_until <= now())
          AND (NOT ${b.bound}::boolean
            OR l.failures + (CASE WHEN l.updated_at < now() - ${STALE_PENDING}::interval THEN 0 ELSE l.pending END)
               < ${b.limit}::int)
          AND (NOT ${b.waits}::boolean OR l.updated_at < now() - ${STALE_PENDING}::interval
            OR l.pending = 0 OR l.failures + l.pending < ${b.free}::int)
        RETURNING 1`;
      return claimed.length > 0;
    },
    /** Frees a slot without counting a failure. */
    async release(key: string) {
      await prisma.$executeRaw`UPDATE login_lock SET pending = greatest(pending - 1, 0) WHERE key_hash = ${key}`;
    },
    /**
     * Records a failure: the bucket's consecutive failures (0 if a success reset them meanwhile),
     * never above `cap`, and the wait it starts (doubling from `base` seconds up to `max`).
     */
    async fail(b: LockRule, delays: { base: number; max: number; cap: number }): Promise<number> {
      const { base, max, cap } = delays;
      const rows = await prisma.$queryRaw<{ failures: number }[]>`
        UPDATE login_lock SET failures = least(failures + 1, ${cap}::int), pending = greatest(pending - 1, 0),
          updated_at = now(),
          blocked_until = CASE WHEN ${b.waits}::boolean AND failures + 1 >= ${b.free}::int
            THEN now() + make_interval(
              secs => least(${max}::int, ${base}::int * power(2, failures + 1 - ${b.free}::int)))
            ELSE blocked_until END
        WHERE key_hash = ${b.key} RETURNING failures`;
      return rows[0]?.failures ?? 0;
    },
    find: (key: string) => prisma.loginLock.findUnique({ where: { keyHash: key } }),
    async clear(keys: string[]) {
      await prisma.loginLock.deleteMany({ where: { keyHash: { in: keys } } });
    },
    /** Clears the bucket unless it reached `limit` (a lock only a password reset lifts). */
    async clearBelow(key: string, limit: number) {
      await prisma.loginLock.deleteMany({ where: { keyHash: key, failures: { lt: limit } } });
    },
    /** Buckets quiet for `forgetAfter` seconds whose wait is over; locked ones (`limit`) stay. */
    flush: (forgetAfter: number, limit: number) => prisma.$executeRaw`
      DELETE FROM login_lock
      WHERE updated_at < now() - make_interval(secs => ${forgetAfter}::int)
        AND failures < ${limit}::int AND (blocked_until IS NULL OR blocked_until < now())`,
  };
}
