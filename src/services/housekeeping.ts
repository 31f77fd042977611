// Deletes what can no longer be used, so tables stop growing with time and with sprayed login
// names: refresh tokens past expiry (SimpleJWT's `flushexpiredtokens`), JWT sessions none of
// whose tokens can still be presented, and lockout counts left quiet for FORGET_AFTER. Every
// server runs it every FLUSH_EXPIRED_INTERVAL seconds; `portcullis flushexpiredtokens` runs it
// once (from cron, say). Instances running it at once delete the same rows: harmless.
import type { Deps } from "./deps.ts";

export type Flushed = { refreshTokens: number; sessions: number; loginLocks: number };

export async function flushExpired(deps: Pick<Deps, "prisma" | "settings">): Promise<Flushed> {
  const { prisma, settings } = deps;
  const { LEEWAY, ACCESS_TOKEN_LIFETIME } = settings.SIMPLE_JWT;
  const { FORGET_AFTER, MAX_FAILURES } = settings.LOGIN_LOCKOUT;
  // A token expired for less than LEEWAY still verifies, and a refresh token whose row is gone
  // would be taken for one SimpleJWT issued before the move: keep its row until then.
  const refreshTokens = await prisma.$executeRaw`DELETE FROM jwt_refresh_token WHERE expires_at < now() - make_interval(secs => ${LEEWAY}::int)`;
  // Access tokens are minted at login and at each refresh (both stamp last_used_at or created):
  // once the last could have expired and no refresh token is left, the session is dead either way.
  const sessions = await prisma.$executeRaw`
    DELETE FROM jwt_session s
    WHERE coalesce(s.last_used_at, s.created) < now() - make_interval(secs => ${ACCESS_TOKEN_LIFETIME + LEEWAY}::int)
      AND NOT EXISTS (SELECT 1 FROM jwt_refresh_token t WHERE t.session_id = s.id)`;
  // A locked name (MAX_FAILURES) stays locked until a password reset; a wait that is over and
  // then FORGET_AFTER without an attempt starts the count afresh.
  const loginLocks = await prisma.$executeRaw`
    DELETE FROM login_lock
    WHERE updated_at < now() - make_interval(secs => ${FORGET_AFTER}::int)
      AND failures < ${MAX_FAILURES}::int AND (blocked_until IS NULL OR blocked_until < now())`;
  return { refreshTokens, sessions, loginLocks };
}

/** Runs flushExpired now and then every FLUSH_EXPIRED_INTERVAL seconds (0: never) until closed. */
export function startHousekeeping(deps: Pick<Deps, "prisma" | "settings" | "log">): { close(): Promise<void> } {
  const every = deps.settings.FLUSH_EXPIRED_INTERVAL;
  if (!every) return { close: async () => {} };
  let running: Promise<void> | null = null;
  const run = () => {
    running ??= flushExpired(deps)
      .then((flushed) => {
        if (Object.values(flushed).some((n) => n > 0)) deps.log.info(flushed, "expired rows deleted");
      })
      .catch((e) => deps.log.warn({ err: (e as Error).message }, "housekeeping failed; next try in FLUSH_EXPIRED_INTERVAL"))
      .finally(() => (running = null));
  };
  const timer = setInterval(run, every * 1000).unref();
  run();
  return {
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
