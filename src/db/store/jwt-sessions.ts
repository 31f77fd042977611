// jwt_session and jwt_refresh_token: a JWT login and the refresh tokens descended from it. Ending
// a session blacklists its refresh tokens in the same transaction and forgets the user's cached
// principals (its access tokens are checked against the session through them).
import type { Prisma } from "../../generated/prisma/client.ts";
import { type Db, isUniqueViolation, type Origin, sessionOrigin } from "./base.ts";

type Client = Prisma.TransactionClient;
/** Set on a session when it ends (also jwt_session.revoked_reason). */
export type EndReason =
  | "logout"
  | "reuse"
  | "password_change"
  | "password_reset"
  | "logout_all"
  | "revoked"
  | "deactivated"
  | "ended_all";
export type SessionWhere = { id?: string | { not: string }; userId?: number };
/** A refresh token's row: its jti and expiry. */
export type RefreshRow = { jti: string; expiresAt: Date };

/** The statements that end the live JWT sessions matching `where` and blacklist their refresh tokens. */
export function endJwt(client: Client, where: SessionWhere, reason: EndReason, at: Date) {
  const live = { ...where, revokedAt: null };
  return [
    client.jwtSession.updateMany({ where: live, data: { revokedAt: at, revokedReason: reason } }),
    client.jwtRefreshToken.updateMany({ where: { session: live, blacklistedAt: null }, data: { blacklistedAt: at } }),
  ] as const;
}

export function jwtSessionsStore({ prisma, forget }: Db) {
  /** A new session with its first refresh token. */
  const start = async (id: string, userId: number, from: Origin, refresh: RefreshRow) => {
    await prisma.jwtSession.create({
      data: { id, userId, ...sessionOrigin(from), refreshTokens: { create: refresh } },
    });
  };
  return {
    start,
    /**
     * A refresh token we never saw, recorded as a new session `id`. Of two concurrent first uses
     * the jti's primary key keeps one row; both then read the same session.
     */
    async adopt(id: string, userId: number, from: Origin, refresh: RefreshRow): Promise<{ sessionId: string }> {
      try {
        await start(id, userId, from, refresh);
        return { sessionId: id };
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
        return prisma.jwtRefreshToken.findUniqueOrThrow({ where: { jti: refresh.jti }, select: { sessionId: true } });
      }
    },
    /** One statement: the user and, when `sid` names one, that session of theirs (to see whether it ended). */
    userWithSession: (userId: number, sid: string | null) =>
      prisma.user.findUnique({
        where: { id: userId },
        include: { jwtSessions: { where: { id: sid ?? "" }, select: { revokedAt: true } } },
        relationLoadStrategy: "join",
      }),
    /** The refresh token's row and its session. */
    refreshToken: (jti: string) => prisma.jwtRefreshToken.findUnique({ where: { jti }, include: { session: true } }),
    rotatedAt: async (jti: string) =>
      (await prisma.jwtRefreshToken.findUnique({ where: { jti }, select: { rotatedAt: true } }))?.rotatedAt ?? null,
    /** The session's newest refresh token that is still good, if the session lives. */
    current: (sessionId: string, now: Date) =>
      prisma.jwtRefreshToken.findFirst({
        where: {
          sessionId,
          rotatedAt: null,
          blacklistedAt: null,
          expiresAt: { gt: now },
          session: { revokedAt: null },
        },
        orderBy: { created: "desc" },
      }),
    /** jwt/verify's two lookups at once: the token's row, and the user's not-before and session. */
    verifyState: (jti: string, userId: number | null | undefined, sid: string | null) =>
      Promise.all([
        prisma.jwtRefreshToken.findUnique({ where: { jti }, include: { session: true } }),
        userId
          ? prisma.user.findUnique({
              where: { id: userId },
              select: { jwtNotBefore: true, jwtSessions: { where: { id: sid ?? "" }, select: { revokedAt: true } } },
            })
          : null,
      ]),
    /** A user's sessions that live: not ended, with a refresh token neither expired nor blacklisted. */
    live: (userId: number) =>
      prisma.jwtSession.findMany({
        where: {
          userId,
          revokedAt: null,
          refreshTokens: { some: { expiresAt: { gt: new Date() }, blacklistedAt: null } },
        },
      }),
    async touch(sessionId: string, at: Date) {
      await prisma.jwtSession.updateMany({ where: { id: sessionId }, data: { lastUsedAt: at } });
    },
    /**
     * Rotates refresh token `jti` into `next`, unless a concurrent refresh did first (false): the
     * row's state decides (PostgreSQL re-checks the condition after the row lock the first update took).
     */
    async rotate(
      jti: string,
      sessionId: string,
      next: RefreshRow,
      opts: { reuseDetection: boolean; blacklist: boolean; at: Date },
    ): Promise<boolean> {
      const { at } = opts;
      return prisma.$transaction(async (tx) => {
        const fresh = opts.reuseDetection ? { rotatedAt: null, blacklistedAt: null } : { blacklistedAt: null };
        const retired = { rotatedAt: at, ...(opts.blacklist ? { blacklistedAt: at } : {}) };
        const { count } = await tx.jwtRefreshToken.updateMany({ where: { jti, ...fresh }, data: retired });
        if (!count) return false;
        await tx.jwtRefreshToken.create({ data: { ...next, sessionId } });
        await tx.jwtSession.updateMany({ where: { id: sessionId }, data: { lastUsedAt: at } });
        return true;
      });
    },
    /** Ends session `id` of `userId` (`mustOwn`: only if it is theirs); the number ended, 0 or 1. */
    async end(id: string, reason: EndReason, userId: number, mustOwn = false): Promise<number> {
      const where = { id, ...(mustOwn ? { userId } : {}) };
      const [sessions] = await prisma.$transaction([...endJwt(prisma, where, reason, new Date())]);
      await forget(userId);
      return sessions.count;
    },
    /**
     * Refresh tokens past expiry (SimpleJWT's flushexpiredtokens), and sessions none of whose tokens
     * can still be presented.
     */
    async flushExpired(leeway: number, accessLifetime: number) {
      // A token expired for less than LEEWAY still verifies, and a refresh token whose row is gone
      // would be taken for one SimpleJWT issued before the move: keep its row until then.
      const refreshTokens = await prisma.$executeRaw`
        DELETE FROM jwt_refresh_token WHERE expires_at < now() - make_interval(secs => ${leeway}::int)`;
      // Access tokens are minted at login and at each refresh (both stamp last_used_at or created):
      // once the last could have expired and no refresh token is left, the session is dead either way.
      const sessions = await prisma.$executeRaw`
        DELETE FROM jwt_session s
        WHERE coalesce(s.last_used_at, s.created) < now() - make_interval(secs => ${accessLifetime + leeway}::int)
          AND NOT EXISTS (SELECT 1 FROM jwt_refresh_token t WHERE t.session_id = s.id)`;
      return { refreshTokens, sessions };
    },
  };
}
