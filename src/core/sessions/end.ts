// Ending sessions: one JWT session (logout, reuse, revoke), or every session of a user at once —
// opaque tokens and JWT sessions alike (password changes and resets, staff, deactivation, "log out
// everywhere"). Each is one transaction: a session is ended everywhere or nowhere.
import type { Deps, Principal } from "../deps.ts";
import { sharedRekey } from "./opaque.ts";

export type EndReason =
  | "logout"
  | "reuse"
  | "password_change"
  | "password_reset"
  | "logout_all"
  | "revoked"
  | "deactivated"
  | "ended_all";

type SessionWhere = { id?: string | { not: string }; userId?: number };

/** The statements that end the JWT sessions matching `where` and blacklist their refresh tokens. */
function endJwt(deps: Deps, where: SessionWhere, reason: EndReason, at: Date) {
  const live = { ...where, revokedAt: null };
  return [
    deps.prisma.jwtSession.updateMany({ where: live, data: { revokedAt: at, revokedReason: reason } }),
    deps.prisma.jwtRefreshToken.updateMany({
      where: { session: live, blacklistedAt: null },
      data: { blacklistedAt: at },
    }),
  ] as const;
}

/** Ends one JWT session of `userId` (`mustOwn`: only if it is theirs); the number it ended, 0 or 1. */
export async function endJwtSession(
  deps: Deps,
  id: string,
  reason: EndReason,
  userId: number,
  mustOwn = false,
): Promise<number> {
  const [sessions] = await deps.prisma.$transaction([
    ...endJwt(deps, { id, ...(mustOwn ? { userId } : {}) }, reason, new Date()),
  ]);
  await deps.authCache.forgetUser(userId);
  return sessions.count;
}

/**
 * Ends every session of a user except, when given, the one the request came in with; with
 * `opaque: false` only the JWT sessions. JWTs without a session of ours (SimpleJWT's) die by
 * jwtNotBefore. A kept shared key cannot stay (every device holds it): the caller gets a new one,
 * `key`, which token/login hands out from then on. Returns the number of JWT sessions ended.
 */
export async function endSessions(
  deps: Deps,
  userId: number,
  reason: EndReason,
  opts: { keep?: Principal; opaque?: boolean } = {},
): Promise<{ sessions: number; key: string | null }> {
  const at = new Date();
  const { keep, opaque = true } = opts;
  const keepSid = keep?.via === "jwt" && typeof keep.claims.sid === "string" ? keep.claims.sid : undefined;
  let keepToken = keep?.via === "token" ? keep.tokenId : undefined;
  const kept =
    keepToken !== undefined && opaque
      ? await deps.prisma.authToken.findUnique({
          where: { id: keepToken },
          select: { shared: true, userAgent: true, ip: true },
        })
      : null;
  // In shared mode a key imported from DRF (shared: false) is Djoser's one key per user all the same.
  const isShared = (k: { shared: boolean }) => k.shared || deps.settings.DJOSER.TOKEN_MODE === "shared";
  const rekey = kept && isShared(kept) ? sharedRekey(deps, userId, { userAgent: kept.userAgent, ip: kept.ip }) : null;
  if (rekey || (opaque && !kept)) keepToken = undefined; // a kept key already gone keeps nothing
  const [sessions] = await deps.prisma.$transaction([
    ...endJwt(deps, { userId, ...(keepSid ? { id: { not: keepSid } } : {}) }, reason, at),
    deps.prisma.user.updateMany({
      where: { id: userId },
      data: { jwtNotBefore: at, ...(opaque && !keepToken ? { tokenSeed: null } : {}) },
    }),
    // The shared key's seed goes too (above) unless the caller's own per-device key is kept.
    ...(opaque && !rekey
      ? [deps.prisma.authToken.deleteMany({ where: { userId, ...(keepToken ? { id: { not: keepToken } } : {}) } })]
      : []),
    ...(rekey ? rekey.statements : []),
  ]);
  await deps.authCache.forgetUser(userId);
  return { sessions: sessions.count, key: rekey?.key ?? null };
}

/**
 * Ends every opaque token and every JWT session of every user (`portcullis endallsessions`: after
 * SECRET_KEY changed or leaked, keys derived from the old one would otherwise keep working).
 * Returns what it ended. Servers' caches hold an entry for at most AUTH_CACHE_SECONDS more.
 */
export async function endEverySession(deps: Pick<Deps, "prisma">): Promise<{ tokens: number; sessions: number }> {
  const at = new Date();
  const [tokens, sessions] = await deps.prisma.$transaction([
    deps.prisma.authToken.deleteMany({}),
    deps.prisma.jwtSession.updateMany({
      where: { revokedAt: null },
      data: { revokedAt: at, revokedReason: "ended_all" },
    }),
    deps.prisma.jwtRefreshToken.updateMany({ where: { blacklistedAt: null }, data: { blacklistedAt: at } }),
    deps.prisma.user.updateMany({ data: { tokenSeed: null, jwtNotBefore: at } }),
  ]);
  return { tokens: tokens.count, sessions: sessions.count };
}
