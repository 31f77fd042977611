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
  };
}
