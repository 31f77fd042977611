// Ending sessions: one JWT session (logout, reuse, revoke), or every session of a user at once —
// opaque tokens and JWT sessions alike (password changes and resets, staff, deactivation, "log out
// everywhere"). Each is one transaction: a session is ended everywhere or nowhere.
import type { Deps, Principal } from "./deps.ts";

export type EndReason = "logout" | "reuse" | "password_change" | "password_reset" | "logout_all" | "revoked" | "deactivated";

type SessionWhere = { id?: string | { not: string }; userId?: number };

/** The statements that end the JWT sessions matching `where` and blacklist their refresh tokens. */
function endJwt(deps: Deps, where: SessionWhere, reason: EndReason, at: Date) {
  const live = { ...where, revokedAt: null };
  return [
    deps.prisma.jwtSession.updateMany({ where: live, data: { revokedAt: at, revokedReason: reason } }),
    deps.prisma.jwtRefreshToken.updateMany({ where: { session: live, blacklistedAt: null }, data: { blacklistedAt: at } }),
  ] as const;
}

/** Ends one JWT session of `userId` (`mustOwn`: only if it is theirs); the number it ended, 0 or 1. */
export async function endJwtSession(deps: Deps, id: string, reason: EndReason, userId: number, mustOwn = false): Promise<number> {
  const [sessions] = await deps.prisma.$transaction([...endJwt(deps, { id, ...(mustOwn ? { userId } : {}) }, reason, new Date())]);
  await deps.authCache.forgetUser(userId);
  return sessions.count;
}

/**
 * Ends every session of a user except, when given, the one the request came in with; with
 * `opaque: false` only the JWT sessions. JWTs without a session of ours (SimpleJWT's) die by
 * jwtNotBefore. Returns the number of JWT sessions ended.
 */
export async function endSessions(deps: Deps, userId: number, reason: EndReason, opts: { keep?: Principal; opaque?: boolean } = {}): Promise<number> {
  const at = new Date();
  const { keep, opaque = true } = opts;
  const keepToken = keep?.via === "token" ? keep.tokenId : undefined;
  const keepSid = keep?.via === "jwt" && typeof keep.claims.sid === "string" ? keep.claims.sid : undefined;
  const [sessions] = await deps.prisma.$transaction([
    ...endJwt(deps, { userId, ...(keepSid ? { id: { not: keepSid } } : {}) }, reason, at),
    deps.prisma.user.updateMany({ where: { id: userId }, data: { jwtNotBefore: at, ...(opaque && !keepToken ? { tokenSeed: null } : {}) } }),
    // The shared key's seed goes too (above) unless the caller's own (shared) key is kept.
    ...(opaque ? [deps.prisma.authToken.deleteMany({ where: { userId, ...(keepToken ? { id: { not: keepToken } } : {}) } })] : []),
  ]);
  await deps.authCache.forgetUser(userId);
  return sessions.count;
}
