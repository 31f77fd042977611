// Ending sessions: one JWT session (logout, reuse, revoke), or every session of a user at once —
// opaque tokens and JWT sessions alike (password changes and resets, staff, deactivation, "log out
// everywhere"). The store makes each one transaction: a session is ended everywhere or nowhere.
import type { EndReason } from "../../db/store/index.ts";
import type { Deps, Principal } from "../deps.ts";
import { sharedRekey } from "./opaque.ts";

export type { EndReason };

/** Ends one JWT session of `userId` (`mustOwn`: only if it is theirs); the number it ended, 0 or 1. */
export function endJwtSession(deps: Deps, id: string, reason: EndReason, userId: number, mustOwn = false) {
  return deps.store.jwtSessions.end(id, reason, userId, mustOwn);
}

/**
 * Ends every session of a user except, when given, the one the request came in with; with
 * `opaque: false` only the JWT sessions. JWTs without a session of ours (SimpleJWT's) die by
 * jwtNotBefore. A kept shared key cannot stay (every device holds it): the caller gets a new one,
 * `key`, which token/login hands out from then on. Returns the number of JWT sessions ended.
 */
export async function endSessions(
  deps: Deps,
  userId: number,
  reason: EndReason,
  opts: { keep?: Principal; opaque?: boolean } = {},
): Promise<{ sessions: number; key: string | null }> {
  const { keep, opaque = true } = opts;
  const keepSid = keep?.via === "jwt" && typeof keep.claims.sid === "string" ? keep.claims.sid : undefined;
  let keepToken = keep?.via === "token" ? keep.tokenId : undefined;
  const kept = keepToken !== undefined && opaque ? await deps.store.tokens.kept(keepToken) : null;
  // In shared mode a key imported from DRF (shared: false) is Djoser's one key per user all the same.
  const isShared = (k: { shared: boolean }) => k.shared || deps.settings.DJOSER.TOKEN_MODE === "shared";
  // The new key keeps the old one's device and sign-in (factors and time): a rekey is no new sign-in.
  const origin = kept && {
    userAgent: kept.userAgent,
    ip: kept.ip,
    factors: kept.amr.split(" "),
    authAt: kept.authAt,
    provider: kept.provider,
  };
  const next = kept && isShared(kept) ? sharedRekey(deps.settings, origin!) : null;
  if (next || (opaque && !kept)) keepToken = undefined; // a kept key already gone keeps nothing
  const sessions = await deps.store.sessions.endAllOf(userId, reason, {
    keepSid,
    keepToken,
    rekey: next?.rekey,
    opaque,
  });
  return { sessions, key: next?.key ?? null };
}

/**
 * Ends every opaque token and every JWT session of every user (`portcullis endallsessions`: after
 * SECRET_KEY changed or leaked, keys derived from the old one would otherwise keep working).
 * Returns what it ended. Servers' caches hold an entry for at most AUTH_CACHE_SECONDS more.
 */
export function endEverySession(deps: Pick<Deps, "store">): Promise<{ tokens: number; sessions: number }> {
  return deps.store.sessions.endEverything();
}
