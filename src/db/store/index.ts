// The store: data access behind named functions, one module per aggregate. Each owns its queries,
// the columns' limits, what a unique violation means, and the cache invalidation its writes need,
// so flows say what happens (`store.tokens.endAll(userId)`) and the rules that go with it (the
// shared key's seed, forgetting cached principals) cannot be left out.
import type { PrismaClient } from "../../generated/prisma/client.ts";
import { auditStore } from "./audit.ts";
import type { Forgetter } from "./base.ts";
import { jwtSessionsStore } from "./jwt-sessions.ts";
import { loginLocksStore } from "./login-locks.ts";
import { mfaStore } from "./mfa.ts";
import { outboxStore } from "./outbox.ts";
import { passkeysStore } from "./passkeys.ts";
import { sessionsStore } from "./sessions.ts";
import { socialStore } from "./social.ts";
import { tokensStore } from "./tokens.ts";
import { usersStore } from "./users.ts";

export type { Forgetter, Origin } from "./base.ts";
export type { EndReason } from "./jwt-sessions.ts";
export type { ProviderAccount } from "./social.ts";
export type { Rekey } from "./tokens.ts";
export type { EmailChange, LoginColumns, LoginKey, LoginLookup, MailRow, NewUser } from "./users.ts";

/**
 * `cache`: the servers' credential cache. Without one (CLI commands) nothing is forgotten: a
 * server's cache is not reachable from there, and holds an entry for at most AUTH_CACHE_SECONDS.
 */
export function createStore(prisma: PrismaClient, cache?: Forgetter) {
  const db = { prisma, forget: async (userId: number) => cache?.forgetUser(userId) };
  return {
    users: usersStore(db),
    tokens: tokensStore(db),
    jwtSessions: jwtSessionsStore(db),
    sessions: sessionsStore(db),
    outbox: outboxStore(db),
    loginLocks: loginLocksStore(db),
    audit: auditStore(db),
    mfa: mfaStore(db),
    passkeys: passkeysStore(db),
    social: socialStore(db),
  };
}

export type Store = ReturnType<typeof createStore>;
