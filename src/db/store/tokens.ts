// auth_token and the shared key's seed (auth_user.token_seed). The shared key is HMAC(a key
// derived from SECRET_KEY, seed), so the seed follows one rule, kept here: once every opaque token
// of a user ends, the seed goes with them (the next login makes a new one, hence a new key),
// unless a new seed and its key's row replace it in the same transaction. A seed left behind
// would let the next login derive the ended key again.
import type { Prisma } from "../../generated/prisma/client.ts";
import { type Db, isUniqueViolation, type Origin, sessionOrigin } from "./base.ts";

type Client = Prisma.TransactionClient;
/** A new shared key for a caller kept signed in: its seed, its hash and the device it goes to. */
export type Rekey = { seed: string; keyHash: string; from: Origin & { authAt?: Date } };

/** The seed rule's statement: `onlyIf`, only while the seed is still that one. */
const dropSeed = (client: Client, userId: number, onlyIf?: string) =>
  client.user.updateMany({
    where: { id: userId, ...(onlyIf ? { tokenSeed: onlyIf } : {}) },
    data: { tokenSeed: null },
  });

/**
 * The statements that end a user's opaque tokens, all or all but `keep` (a per-device key, which
 * keeps the seed), for one transaction. `user`: more columns for the same user-row update.
 */
export function endTokens(
  client: Client,
  userId: number,
  opts: { keep?: number; rekey?: Rekey | null; user?: { jwtNotBefore: Date } } = {},
) {
  const { keep, rekey } = opts;
  const seed = rekey ? { tokenSeed: rekey.seed } : keep === undefined ? { tokenSeed: null } : {};
  const data = { ...opts.user, ...seed };
  const row = rekey && {
    userId,
    keyHash: rekey.keyHash,
    shared: true,
    ...sessionOrigin(rekey.from),
    ...(rekey.from.authAt ? { authAt: rekey.from.authAt } : {}),
  };
  return [
    client.authToken.deleteMany({ where: { userId, ...(keep !== undefined ? { id: { not: keep } } : {}) } }),
    ...(Object.keys(data).length ? [client.user.updateMany({ where: { id: userId }, data })] : []),
    ...(row ? [client.authToken.createMany({ data: [row] })] : []),
  ] as const;
}

export function tokensStore({ prisma, forget }: Db) {
  /** An expired shared key ends: its seed first (so no login derives it again), then its row. */
  const endShared = (userId: number, seed: string, keyHash: string) =>
    prisma.$transaction([dropSeed(prisma, userId, seed), prisma.authToken.deleteMany({ where: { keyHash } })]);
  return {
    /** Key hash → token and user, in one statement ("join": one round trip, not two). */
    lookup: (keyHash: string) =>
      prisma.authToken.findUnique({ where: { keyHash }, include: { user: true }, relationLoadStrategy: "join" }),
    listOf: (userId: number) => prisma.authToken.findMany({ where: { userId } }),
    /** What ending every other session needs to know of the caller's own key. */
    kept: (id: number) =>
      prisma.authToken.findUnique({
        where: { id },
        select: { shared: true, userAgent: true, ip: true, amr: true, authAt: true, provider: true },
      }),
    times: (keyHash: string) =>
      prisma.authToken.findUnique({ where: { keyHash }, select: { created: true, lastUsedAt: true } }),
    /** "Last used", for session lists and TOKEN_IDLE_TTL; the caller decides how often. */
    touch: (id: number) => prisma.authToken.update({ where: { id }, data: { lastUsedAt: new Date() } }),

    /** A per-device key's row. */
    async add(userId: number, keyHash: string, from: Origin) {
      await prisma.authToken.create({ data: { userId, keyHash, ...sessionOrigin(from) } });
    },
    /**
     * The shared key's row; a concurrent login may have written it already. An earlier login's row
     * takes this login's factors and time: every device shares the key, and this one just signed in.
     */
    async addShared(userId: number, keyHash: string, from: Origin) {
      const row = sessionOrigin(from);
      const signedIn = { amr: row.amr, authAt: new Date(), provider: row.provider };
      const upsert = () =>
        prisma.authToken.upsert({
          where: { keyHash },
          create: { userId, keyHash, shared: true, ...row },
          update: signedIn,
        });
      // Two first logins at once: one creates the row, the other finds it there and updates it.
      await upsert().catch((e: unknown) => (isUniqueViolation(e) ? upsert() : Promise.reject(e)));
    },
    /**
     * The seed in force, `candidate` if there was none: two concurrent logins must get the same
     * key, so only the first sets it and both read it back. Null: the user is gone.
     */
    async seed(userId: number, candidate: string): Promise<string | null> {
      await prisma.user.updateMany({ where: { id: userId, tokenSeed: null }, data: { tokenSeed: candidate } });
      const row = await prisma.user.findUnique({ where: { id: userId }, select: { tokenSeed: true } });
      return row?.tokenSeed ?? null;
    },
    seedIs: async (userId: number, seed: string) =>
      (await prisma.user.count({ where: { id: userId, tokenSeed: seed } })) > 0,
    async dropKey(keyHash: string) {
      await prisma.authToken.deleteMany({ where: { keyHash } });
    },
    endShared,
    /** An expired key goes now; a shared one takes its seed along. */
    async expire(token: { id: number; userId: number; keyHash: string; shared: boolean }, seed: string | null) {
      if (token.shared && seed) await endShared(token.userId, seed, token.keyHash);
      else await prisma.authToken.deleteMany({ where: { id: token.id } });
    },

    /** TOKEN_LIMIT_PER_USER: the oldest keys beyond `limit` end. */
    async keepNewest(userId: number, limit: number) {
      const newestFirst = [{ created: "desc" as const }, { id: "desc" as const }];
      const extra = await prisma.authToken.findMany({
        where: { userId },
        orderBy: newestFirst,
        skip: limit,
        select: { id: true },
      });
      if (!extra.length) return;
      await prisma.authToken.deleteMany({ where: { id: { in: extra.map((t) => t.id) } } });
      await forget(userId);
    },
    /**
     * Spends the presented key, and with `everyToken` every other of the user. False: it was gone
     * already. Of concurrent logouts with one key only the one whose delete removes its row goes
     * on (PostgreSQL re-checks the row once the first delete commits).
     */
    async logout(tokenId: number, userId: number, everyToken: boolean): Promise<boolean> {
      const spent = await prisma.$transaction(async (tx) => {
        const { count } = await tx.authToken.deleteMany({ where: { id: tokenId } });
        if (!count) return false;
        if (!everyToken) return true;
        await tx.authToken.deleteMany({ where: { userId } });
        await dropSeed(tx, userId);
        return true;
      });
      if (spent) await forget(userId);
      return spent;
    },
    /** One key of the user, by id (0: no such key of theirs); a shared key's seed goes too. */
    async revoke(userId: number, id: number): Promise<number> {
      const token = await prisma.authToken.findFirst({ where: { id, userId }, select: { id: true, shared: true } });
      if (!token) return 0;
      const [deleted] = await prisma.$transaction([
        prisma.authToken.deleteMany({ where: { id: token.id } }),
        ...(token.shared ? [dropSeed(prisma, userId)] : []),
      ]);
      await forget(userId);
      return deleted.count;
    },
    /** Every opaque token of the user ("log out everywhere"); the number ended. */
    async endAll(userId: number): Promise<number> {
      const [deleted] = await prisma.$transaction([...endTokens(prisma, userId)]);
      await forget(userId);
      return deleted.count;
    },
    /** Keys past TOKEN_TTL or TOKEN_IDLE_TTL (seconds; null: no such bound), shared keys' seeds with them. */
    async flushExpired(ttl: number | null, idle: number | null): Promise<number> {
      if (ttl === null && idle === null) return 0;
      const [row] = await prisma.$queryRaw<{ n: number }[]>`
        WITH gone AS (
          DELETE FROM auth_token
          WHERE (${ttl}::int IS NOT NULL AND created < now() - make_interval(secs => ${ttl}::int))
             OR (${idle}::int IS NOT NULL
                 AND coalesce(last_used_at, created) < now() - make_interval(secs => ${idle}::int))
          RETURNING user_id, shared
        ), unseeded AS (
          UPDATE auth_user SET token_seed = NULL WHERE id IN (SELECT user_id FROM gone WHERE shared) RETURNING id
        )
        SELECT count(*)::int AS n FROM gone`;
      return row?.n ?? 0;
    },
  };
}
