// Opaque tokens (DRF authtoken): 40 lowercase hex characters, only their SHA-256 stored.
//
// "shared" mode keeps Djoser's behaviour (the same key on every login until logout) without
// storing the key: it is HMAC(the authtoken key derived from SECRET_KEY, User.tokenSeed),
// recomputed at login. A database leak alone reveals no key. "per_device" mode mints a random key
// per login (knox-like). TOKEN_TTL and TOKEN_IDLE_TTL end a key by age or by disuse, in both modes.
import { createHash, createHmac, randomBytes } from "node:crypto";
import type { Settings } from "../../config/schema.ts";
import type { Rekey } from "../../db/store/index.ts";
import { AuthError, ERRORS } from "../../errors.ts";
import { audit } from "../audit.ts";
import type { Deps, Principal, RequestMeta, User } from "../deps.ts";
import { purposeKey } from "../secrets.ts";

export const hashKey = (key: string) => createHash("sha256").update(key).digest("hex");
const deriveKey = (settings: Settings, seed: string) =>
  createHmac("sha256", purposeKey(settings, "authtoken")).update(seed).digest("hex").slice(0, 40);
const newSeed = () => randomBytes(32).toString("hex");
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
  const { store, settings } = deps;
  if (settings.DJOSER.TOKEN_MODE === "per_device") {
    const key = randomBytes(20).toString("hex"); // 160 bits
    await store.tokens.add(user.id, hashKey(key), meta);
    const limit = settings.DJOSER.TOKEN_LIMIT_PER_USER;
    if (limit !== null) await store.tokens.keepNewest(user.id, limit); // the oldest keys beyond it end
    return key;
  }
  for (let attempt = 0; ; attempt++) {
    const seed = await store.tokens.seed(user.id, newSeed());
    // Deleted, or logged out everywhere, between the password check and here: refuse like a bad login.
    if (!seed) throw invalidCredentials();
    const key = deriveKey(settings, seed);
    const keyHash = hashKey(key);
    if (!expiring(settings)) {
      await store.tokens.addShared(user.id, keyHash, meta);
      return key;
    }
    // The shared key expired: it must not come back. A new seed (of concurrent logins, the one whose
    // swap applies), then derive again.
    const existing = await store.tokens.times(keyHash);
    if (existing && tokenExpiry(settings, existing) <= Date.now()) {
      await store.tokens.endShared(user.id, seed, keyHash);
    } else {
      await store.tokens.addShared(user.id, keyHash, meta);
      // An expiry that cleared the seed meanwhile would otherwise leave the old key alive in a new row.
      if (await store.tokens.seedIs(user.id, seed)) return key;
      await store.tokens.dropKey(keyHash);
    }
    const retry = { retryAfter: 1 };
    if (attempt >= 3)
      throw new AuthError("service_unavailable", "The login collided with concurrent changes; try again.", retry);
  }
}

/** At most one indexed lookup: key hash → token row with its user (none when cached). */
export async function authenticateToken(deps: Deps, key: string): Promise<Principal> {
  // Hashing first makes the lookup independent of the key's bytes: no timing oracle on the index.
  const keyHash = hashKey(key);
  // A cached entry lives no longer than its key (set() below bounds it by the expiry).
  const cached = deps.authCache.get<{ user: User; tokenId: number }>(`t:${keyHash}`);
  if (cached) return { ...cached, via: "token" };
  const stamp = deps.authCache.stamp();
  const token = await deps.store.tokens.lookup(keyHash);
  if (!token) throw new AuthError("authentication_failed", "Invalid token.");
  const now = Date.now();
  if (tokenExpiry(deps.settings, token) <= now) {
    // Expired is answered as DRF answers a key it does not know; the row goes now, not at housekeeping.
    await deps.store.tokens.expire(token, token.user.tokenSeed);
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
  deps.store.tokens.touch(id).catch((e: unknown) => deps.log.warn({ err: String(e) }, "could not record token use"));
  return true;
}

/** Djoser's logout: removes the user's opaque tokens; per-device mode removes only the one presented. */
export async function logout(deps: Deps, principal: Principal, meta: RequestMeta): Promise<void> {
  if (principal.via === "token") {
    // A logout spends the presented key: of concurrent logouts with one key, one goes on.
    const everyToken = deps.settings.DJOSER.TOKEN_MODE !== "per_device";
    const spent = await deps.store.tokens.logout(principal.tokenId, principal.user.id, everyToken);
    if (!spent) throw new AuthError("authentication_failed", "Invalid token.");
  } else {
    await deps.store.tokens.endAll(principal.user.id);
  }
  await audit(deps, "logout", meta, principal.user.id, { method: "token" });
}

/** token.logoutAll: every opaque token of the caller, audited. */
export async function logoutAllTokens(deps: Deps, principal: Principal, meta: RequestMeta): Promise<number> {
  const revoked = await deps.store.tokens.endAll(principal.user.id);
  await audit(deps, "logout_all", meta, principal.user.id, { method: "token", sessions: revoked });
  return revoked;
}

/**
 * A new shared key for a user whose every opaque token is being ended: every device shares the
 * one key, so keeping the caller signed in means handing them another. `from` is the old key's
 * row (its device, for the list); the store writes the new seed and row with the ending.
 */
export function sharedRekey(settings: Settings, from: Rekey["from"]): { key: string; rekey: Rekey } {
  const seed = newSeed();
  const key = deriveKey(settings, seed);
  return { key, rekey: { seed, keyHash: hashKey(key), from } };
}
