// mfa_method, mfa_backup_code and mfa_login: a user's second factors, their backup codes, and the
// logins waiting for a second factor.
import type { Db } from "./base.ts";

export function mfaStore({ prisma }: Db) {
  return {
    /** The names of the user's active methods, the primary first: empty when MFA is off. */
    activeNames: async (userId: number): Promise<string[]> =>
      (
        await prisma.mfaMethod.findMany({
          where: { userId, isActive: true },
          orderBy: [{ isPrimary: "desc" }, { id: "asc" }],
          select: { name: true },
        })
      ).map((m) => m.name),
    /**
     * Staff's reset: every method of the user, their backup codes and the logins waiting for a
     * code, in one transaction. The number of methods that were active.
     */
    async resetAll(userId: number): Promise<number> {
      const [active] = await prisma.$transaction([
        prisma.mfaMethod.count({ where: { userId, isActive: true } }),
        prisma.mfaMethod.deleteMany({ where: { userId } }),
        prisma.mfaBackupCode.deleteMany({ where: { userId } }),
        prisma.mfaLogin.deleteMany({ where: { userId } }),
      ]);
      return active;
    },
  };
}
