// auth_user: accounts, their login names and the writes that change who a caller is. Every such
// write forgets the user's cached principals before it returns; a login name taken under a race
// comes back as "taken" (the unique index decides), for the flow to answer in its own words.
import type { Prisma, User } from "../../generated/prisma/client.ts";
import { type Db, isUniqueViolation } from "./base.ts";

/** The unique key a login name is stored under (core/identity.ts makes it). */
export type LoginKey = { username: string } | { emailKey: string };
/** The columns a login name is written to. */
export type LoginColumns = { username: string } | { email: string; emailKey: string };
/** How a login looks its user up: by a unique key, or (non-unique email) the oldest with that address. */
export type LoginLookup = LoginKey | { email: string };
/** A mail written in the same statement as the user row (mail_outbox). */
export type MailRow = { kind: string; data: Prisma.InputJsonValue };

/** A passkey's row as it is first written. */
export type NewPasskey = {
  credentialId: string;
  publicKey: Uint8Array<ArrayBuffer>;
  counter: bigint;
  transports: string;
  deviceType: string;
  backedUp: boolean;
  aaguid: string;
  name: string;
};

export type NewUser = {
  username: string | null;
  email: string;
  emailKey: string | null;
  password: string;
  isActive: boolean;
  activationPending?: boolean;
  isStaff?: boolean;
  isSuperuser?: boolean;
  /** A passkey sign-up: the WebAuthn user handle and the first passkey, in the same write. */
  webauthnHandle?: string;
  passkeys?: { create: NewPasskey };
  /** A social sign-up: the names the provider gave, and the identity, in the same write. */
  firstName?: string;
  lastName?: string;
  socialIdentities?: { create: { provider: string; uid: string; email: string; emailVerified: boolean } };
};

/** An email change as profile.ts decides it: the address at once, or a pending one to confirm. */
export type EmailChange =
  | { email: string; pendingEmail: null; isActive?: false; activationPending?: true }
  | { pendingEmail: string };

const withMails = (mails: MailRow[]) => (mails.length ? { mails: { create: mails } } : {});

/**
 * What using a mailed link does to last_login, and the condition that lets only one use through.
 * Django's token hashes last_login to the second, so the new value is at least the next whole
 * second after the old one (else the link would stay valid), and an update may only apply while
 * last_login is still before that second: of two concurrent uses, the second finds it moved.
 */
function linkUse(previous: Date | null) {
  const next = previous ? (Math.floor(previous.getTime() / 1000) + 1) * 1000 : 0;
  return { lastLogin: new Date(Math.max(Date.now(), next)), unused: previous ? { lt: new Date(next) } : null };
}

export function usersStore({ prisma, forget }: Db) {
  /** `result`, once the user's cached principals are forgotten. */
  const changed = async <T>(id: number, result: T) => {
    await forget(id);
    return result;
  };
  /** Whether a conditional write applied; if it did, the cache forgets the user first. */
  const applied = async (id: number, count: number) => count > 0 && (await changed(id, true));
  return {
    byId: (id: number) => prisma.user.findUnique({ where: { id } }),
    /** A user who must exist (else Prisma's not-found error). */
    get: (id: number) => prisma.user.findUniqueOrThrow({ where: { id } }),
    exists: async (id: number) => (await prisma.user.count({ where: { id } })) > 0,
    /** What deciding who may manage whom needs. */
    rank: (id: number) => prisma.user.findUnique({ where: { id }, select: { id: true, isSuperuser: true } }),
    /** Everyone, or only `onlyId`, oldest first. */
    list: (onlyId?: number) =>
      prisma.user.findMany({ where: onlyId === undefined ? {} : { id: onlyId }, orderBy: { id: "asc" } }),
    isTaken: async (key: LoginKey) => !!(await prisma.user.findUnique({ where: key, select: { id: true } })),
    byLogin: (lookup: LoginLookup) =>
      "email" in lookup
        ? prisma.user.findFirst({ where: lookup, orderBy: { id: "asc" } })
        : prisma.user.findUnique({ where: lookup }),
    /** Up to two accounts with this email, in any letter case (one means it names one account). */
    withEmail: (email: string) =>
      prisma.user.findMany({
        where: { email: { equals: email, mode: "insensitive" } },
        take: 2,
        orderBy: { id: "asc" },
      }),
    /** Accounts waiting for their activation link (not those staff deactivated). */
    awaitingActivation: (email: string) =>
      prisma.user.findMany({ where: { email, isActive: false, activationPending: true }, orderBy: { id: "asc" } }),
    /** Active accounts with this email and a usable password: those a reset mail goes to. */
    resettable: (email: string) =>
      prisma.user.findMany({
        where: { email, isActive: true, NOT: { password: { startsWith: "!" } } },
        orderBy: { id: "asc" },
      }),

    /** A new account and its mails, in one statement; "taken": the login name is another's. */
    async create(user: NewUser, mails: MailRow[] = []): Promise<User | "taken"> {
      try {
        return await prisma.user.create({ data: { ...user, ...withMails(mails) } });
      } catch (e) {
        if (isUniqueViolation(e)) return "taken";
        throw e;
      }
    },
    /** Django's update_last_login (or the link epoch): not a change of who the caller is. */
    async recordLogin(id: number, column: "lastLogin" | "linkEpoch", at: Date) {
      await prisma.user.update({ where: { id }, data: { [column]: at } });
    },

    /** The activation link's use: only while the account waits for it, so two uses activate once. */
    async activate(id: number): Promise<boolean> {
      const where = { id, isActive: false, activationPending: true };
      const { count } = await prisma.user.updateMany({ where, data: { isActive: true, activationPending: false } });
      return applied(id, count);
    },
    /** Staff's decision; `exceptSuperuser`: the write misses a target promoted meanwhile. */
    async setActive(id: number, active: boolean, exceptSuperuser: boolean): Promise<boolean> {
      const where = { id, ...(exceptSuperuser ? { isSuperuser: false } : {}) };
      const { count } = await prisma.user.updateMany({ where, data: { isActive: active, activationPending: false } });
      return applied(id, count);
    },
    async setPassword(id: number, password: string): Promise<void> {
      await prisma.user.update({ where: { id }, data: { password } });
      await forget(id); // cached principals carry the old hash
    },
    /**
     * A reset link's new password, once: the row must still be as the link saw it (same hash,
     * link unused), and last_login moves so the link works no more.
     */
    async resetPassword(link: User, password: string): Promise<boolean> {
      const use = linkUse(link.lastLogin);
      const { count } = await prisma.user.updateMany({
        where: { id: link.id, password: link.password, lastLogin: use.unused },
        data: { password, lastLogin: use.lastLogin },
      });
      return applied(link.id, count);
    },
    /**
     * A new login name, with `link` (a reset link) once only, as resetPassword. The user as it now
     * is; "taken" when the unique index refused the name, "stale" when the row moved on (or went).
     */
    async setLogin(id: number, login: LoginColumns, link?: User): Promise<User | "taken" | "stale"> {
      const use = link && linkUse(link.lastLogin);
      const where = link ? { id, password: link.password, lastLogin: use!.unused } : { id };
      try {
        const data = { ...login, ...(use ? { lastLogin: use.lastLogin } : {}) };
        if (!(await prisma.user.updateMany({ where, data })).count) return "stale";
      } catch (e) {
        if (isUniqueViolation(e)) return "taken";
        throw e;
      }
      await forget(id); // cached principals carry the old login name
      return prisma.user.findUniqueOrThrow({ where: { id } });
    },
    /** The pending address becomes the account's, if both are still what `user` shows. */
    async confirmEmail(user: User): Promise<boolean> {
      const email = user.pendingEmail!;
      const { count } = await prisma.user.updateMany({
        where: { id: user.id, email: user.email, pendingEmail: email },
        data: { email, pendingEmail: null },
      });
      return applied(user.id, count); // cached principals carry the old email
    },
    async cancelEmailChange(id: number): Promise<User> {
      return changed(id, await prisma.user.update({ where: { id }, data: { pendingEmail: null } }));
    },
    /** An email change and its mails, in one statement: an outage cannot leave one without the other. */
    async changeEmail(id: number, change: EmailChange, mails: MailRow[]): Promise<User> {
      return changed(id, await prisma.user.update({ where: { id }, data: { ...change, ...withMails(mails) } }));
    },
    /** The account, its tokens, sessions and mails (ON DELETE CASCADE). */
    async delete(id: number): Promise<void> {
      await prisma.user.deleteMany({ where: { id } });
      await forget(id);
    },

    /**
     * One stored hash of each cost class (algorithm + parameters: all but the salt and digest), of
     * the kinds verifyPassword checks. bcrypt keeps salt and digest in one field; PBKDF2 and argon2
     * in two. One pass over the table, grouped: no hash leaves the database but one per class.
     */
    async hashSamples(): Promise<string[]> {
      const rows = await prisma.$queryRaw<{ sample: string }[]>`
        SELECT min(password) AS sample FROM auth_user
         WHERE password LIKE '$argon2%' OR password LIKE 'argon2$argon2%'
            OR password LIKE 'pbkdf2%' OR password LIKE 'bcrypt%'
         GROUP BY CASE WHEN password LIKE 'bcrypt%' THEN regexp_replace(password, '[$][^$]*$', '')
                       ELSE regexp_replace(password, '([$][^$]*){2}$', '') END`;
      return rows.map((r) => r.sample);
    },
  };
}
