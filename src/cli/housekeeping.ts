import { type Command, usageError } from "./args.ts";

export const flushExpiredCommand: Command = {
  name: "flushexpiredtokens",
  summary: "delete expired tokens, dead sessions, forgotten lockout counts and old audit events",
  description: `
SimpleJWT's flushexpiredtokens, and more: delete expired refresh tokens, dead JWT sessions, lockout
counts quiet for LOGIN_LOCKOUT.FORGET_AFTER, opaque tokens past TOKEN_TTL or TOKEN_IDLE_TTL and
audit events older than AUDIT_RETENTION_DAYS. Servers also do it every FLUSH_EXPIRED_INTERVAL
seconds; run it from cron with FLUSH_EXPIRED_INTERVAL=0.`,
  options: {},
  async run() {
    const { commandSettings, withMigratedDatabase } = await import("./context.ts");
    const { flushExpired } = await import("../core/housekeeping.ts");
    const { createStore } = await import("../db/store/index.ts");
    const settings = commandSettings();
    return withMigratedDatabase(
      settings,
      async (db) => {
        const flushed = await flushExpired({ store: createStore(db.prisma), settings });
        process.stdout.write(
          `Deleted ${flushed.refreshTokens} expired refresh token(s), ${flushed.sessions} dead JWT session(s), ` +
            `${flushed.loginLocks} forgotten lockout count(s), ${flushed.authTokens} expired opaque token(s), ` +
            `${flushed.auditEvents} audit event(s) past AUDIT_RETENTION_DAYS, ` +
            `${flushed.pendingLogins} expired second-factor login(s), ` +
            `${flushed.challenges} expired WebAuthn challenge(s), ` +
            `${flushed.socialStates} expired social sign-in state(s).\n`,
        );
        return 0;
      },
      1,
    );
  },
};

export const endAllSessionsCommand: Command = {
  name: "endallsessions",
  summary: "sign every user out everywhere (after SECRET_KEY changed or leaked)",
  description: `
End every opaque token and every JWT session of every user. After SECRET_KEY changed (or leaked),
keys derived from the old one would otherwise keep working; everyone logs in again.`,
  options: { yes: { type: "boolean", help: "go ahead (required: there is no undo)" } },
  async run({ values }) {
    if (!values.yes)
      throw usageError("endallsessions", "endallsessions signs every user out everywhere: pass --yes to go ahead.");
    const { commandSettings, tellServers, withMigratedDatabase } = await import("./context.ts");
    const { endEverySession } = await import("../core/sessions/end.ts");
    const { createStore } = await import("../db/store/index.ts");
    const settings = commandSettings();
    return withMigratedDatabase(
      settings,
      async (db) => {
        const { tokens, sessions } = await endEverySession({ store: createStore(db.prisma) });
        const ended = `Ended ${tokens} opaque token(s) and ${sessions} JWT session(s)`;
        process.stdout.write(`${ended}; every JWT issued until now is refused.\n`);
        await tellServers(settings, db);
        return 0;
      },
      1,
    );
  },
};
