// Every session of a user at once, opaque tokens and JWT sessions alike (password changes and
// resets, staff, deactivation, "log out everywhere"), and of every user (endallsessions). Each is
// one transaction: a session is ended everywhere or nowhere.
import type { Db } from "./base.ts";
import { type EndReason, endJwt } from "./jwt-sessions.ts";
import { endTokens, type Rekey } from "./tokens.ts";

/** One session: an opaque token's row, or a JWT session. */
export type SessionRef = { tokenId: number } | { sid: string };

export function sessionsStore({ prisma, forget }: Db) {
  return {
    /** When the session was last signed in or re-authenticated, and with which factors (amr). */
    signedIn(ref: SessionRef): Promise<{ authAt: Date; amr: string } | null> {
      const select = { authAt: true, amr: true } as const;
      return "tokenId" in ref
        ? prisma.authToken.findUnique({ where: { id: ref.tokenId }, select })
        : prisma.jwtSession.findFirst({ where: { id: ref.sid, revokedAt: null }, select });
    },
    /** A re-authentication: the session proved `amr` just now. False when the session is gone. */
    async reauthenticated(ref: SessionRef, amr: string): Promise<boolean> {
      const data = { amr: amr.slice(0, 64), authAt: new Date() };
      const { count } =
        "tokenId" in ref
          ? await prisma.authToken.updateMany({ where: { id: ref.tokenId }, data })
          : await prisma.jwtSession.updateMany({ where: { id: ref.sid, revokedAt: null }, data });
      return count > 0;
    },
    /**
     * Ends the user's JWT sessions but `keepSid` and, with `opaque`, their opaque tokens but
     * `keepToken` (or all, `rekey` taking their place). jwtNotBefore moves to now: JWTs without a
     * session of ours (SimpleJWT's) die by it. The number of JWT sessions ended.
     */
    async endAllOf(
      userId: number,
      reason: EndReason,
      opts: { keepSid?: string; keepToken?: number; rekey?: Rekey | null; opaque: boolean },
    ): Promise<number> {
      const at = new Date();
      const user = { jwtNotBefore: at };
      const jwt = endJwt(prisma, { userId, ...(opts.keepSid ? { id: { not: opts.keepSid } } : {}) }, reason, at);
      const rest = opts.opaque
        ? endTokens(prisma, userId, { keep: opts.keepToken, rekey: opts.rekey, user })
        : [prisma.user.updateMany({ where: { id: userId }, data: user })];
      const [sessions] = await prisma.$transaction([...jwt, ...rest]);
      await forget(userId);
      return sessions.count;
    },
    /**
     * Every opaque token and every JWT session of every user. Servers' caches are not told (this
     * runs from the CLI): they hold an entry for at most AUTH_CACHE_SECONDS more.
     */
    async endEverything(): Promise<{ tokens: number; sessions: number }> {
      const at = new Date();
      const [tokens, sessions] = await prisma.$transaction([
        prisma.authToken.deleteMany({}),
        prisma.jwtSession.updateMany({
          where: { revokedAt: null },
          data: { revokedAt: at, revokedReason: "ended_all" },
        }),
        prisma.jwtRefreshToken.updateMany({ where: { blacklistedAt: null }, data: { blacklistedAt: at } }),
        prisma.user.updateMany({ data: { tokenSeed: null, jwtNotBefore: at } }),
      ]);
      return { tokens: tokens.count, sessions: sessions.count };
    },
  };
}
