// The credentials that come with the users of a batch: DRF authtoken keys (per-device rows, hashed
// as every Portcullis key is, never the shared seed) and SimpleJWT's blacklisted refresh tokens,
// which must stay dead here.
import { createHash } from "node:crypto";
import { hashKey } from "../core/sessions/opaque.ts";
import type { Prisma } from "../db/index.ts";
import type { Prisma as P } from "../generated/prisma/client.ts";
import type { DjangoBlacklisted, DjangoToken } from "./records.ts";
import type { Part } from "./report.ts";

export type Db = Prisma | P.TransactionClient;
/** Where a batch's credentials are written, and whether (a dry run counts only). */
export type Target = { db: Db; part: Part; write: boolean; emptyTarget: boolean };
/** What the users' part of a batch decided, for the credentials that follow them. */
export type BatchUsers = {
  /** "user 4 (bob)", for the report. */
  who: Map<number, string>;
  /** The same person here (imported, updated or unchanged): their blacklisted jtis come too. */
  same: Set<number>;
  /** Imported or updated now: their keys come too. */
  fresh: Set<number>;
};

/**
 * SimpleJWT's blacklisted jtis of a user are kept as refresh-token rows of one session that is
 * already ended: jwt_refresh_token rows need a session, and an ended one makes jwt/refresh and
 * jwt/verify answer "Token is blacklisted" (jwt-sessions.ts) without touching the user's other
 * sessions. Its id is derived from the user id, so a re-run finds it instead of adding another.
 */
export const IMPORTED_BLACKLIST = "django_blacklist";
export const blacklistSessionId = (userId: number) =>
  createHash("sha256").update(`portcullis.django-import:${userId}`).digest("hex").slice(0, 32);

/**
 * A key is created only with its user (imported or updated now): one missing for an earlier-imported
 * user was revoked here.
 */
export async function importKeys(target: Target, tokens: DjangoToken[], users: BatchUsers): Promise<void> {
  const { db, part, write, emptyTarget } = target;
  const keys = tokens.map((t) => ({ ...t, keyHash: hashKey(t.key) }));
  const heldKeys = emptyTarget
    ? []
    : await db.authToken.findMany({
        where: { keyHash: { in: keys.map((k) => k.keyHash) } },
        select: { keyHash: true, userId: true },
      });
  const keyOwner = new Map(heldKeys.map((k) => [k.keyHash, k.userId]));
  const newKeys = keys.filter((k) => {
    const skip = (reason: string) => {
      part.tokens.skipped++;
      part.skipped.push(`authtoken key of ${users.who.get(k.userId)}: ${reason}`);
      return false;
    };
    const owner = keyOwner.get(k.keyHash);
    if (!users.same.has(k.userId)) return skip("the user was not imported");
    if (owner !== undefined && owner !== k.userId)
      return skip(`conflict: the same key belongs to user ${owner} in Portcullis`);
    if (owner !== undefined) {
      part.tokens.unchanged++;
      return false;
    }
    if (!users.fresh.has(k.userId))
      return skip(
        "not re-created: its user was already here before this run, " +
          "so a missing key was revoked here (logout) or never imported",
      );
    part.tokens.imported++;
    return true;
  });
  if (write && newKeys.length)
    await db.authToken.createMany({
      data: newKeys.map((k) => ({ keyHash: k.keyHash, userId: k.userId, shared: false, created: new Date(k.created) })),
    });
}

/** Blacklisted jtis of every user that is the same person here: adding dead tokens is always safe. */
export async function importBlacklist(target: Target, blacklisted: DjangoBlacklisted[], users: BatchUsers) {
  const { db, part, write, emptyTarget } = target;
  const jtis = blacklisted.filter((b) => {
    if (users.same.has(b.userId)) return true;
    part.blacklisted.skipped++;
    part.skipped.push(`blacklisted refresh token of ${users.who.get(b.userId)}: the user was not imported`);
    return false;
  });
  const known = emptyTarget
    ? []
    : await db.jwtRefreshToken.findMany({
        where: { jti: { in: jtis.map((b) => b.jti) } },
        select: { jti: true, blacklistedAt: true },
      });
  const state = new Map(known.map((k) => [k.jti, k.blacklistedAt]));
  // Recorded here but alive: blacklist it.
  const revive = jtis.filter((b) => state.has(b.jti) && state.get(b.jti) === null);
  const added = jtis.filter((b) => !state.has(b.jti));
  part.blacklisted.unchanged += jtis.length - revive.length - added.length;
  part.blacklisted.updated += revive.length;
  part.blacklisted.imported += added.length;
  if (write && revive.length)
    await db.jwtRefreshToken.updateMany({
      where: { jti: { in: revive.map((b) => b.jti) }, blacklistedAt: null },
      data: { blacklistedAt: new Date() },
    });
  if (write && added.length) {
    const now = new Date();
    const owners = [...new Set(added.map((b) => b.userId))];
    await db.jwtSession.createMany({
      data: owners.map((userId) => ({
        id: blacklistSessionId(userId),
        userId,
        created: now,
        revokedAt: now,
        revokedReason: IMPORTED_BLACKLIST,
      })),
      skipDuplicates: true,
    });
    await db.jwtRefreshToken.createMany({
      data: added.map((b) => ({
        jti: b.jti,
        sessionId: blacklistSessionId(b.userId),
        created: b.created ? new Date(b.created) : now,
        expiresAt: new Date(b.expiresAt),
        blacklistedAt: new Date(b.blacklistedAt),
      })),
    });
  }
}
