// Deletes what can no longer be used, so tables stop growing with time and with sprayed login
// names: refresh tokens past expiry (SimpleJWT's `flushexpiredtokens`), JWT sessions none of
// whose tokens can still be presented, lockout counts left quiet for FORGET_AFTER, opaque tokens
// past TOKEN_TTL or TOKEN_IDLE_TTL, audit events older than AUDIT_RETENTION_DAYS, and logins
// waiting for a second factor, WebAuthn challenges and completed social sign-in states past
// their expiry. Every
// server runs it every FLUSH_EXPIRED_INTERVAL seconds; `portcullis flushexpiredtokens` runs it
// once (from cron, say). Instances running it at once delete the same rows: harmless.
import type { Deps } from "./deps.ts";

export type Flushed = {
  refreshTokens: number;
  sessions: number;
  loginLocks: number;
  authTokens: number;
  auditEvents: number;
  pendingLogins: number;
  challenges: number;
  socialStates: number;
};

export async function flushExpired(deps: Pick<Deps, "store" | "settings">): Promise<Flushed> {
  const { store, settings } = deps;
  const { LEEWAY, ACCESS_TOKEN_LIFETIME } = settings.SIMPLE_JWT;
  const { FORGET_AFTER, MAX_FAILURES } = settings.LOGIN_LOCKOUT;
  const { refreshTokens, sessions } = await store.jwtSessions.flushExpired(LEEWAY, ACCESS_TOKEN_LIFETIME);
  // A locked name (MAX_FAILURES) stays locked until a password reset; a wait that is over and
  // then FORGET_AFTER without an attempt starts the count afresh.
  const loginLocks = await store.loginLocks.flush(FORGET_AFTER, MAX_FAILURES);
  // Opaque tokens past TOKEN_TTL or TOKEN_IDLE_TTL (opaque.ts refuses them already). A shared key's
  // seed goes with its row: else the next login would derive the same key again and revive it.
  const authTokens = await store.tokens.flushExpired(settings.DJOSER.TOKEN_TTL, settings.DJOSER.TOKEN_IDLE_TTL);
  const days = settings.AUDIT_RETENTION_DAYS;
  const auditEvents = days === null ? 0 : await store.audit.flush(days);
  const pendingLogins = await store.mfa.flushLogins();
  const challenges = await store.passkeys.flushChallenges();
  const socialStates = await store.social.flushStates();
  return { refreshTokens, sessions, loginLocks, authTokens, auditEvents, pendingLogins, challenges, socialStates };
}

/** Runs flushExpired now and then every FLUSH_EXPIRED_INTERVAL seconds (0: never) until closed. */
export function startHousekeeping(deps: Pick<Deps, "store" | "settings" | "log">): { close(): Promise<void> } {
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
