// mfa_method, mfa_backup_code and mfa_login: a user's second factors, their backup codes, and the
// logins waiting for a second factor. Every "use once" is a conditional write: of two requests
// spending the same code, token or time step, the database lets one through.
import type { Db } from "./base.ts";

/** A login waiting for its second factor (the ephemeral token's row). */
export type PendingLogin = { userId: number; factor: string; credential: string; failures: number; expiresAt: Date };

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
    /** The user's methods, active or being enrolled, the primary first. */
    methods: (userId: number) =>
      prisma.mfaMethod.findMany({ where: { userId }, orderBy: [{ isPrimary: "desc" }, { id: "asc" }] }),
    method: (userId: number, name: string) => prisma.mfaMethod.findUnique({ where: { userId_name: { userId, name } } }),
    /** An enrolment starts (or starts again, with a new secret, while not yet active). Null: it is active. */
    async enrol(userId: number, name: string, secret: string) {
      const reset = { secret, lastStep: null, codeHash: null, codeExpiresAt: null };
      await prisma.mfaMethod.createMany({ data: [{ userId, name, ...reset }], skipDuplicates: true });
      const { count } = await prisma.mfaMethod.updateMany({ where: { userId, name, isActive: false }, data: reset });
      return count ? prisma.mfaMethod.findUniqueOrThrow({ where: { userId_name: { userId, name } } }) : null;
    },
    /**
     * The enrolment confirmed: the method on (primary if the user has none), and `codeHashes` as
     * the user's backup codes, all in one transaction. False: it was confirmed meanwhile.
     */
    async activate(userId: number, name: string, codeHashes: string[]): Promise<boolean> {
      return prisma.$transaction(async (tx) => {
        const primary = await tx.mfaMethod.count({ where: { userId, isPrimary: true, isActive: true } });
        const { count } = await tx.mfaMethod.updateMany({
          where: { userId, name, isActive: false },
          data: { isActive: true, isPrimary: primary === 0 },
        });
        if (!count) return false;
        await tx.mfaBackupCode.deleteMany({ where: { userId } });
        await tx.mfaBackupCode.createMany({ data: codeHashes.map((codeHash) => ({ userId, codeHash })) });
        return true;
      });
    },
    /**
     * A method off (trench: is_active and is_primary false), its secret wiped: enrolling again starts
     * from a new one. The last one off takes the backup codes and pending logins with it.
     */
    async deactivate(userId: number, name: string): Promise<boolean> {
      return prisma.$transaction(async (tx) => {
        const { count } = await tx.mfaMethod.updateMany({
          where: { userId, name, isActive: true },
          data: { isActive: false, isPrimary: false, secret: "", lastStep: null, codeHash: null, codeExpiresAt: null },
        });
        if (!count) return false;
        if (!(await tx.mfaMethod.count({ where: { userId, isActive: true } }))) {
          await tx.mfaBackupCode.deleteMany({ where: { userId } });
          await tx.mfaLogin.deleteMany({ where: { userId } });
        }
        return true;
      });
    },
    /** `name` becomes the primary method; false when it is not active. */
    async setPrimary(userId: number, name: string): Promise<boolean> {
      return prisma.$transaction(async (tx) => {
        const active = await tx.mfaMethod.count({ where: { userId, name, isActive: true } });
        if (!active) return false;
        await tx.mfaMethod.updateMany({ where: { userId, isPrimary: true }, data: { isPrimary: false } });
        await tx.mfaMethod.updateMany({ where: { userId, name }, data: { isPrimary: true } });
        return true;
      });
    },
    /** A TOTP time step accepted once: false when this step (or a later one) was accepted already. */
    async spendStep(id: number, step: number): Promise<boolean> {
      const { count } = await prisma.mfaMethod.updateMany({
        where: { id, OR: [{ lastStep: null }, { lastStep: { lt: step } }] },
        data: { lastStep: step },
      });
      return count === 1;
    },
    /** A mailed code's HMAC and expiry, replacing the one before. */
    async setCode(id: number, codeHash: string, expiresAt: Date) {
      await prisma.mfaMethod.update({ where: { id }, data: { codeHash, codeExpiresAt: expiresAt } });
    },
    /** Spends the mailed code with this HMAC, if it is the current one and unexpired. */
    async spendCode(id: number, codeHash: string): Promise<boolean> {
      const { count } = await prisma.mfaMethod.updateMany({
        where: { id, codeHash, codeExpiresAt: { gt: new Date() } },
        data: { codeHash: null, codeExpiresAt: null },
      });
      return count === 1;
    },
    /** Spends one backup code (its HMAC); false when it is not one of the user's. */
    async spendBackupCode(userId: number, codeHash: string): Promise<boolean> {
      const { count } = await prisma.mfaBackupCode.deleteMany({ where: { userId, codeHash } });
      return count === 1;
    },
    backupCodesLeft: (userId: number) => prisma.mfaBackupCode.count({ where: { userId } }),
    /** New backup codes in place of every old one, in one transaction. */
    async replaceBackupCodes(userId: number, codeHashes: string[]) {
      await prisma.$transaction([
        prisma.mfaBackupCode.deleteMany({ where: { userId } }),
        prisma.mfaBackupCode.createMany({ data: codeHashes.map((codeHash) => ({ userId, codeHash })) }),
      ]);
    },

    /** A login waiting for its second factor. */
    async startLogin(tokenHash: string, row: Omit<PendingLogin, "failures">) {
      await prisma.mfaLogin.create({ data: { tokenHash, ...row } });
    },
    pendingLogin: (tokenHash: string) => prisma.mfaLogin.findUnique({ where: { tokenHash } }),
    /** A wrong code: counted; at `max` the login is dropped (its token then refused). The count now. */
    async failLogin(tokenHash: string, max: number): Promise<number> {
      const { count } = await prisma.mfaLogin.updateMany({
        where: { tokenHash },
        data: { failures: { increment: 1 } },
      });
      if (!count) return max;
      await prisma.mfaLogin.deleteMany({ where: { tokenHash, failures: { gte: max } } });
      const row = await prisma.mfaLogin.findUnique({ where: { tokenHash }, select: { failures: true } });
      return row?.failures ?? max;
    },
    /** The second step succeeded: the token is spent. False when a concurrent request spent it first. */
    async finishLogin(tokenHash: string): Promise<boolean> {
      const { count } = await prisma.mfaLogin.deleteMany({ where: { tokenHash, expiresAt: { gt: new Date() } } });
      return count === 1;
    },
    dropLogin: async (tokenHash: string) => void (await prisma.mfaLogin.deleteMany({ where: { tokenHash } })),
    /** Housekeeping: logins whose token expired. */
    flushLogins: async () => (await prisma.mfaLogin.deleteMany({ where: { expiresAt: { lte: new Date() } } })).count,

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
