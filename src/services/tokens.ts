// Opaque tokens (DRF authtoken): 40 lowercase hex characters, only their SHA-256 stored.
//
// "shared" mode keeps Djoser's behaviour (the same key on every login until logout) without
// storing the key: it is HMAC(SECRET_KEY, User.tokenSeed), recomputed at login. A database leak
// alone reveals no key. "per_device" mode mints a random key per login (knox-like).
import { createHash, createHmac, randomBytes } from "node:crypto";
import { AuthError, ERRORS } from "../errors.ts";
import { audit } from "./audit.ts";
import type { Deps, Principal, RequestMeta, User } from "./deps.ts";

export const hashKey = (key: string) => createHash("sha256").update(key).digest("hex");
const deriveKey = (secret: string, seed: string) => createHmac("sha256", secret).update(`portcullis.authtoken:${seed}`).digest("hex").slice(0, 40);

/** Issues the key a login hands out. */
export async function issueToken(deps: Deps, user: User, meta: RequestMeta): Promise<string> {
  const { prisma, settings } = deps;
  const row = { userId: user.id, userAgent: meta.userAgent.slice(0, 512), ip: meta.ip.slice(0, 45) };
  if (settings.DJOSER.TOKEN_MODE === "per_device") {
    const key = randomBytes(20).toString("hex"); // 160 bits
    await prisma.authToken.create({ data: { ...row, keyHash: hashKey(key) } });
    return key;
  }
  // Two concurrent logins must get the same key: only the first sets the seed, both read it back.
  await prisma.user.updateMany({ where: { id: user.id, tokenSeed: null }, data: { tokenSeed: randomBytes(32).toString("hex") } });
  const seeded = await prisma.user.findUnique({ where: { id: user.id }, select: { tokenSeed: true } });
  // Deleted, or logged out everywhere, between the password check and here: refuse like a bad login.
  if (!seeded?.tokenSeed) throw new AuthError("invalid_credentials", undefined, { fields: { non_field_errors: [ERRORS.invalid_credentials.message] } });
  const key = deriveKey(settings.SECRET_KEY, seeded.tokenSeed);
  await prisma.authToken.createMany({ data: [{ ...row, keyHash: hashKey(key), shared: true }], skipDuplicates: true });
  return key;
}

/** At most one indexed lookup: key hash → token row with its user (none when cached). */
export async function authenticateToken(deps: Deps, key: string): Promise<Principal> {
  // Hashing first makes the lookup independent of the key's bytes: no timing oracle on the index.
  const keyHash = hashKey(key);
  const cached = deps.authCache.get<{ user: User; tokenId: number }>(`t:${keyHash}`);
  if (cached) return { ...cached, via: "token" };
  // "join" makes it one round trip (token and user in one statement), not two.
  const stamp = deps.authCache.stamp();
  const token = await deps.prisma.authToken.findUnique({ where: { keyHash }, include: { user: true }, relationLoadStrategy: "join" });
  if (!token) throw new AuthError("authentication_failed", "Invalid token.");
  if (!token.user.isActive) throw new AuthError("authentication_failed", "User inactive or deleted.");
  touch(deps, token.id, token.lastUsedAt); // so "last used" is as fresh as the cache lets it be
  deps.authCache.set(`t:${keyHash}`, { user: token.user, tokenId: token.id }, stamp);
  return { user: token.user, via: "token", tokenId: token.id };
}

// "Last used" for session lists, written at most once a minute per token so reads stay reads.
function touch(deps: Deps, id: number, lastUsedAt: Date | null) {
  if (lastUsedAt && Date.now() - lastUsedAt.getTime() < 60_000) return;
  deps.prisma.authToken
    .update({ where: { id }, data: { lastUsedAt: new Date() } })
    .catch((e: unknown) => deps.log.warn({ err: String(e) }, "could not record token use"));
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
