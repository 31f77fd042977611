// Deletes what can no longer be used, so tables stop growing with time and with sprayed login
// names: refresh tokens past expiry (SimpleJWT's `flushexpiredtokens`), JWT sessions none of
// whose tokens can still be presented, lockout counts left quiet for FORGET_AFTER, opaque tokens
// past TOKEN_TTL or TOKEN_IDLE_TTL, and audit events older than AUDIT_RETENTION_DAYS. Every
// server runs it every FLUSH_EXPIRED_INTERVAL seconds; `portcullis flushexpiredtokens` runs it
// once (from cron, say). Instances running it at once delete the same rows: harmless.
import type { Deps } from "./deps.ts";

export type Flushed = {
  refreshTokens: number;
  sessions: number;
  loginLocks: number;
  authTokens: number;
  auditEvents: number;
};

export async function flushExpired(deps: Pick<Deps, "prisma" | "settings">): Promise<Flushed> {
  const { prisma, settings } = deps;
  const { LEEWAY, ACCESS_TOKEN_LIFETIME } = settings.SIMPLE_JWT;
  const { FORGET_AFTER, MAX_FAILURES } = settings.LOGIN_LOCKOUT;
  // A token expired for less than LEEWAY still verifies, and a refresh token whose row is gone
  // would be taken for one SimpleJWT issued before the move: keep its row until then.
  const refreshTokens =
    await prisma.$executeRaw`DELETE FROM jwt_refresh_token WHERE expires_at < now() - make_interval(secs => ${LEEWAY}::int)`;
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
  const authTokens = await flushExpiredKeys(prisma, settings);
  const days = settings.AUDIT_RETENTION_DAYS;
  const auditEvents =
    days === null
      ? 0
      : await prisma.$executeRaw`DELETE FROM audit_event WHERE at < now() - make_interval(days => ${days}::int)`;
  return { refreshTokens, sessions, loginLocks, authTokens, auditEvents };
}

/**
 * Opaque tokens past TOKEN_TTL or TOKEN_IDLE_TTL (tokens.ts refuses them already). A shared key's
 * seed goes with its row: else the next login would derive the same key again and revive it.
 */
async function flushExpiredKeys(prisma: Deps["prisma"], settings: Deps["settings"]): Promise<number> {
  const { TOKEN_TTL: ttl, TOKEN_IDLE_TTL: idle } = settings.DJOSER;
  if (ttl === null && idle === null) return 0;
  const [row] = await prisma.$queryRaw<{ n: number }[]>`
    WITH gone AS (
      DELETE FROM auth_token
      WHERE (${ttl}::int IS NOT NULL AND created < now() - make_interval(secs => ${ttl}::int))
         OR (${idle}::int IS NOT NULL AND coalesce(last_used_at, created) < now() - make_interval(secs => ${idle}::int))
      RETURNING user_id, shared
    ), unseeded AS (
      UPDATE auth_user SET token_seed = NULL WHERE id IN (SELECT user_id FROM gone WHERE shared) RETURNING id
    )
    SELECT count(*)::int AS n FROM gone`;
  return row?.n ?? 0;
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
      .catch((e) =>
        deps.log.warn({ err: (e as Error).message }, "housekeeping failed; next try in FLUSH_EXPIRED_INTERVAL"),
      )
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
