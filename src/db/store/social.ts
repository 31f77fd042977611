// social_identity and social_state: the provider accounts linked to users, and the sign-in states
// already completed (what makes a signed state single use on every instance).
import type { Db } from "./base.ts";
import { isUniqueViolation, LIMITS } from "./base.ts";

/** What a provider says of an account at one sign-in. */
export type ProviderAccount = { provider: string; uid: string; email: string; emailVerified: boolean };

const columns = (a: ProviderAccount) => ({
  provider: a.provider,
  uid: a.uid,
  email: a.email.slice(0, LIMITS.login),
  emailVerified: a.emailVerified,
});

export function socialStore({ prisma }: Db) {
  return {
    /** Marks a state completed; false when it was already (a replay). */
    async takeState(idHash: string, expiresAt: Date): Promise<boolean> {
      try {
        await prisma.socialState.create({ data: { idHash, expiresAt } });
        return true;
      } catch (e) {
        if (isUniqueViolation(e)) return false;
        throw e;
      }
    },
    flushStates: async () => (await prisma.socialState.deleteMany({ where: { expiresAt: { lte: new Date() } } })).count,

    /** The identity and its user, its email and last use brought up to date. */
    async signIn(account: ProviderAccount) {
      const where = { provider_uid: { provider: account.provider, uid: account.uid } };
      const found = await prisma.socialIdentity.findUnique({ where, select: { id: true } });
      if (!found) return null;
      return prisma.socialIdentity.update({
        where: { id: found.id },
        data: { ...columns(account), lastUsedAt: new Date() },
        include: { user: true },
      });
    },
    /** Links the account to the user; the owner's id when it is linked already (to them or another). */
    async link(userId: number, account: ProviderAccount): Promise<{ ownerId: number; id: number; created: boolean }> {
      const where = { provider_uid: { provider: account.provider, uid: account.uid } };
      try {
        const row = await prisma.socialIdentity.create({
          data: { userId, ...columns(account), lastUsedAt: new Date() },
        });
        return { ownerId: userId, id: row.id, created: true };
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
        const row = await prisma.socialIdentity.findUniqueOrThrow({ where });
        return { ownerId: row.userId, id: row.id, created: false };
      }
    },
    listOf: (userId: number) => prisma.socialIdentity.findMany({ where: { userId }, orderBy: { id: "asc" } }),
    /**
     * Removes one of the user's identities unless it is their last way to sign in (no usable
     * password, no passkey, no other identity): "last". Null: no such identity of theirs.
     */
    async unlink(userId: number, id: number): Promise<{ provider: string } | "last" | null> {
      return prisma.$transaction(async (tx) => {
        // Two unlinks at once must not both see the other's identity left.
        await tx.$executeRaw`SELECT 1 FROM auth_user WHERE id = ${userId} FOR UPDATE`;
        const row = await tx.socialIdentity.findFirst({ where: { id, userId } });
        if (!row) return null;
        const user = await tx.user.findUniqueOrThrow({
          where: { id: userId },
          select: { password: true, _count: { select: { passkeys: true, socialIdentities: true } } },
        });
        const others = user._count.passkeys + user._count.socialIdentities - 1;
        if (user.password.startsWith("!") && others === 0) return "last";
        await tx.socialIdentity.delete({ where: { id } });
        return { provider: row.provider };
      });
    },
  };
}
