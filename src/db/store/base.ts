// What every store module shares: the client, the cache it keeps honest, the columns' limits and
// the one way a unique violation is recognised.
import type { PrismaClient } from "../../generated/prisma/client.ts";

/** The credential → user cache (core/sessions/auth-cache.ts), as far as the store needs it. */
export type Forgetter = { forgetUser(userId: number): Promise<void> };

export type Db = {
  prisma: PrismaClient;
  /**
   * Drops the user's cached principals here and on every instance, awaited before the request is
   * answered. The store calls it after each write that changes what an authenticated caller is.
   */
  forget(userId: number): Promise<void>;
};

/** Column widths of prisma/schema.prisma that take text a client chose (cut, never refused). */
export const LIMITS = { userAgent: 512, ip: 45, login: 254, mailError: 500 } as const;

/** Where a request came from, as a session or audit row holds it (and, for a session, its factors). */
export type Origin = { userAgent: string; ip: string; factors?: readonly string[]; provider?: string | null };

/** `from` cut to the columns (a long User-Agent is not a reason to refuse a login). */
export const origin = (from: Origin): Origin => ({
  userAgent: from.userAgent.slice(0, LIMITS.userAgent),
  ip: from.ip.slice(0, LIMITS.ip),
});

/** A new session's row: where it came from, the factors it was signed in with and the social provider (if any). */
export const sessionOrigin = (from: Origin) => ({
  ...origin(from),
  amr: (from.factors?.length ? from.factors : ["pwd"]).join(" ").slice(0, 64),
  provider: from.provider ?? null,
});

/** Prisma's unique-constraint violation (P2002): the database decided a race the checks could not. */
export const isUniqueViolation = (e: unknown) => (e as { code?: string }).code === "P2002";
