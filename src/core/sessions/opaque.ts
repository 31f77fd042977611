// Opaque tokens (DRF authtoken): 40 lowercase hex characters, only their SHA-256 stored.
//
// "shared" mode keeps Djoser's behaviour (the same key on every login until logout) without
// storing the key: it is HMAC(the authtoken key derived from SECRET_KEY, User.tokenSeed),
// recomputed at login. A database leak alone reveals no key. "per_device" mode mints a random key
// per login (knox-like). TOKEN_TTL and TOKEN_IDLE_TTL end a key by age or by disuse, in both modes.
import { createHash, createHmac, randomBytes } from "node:crypto";
import type { Settings } from "../../config/schema.ts";
import { AuthError, ERRORS } from "../../errors.ts";
import { audit } from "../audit.ts";
import type { Deps, Principal, RequestMeta, User } from "../deps.ts";
import { purposeKey } from "../secrets.ts";

export const hashKey = (key: string) => createHash("sha256").update(key).digest("hex");
const deriveKey = (settings: Settings, seed: string) =>
  createHmac("sha256", purposeKey(settings, "authtoken")).update(seed).digest("hex").slice(0, 40);
const newSeed = () => randomBytes(32).toString("hex");
const origin = (meta: RequestMeta) => ({ userAgent: meta.userAgent.slice(0, 512), ip: meta.ip.slice(0, 45) });
const TOUCH_EVERY_MS = 60_000;

/** Whether keys can expire at all (TOKEN_TTL or TOKEN_IDLE_TTL set). */
const expiring = (settings: Settings) => settings.DJOSER.TOKEN_TTL !== null || settings.DJOSER.TOKEN_IDLE_TTL !== null;

/** When a key stops working (ms since the epoch; Infinity: never), from its creation and last use. */
export function tokenExpiry(settings: Settings, token: { created: Date; lastUsedAt: Date | null }): number {
  const { TOKEN_TTL: ttl, TOKEN_IDLE_TTL: idle } = settings.DJOSER;
  const absolute = ttl === null ? Infinity : token.created.getTime() + ttl * 1000;
  const idleEnd = idle === null ? Infinity : (token.lastUsedAt ?? token.created).getTime() + idle * 1000;
  return Math.min(absolute, idleEnd);
}

const invalidCredentials = () =>
  new AuthError("invalid_credentials", undefined, {
    fields: { non_field_errors: [ERRORS.invalid_credentials.message] },
  });

/** Issues the key a login hands out. */
export async function issueToken(deps: Deps, user: User, meta: RequestMeta): Promise<string> {
  const { prisma, settings } = deps;
  const row = { userId: user.id, ...origin(meta) };
  if (settings.DJOSER.TOKEN_MODE === "per_device") {
    const key = randomBytes(20).toString("hex"); // 160 bits
    await prisma.authToken.create({ data: { ...row, keyHash: hashKey(key) } });
    await enforceLimit(deps, user.id);
    return key;
  }
  for (let attempt = 0; ; attempt++) {
    // Two concurrent logins must get the same key: only the first sets the seed, both read it back.
    await prisma.user.updateMany({ where: { id: user.id, tokenSeed: null }, data: { tokenSeed: newSeed() } });
    const seeded = await prisma.user.findUnique({ where: { id: user.id }, select: { tokenSeed: true } });
    // Deleted, or logged out everywhere, between the password check and here: refuse like a bad login.
    if (!seeded?.tokenSeed) throw invalidCredentials();
    const seed = seeded.tokenSeed;
    const key = deriveKey(settings, seed);
    const keyHash = hashKey(key);
    if (!expiring(settings)) {
      await prisma.authToken.createMany({ data: [{ ...row, keyHash, shared: true }], skipDuplicates: true });
      return key;
    }
    // The shared key expired: it must not come back. A new seed (of concurrent logins, the one whose
    // swap applies), then derive again.
    const existing = await prisma.authToken.findUnique({
      where: { keyHash },
      select: { created: true, lastUsedAt: true },
    });
    if (existing && tokenExpiry(settings, existing) <= Date.now()) {
      await expireShared(deps, user.id, seed, keyHash);
    } else {
      await prisma.authToken.createMany({ data: [{ ...row, keyHash, shared: true }], skipDuplicates: true });
      // An expiry that cleared the seed meanwhile would otherwise leave the old key alive in a new row.
      if (await prisma.user.count({ where: { id: user.id, tokenSeed: seed } })) return key;
      await prisma.authToken.deleteMany({ where: { keyHash } });
    }
    const retry = { retryAfter: 1 };
    if (attempt >= 3)
      throw new AuthError("service_unavailable", "The login collided with concurrent changes; try again.", retry);
  }
}

/** An expired shared key ends: its seed first (so no login derives it again), then its row. */
async function expireShared(deps: Deps, userId: number, seed: string, keyHash: string) {
  await deps.prisma.$transaction([
    deps.prisma.user.updateMany({ where: { id: userId, tokenSeed: seed }, data: { tokenSeed: null } }),
    deps.prisma.authToken.deleteMany({ where: { keyHash } }),
  ]);
}

/** TOKEN_LIMIT_PER_USER (per_device): the oldest keys beyond the limit are revoked. */
async function enforceLimit(deps: Deps, userId: number) {
  const limit = deps.settings.DJOSER.TOKEN_LIMIT_PER_USER;
  if (limit === null) return;
  const newestFirst = [{ created: "desc" as const }, { id: "desc" as const }];
  const extra = await deps.prisma.authToken.findMany({
    where: { userId },
    orderBy: newestFirst,
    skip: limit,
    select: { id: true },
  });
  if (!extra.length) return;
  await deps.prisma.authToken.deleteMany({ where: { id: { in: extra.map((t) => t.id) } } });
  await deps.authCache.forgetUser(userId);
}

/** At most one indexed lookup: key hash → token row with its user (none when cached). */
export async function authenticateToken(deps: Deps, key: string): Promise<Principal> {
  // Hashing first makes the lookup independent of the key's bytes: no timing oracle on the index.
  const keyHash = hashKey(key);
  // A cached entry lives no longer than its key (set() below bounds it by the expiry).
  const cached = deps.authCache.get<{ user: User; tokenId: number }>(`t:${keyHash}`);
  if (cached) return { ...cached, via: "token" };
  // "join" makes it one round trip (token and user in one statement), not two.
  const stamp = deps.authCache.stamp();
  const token = await deps.prisma.authToken.findUnique({
    where: { keyHash },
    include: { user: true },
    relationLoadStrategy: "join",
  });
  if (!token) throw new AuthError("authentication_failed", "Invalid token.");
  const now = Date.now();
  if (tokenExpiry(deps.settings, token) <= now) {
    // Expired is answered as DRF answers a key it does not know; the row goes now, not at housekeeping.
    if (token.shared && token.user.tokenSeed) await expireShared(deps, token.userId, token.user.tokenSeed, keyHash);
    else await deps.prisma.authToken.deleteMany({ where: { id: token.id } });
    throw new AuthError("authentication_failed", "Invalid token.");
  }
  if (!token.user.isActive) throw new AuthError("authentication_failed", "User inactive or deleted.");
  const touched = touch(deps, token.id, token.lastUsedAt); // so "last used" is as fresh as the cache lets it be
  const lastUsedAt = touched ? new Date(now) : token.lastUsedAt;
  const until = tokenExpiry(deps.settings, { created: token.created, lastUsedAt });
  deps.authCache.set(`t:${keyHash}`, { user: token.user, tokenId: token.id }, stamp, until);
  return { user: token.user, via: "token", tokenId: token.id };
}

// "Last used" for session lists and TOKEN_IDLE_TTL, written at most once a minute per token so reads stay reads.
function touch(deps: Deps, id: number, lastUsedAt: Date | null): boolean {
  if (lastUsedAt && Date.now() - lastUsedAt.getTime() < TOUCH_EVERY_MS) return false;
  deps.prisma.authToken
    .update({ where: { id }, data: { lastUsedAt: new Date() } })
    .catch((e: unknown) => deps.log.warn({ err: String(e) }, "could not record token use"));
  return true;
}

/** Djoser's logout: removes the user's opaque tokens; per-device mode removes only the one presented. */
export async function logout(deps: Deps, principal: Principal, meta: RequestMeta): Promise<void> {
  if (principal.via === "token") {
    const userId = principal.user.id;
    await deps.prisma.$transaction(async (tx) => {
      // A logout spends the presented key: of concurrent logouts with one key only the one whose
      // delete removes its row goes on (PostgreSQL re-checks the row once the first delete commits).
      const { count } = await tx.authToken.deleteMany({ where: { id: principal.tokenId } });
      if (!count) throw new AuthError("authentication_failed", "Invalid token.");
      if (deps.settings.DJOSER.TOKEN_MODE === "per_device") return;
      await tx.authToken.deleteMany({ where: { userId } });
      await tx.user.update({ where: { id: userId }, data: { tokenSeed: null } });
    });
    await deps.authCache.forgetUser(userId);
  } else {
    await revokeAllTokens(deps, principal.user.id);
  }
  await audit(deps, "logout", meta, principal.user.id, { method: "token" });
}

/** token.logoutAll: every opaque token of the caller, audited. */
export async function logoutAllTokens(deps: Deps, principal: Principal, meta: RequestMeta): Promise<number> {
  const revoked = await revokeAllTokens(deps, principal.user.id);
  await audit(deps, "logout_all", meta, principal.user.id, { method: "token", sessions: revoked });
  return revoked;
}

/** Logout everywhere: every opaque token of the user, and a new shared key at next login. */
export async function revokeAllTokens(deps: Deps, userId: number): Promise<number> {
  const [deleted] = await deps.prisma.$transaction([
    deps.prisma.authToken.deleteMany({ where: { userId } }),
    deps.prisma.user.update({ where: { id: userId }, data: { tokenSeed: null } }),
  ]);
  await deps.authCache.forgetUser(userId);
  return deleted.count;
}

/**
 * A new shared key for a user whose every opaque token is being ended (in `statements`' transaction):
 * every device shares the one key, so keeping the caller signed in means handing them another.
 * The statements that make it and the key; `from` is the old key's row (its device, for the list).
 */
export function sharedRekey(deps: Deps, userId: number, from: { userAgent: string; ip: string }) {
  const seed = newSeed();
  const key = deriveKey(deps.settings, seed);
  return {
    key,
    statements: [
      deps.prisma.authToken.deleteMany({ where: { userId } }),
      deps.prisma.user.updateMany({ where: { id: userId }, data: { tokenSeed: seed } }),
      deps.prisma.authToken.createMany({ data: [{ userId, keyHash: hashKey(key), shared: true, ...from }] }),
    ] as const,
  };
}
