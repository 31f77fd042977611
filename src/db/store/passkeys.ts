// passkey and webauthn_challenge: a user's WebAuthn credentials, and the ceremonies under way.
// A challenge is taken once (a conditional delete: of two requests with it, one gets it).
import type { Db } from "./base.ts";
import type { NewPasskey } from "./users.ts";

export type { NewPasskey };
export type Challenge = { challenge: string; purpose: string; userId: number | null; data: unknown };

export function passkeysStore({ prisma, forget }: Db) {
  return {
    /** Records a ceremony's challenge under `keyHash` (a new one replaces the old). */
    async saveChallenge(keyHash: string, row: Challenge & { expiresAt: Date }) {
      const data = { ...row, data: row.data ?? undefined };
      await prisma.webauthnChallenge.upsert({ where: { keyHash }, create: { keyHash, ...data }, update: data });
    },
    /** The challenge under `keyHash` for `purpose`, spent; null when unknown, spent or expired. */
    async takeChallenge(keyHash: string, purpose: string): Promise<Challenge | null> {
      const row = await prisma.webauthnChallenge.findUnique({ where: { keyHash } });
      if (!row || row.purpose !== purpose) return null;
      const where = { keyHash, challenge: row.challenge, expiresAt: { gt: new Date() } };
      const { count } = await prisma.webauthnChallenge.deleteMany({ where });
      if (!count) return null;
      return { challenge: row.challenge, purpose: row.purpose, userId: row.userId, data: row.data };
    },
    flushChallenges: async () =>
      (await prisma.webauthnChallenge.deleteMany({ where: { expiresAt: { lte: new Date() } } })).count,

    listOf: (userId: number) => prisma.passkey.findMany({ where: { userId }, orderBy: { id: "asc" } }),
    byCredentialId: (credentialId: string) =>
      prisma.passkey.findUnique({ where: { credentialId }, include: { user: true }, relationLoadStrategy: "join" }),
    byHandle: (webauthnHandle: string) => prisma.user.findUnique({ where: { webauthnHandle } }),
    /** The user's WebAuthn handle, `candidate` if they had none (concurrent first passkeys agree). */
    async handle(userId: number, candidate: string): Promise<string> {
      await prisma.user.updateMany({
        where: { id: userId, webauthnHandle: null },
        data: { webauthnHandle: candidate },
      });
      const row = await prisma.user.findUniqueOrThrow({ where: { id: userId }, select: { webauthnHandle: true } });
      return row.webauthnHandle!;
    },
    /** A passkey added; false when its credential id is registered already (to anyone). */
    async add(userId: number, passkey: NewPasskey): Promise<number | null> {
      const rows = await prisma.passkey.createManyAndReturn({
        data: [{ userId, ...passkey }],
        skipDuplicates: true,
        select: { id: true },
      });
      return rows[0]?.id ?? null;
    },
    /** A successful assertion: the authenticator's counter and backup state, and when. */
    async used(id: number, counter: number, deviceType: string, backedUp: boolean) {
      await prisma.passkey.update({
        where: { id },
        data: { counter: BigInt(counter), deviceType, backedUp, lastUsedAt: new Date() },
      });
    },
    async rename(userId: number, id: number, name: string): Promise<boolean> {
      return (await prisma.passkey.updateMany({ where: { id, userId }, data: { name } })).count === 1;
    },
    /**
     * Removes one of the user's passkeys. The last one gone turns the "webauthn" second factor off
     * too (it has nothing left to check), in the same transaction. Null: no such passkey of theirs.
     */
    async remove(userId: number, id: number): Promise<{ left: number } | null> {
      const [removed, left] = await prisma.$transaction([
        prisma.passkey.deleteMany({ where: { id, userId } }),
        prisma.passkey.count({ where: { userId } }),
      ]);
      if (!removed.count) return null;
      if (!left)
        await prisma.mfaMethod.updateMany({
          where: { userId, name: "webauthn", isActive: true },
          data: { isActive: false, isPrimary: false },
        });
      await forget(userId);
      return { left };
    },
  };
}
