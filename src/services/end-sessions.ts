// Ending every session of a user at once: opaque tokens and JWT sessions alike. Used by password
// changes and resets, by staff, by deactivation and by "log out everywhere".
import type { Deps, Principal } from "./deps.ts";

export type EndReason = "password_change" | "password_reset" | "logout_all" | "revoked" | "deactivated";

/**
 * Ends every session of a user — opaque tokens and JWT sessions — except, when given, the one the
 * request came in with. Tokens without a session of ours (SimpleJWT's) die by jwtNotBefore.
 * One transaction: a session is either ended everywhere or nowhere.
 */
export async function endSessions(deps: Deps, userId: number, reason: EndReason, keep?: Principal): Promise<void> {
  const at = new Date();
  const keepToken = keep?.via === "token" ? keep.tokenId : undefined;
  const keepSid = keep?.via === "jwt" && typeof keep.claims.sid === "string" ? keep.claims.sid : undefined;
  const sessions = { userId, revokedAt: null, ...(keepSid ? { id: { not: keepSid } } : {}) };
  await deps.prisma.$transaction([
    deps.prisma.authToken.deleteMany({ where: { userId, ...(keepToken ? { id: { not: keepToken } } : {}) } }),
    deps.prisma.jwtRefreshToken.updateMany({ where: { session: sessions, blacklistedAt: null }, data: { blacklistedAt: at } }),
    deps.prisma.jwtSession.updateMany({ where: sessions, data: { revokedAt: at, revokedReason: reason } }),
    // The shared key's seed goes unless the caller's own (shared) key is kept.
    deps.prisma.user.updateMany({ where: { id: userId }, data: { jwtNotBefore: at, ...(keepToken ? {} : { tokenSeed: null }) } }),
  ]);
}
