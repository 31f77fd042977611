// The access-token side of SimpleJWT: JWTAuthentication (a valid access token of an active user
// whose session has not ended), and the checks the refresh and verify flows share with it.
import { AuthError, tokenNotValid } from "../../errors.ts";
import type { Deps, Principal, User } from "../deps.ts";
import { type Claims, decode, TokenError, userIdOf } from "./jwt-claims.ts";

export const SID = "sid";
export const BLACKLISTED = "Token is blacklisted";
export const NO_SID = "Token has no session id";

export const sidOf = (claims: Claims) => (typeof claims[SID] === "string" ? (claims[SID] as string) : null);
/**
 * ACCEPT_TOKENS_WITHOUT_SID: tokens without our sid (SimpleJWT's, from before a cutover) can only be
 * ended all at once (jwtNotBefore), so production refuses them unless told otherwise.
 */
export const acceptsSidless = (deps: Deps) =>
  deps.settings.SIMPLE_JWT.ACCEPT_TOKENS_WITHOUT_SID ?? deps.settings.NODE_ENV !== "production";
/**
 * Logout everywhere reaches tokens without a session of ours (issued by SimpleJWT before the move)
 * by time: every one issued up to that second, inclusive — such a token is refused even if minted
 * just after, in the same second. Tokens with a sid end with their session.
 */
export const issuedBefore = (claims: Claims, notBefore: Date | null) =>
  notBefore !== null &&
  sidOf(claims) === null &&
  typeof claims.iat === "number" &&
  claims.iat <= Math.floor(notBefore.getTime() / 1000);
/** The user a token names, refused as SimpleJWT's JWTAuthentication refuses it. */
export async function userOf(deps: Deps, claims: Claims, sid: string | null) {
  const id = userIdOf(deps.settings.SIMPLE_JWT, claims);
  if (id === undefined)
    throw new AuthError("token_not_valid", "Token contained no recognizable user identification", {
      data: { code: "token_not_valid" },
    });
  // One statement: the user and, when the token names one, its session (to see whether it ended).
  const user = id === null ? null : await deps.store.jwtSessions.userWithSession(id, sid);
  if (!user) throw new AuthError("user_not_found", undefined, { data: { code: "user_not_found" } });
  if (!user.isActive) throw new AuthError("user_inactive", undefined, { data: { code: "user_inactive" } });
  const { jwtSessions, ...plain } = user;
  // A sid that names no session (ended and purged, or never ours) is as dead as an ended one.
  const ended =
    (sid !== null && (jwtSessions.length === 0 || jwtSessions[0]!.revokedAt !== null)) ||
    issuedBefore(claims, user.jwtNotBefore);
  return { user: plain as User, ended };
}

/** JWTAuthentication: a valid access token of an active user whose session has not ended. */
export async function authenticateJwt(deps: Deps, token: string): Promise<Principal> {
  let claims = deps.authCache.verifiedClaims(token) as Claims | undefined;
  if (!claims) {
    try {
      claims = decode(deps.keys, deps.settings.SIMPLE_JWT, token, "access");
    } catch (e) {
      if (e instanceof TokenError) throw tokenNotValid(e.message);
      throw e;
    }
    // Valid until exp (+ LEEWAY), as the check just made would say at any instant before then.
    deps.authCache.rememberClaims(token, claims, (Number(claims.exp) + deps.settings.SIMPLE_JWT.LEEWAY) * 1000);
  }
  const sid = sidOf(claims);
  if (sid === null && !acceptsSidless(deps)) throw tokenNotValid(NO_SID);
  // Cached: this user's session was live when cached, and forgetUser runs when any of theirs ends.
  const key = `j:${String(claims[deps.settings.SIMPLE_JWT.USER_ID_CLAIM])}:${sid ?? ""}`;
  const cached = deps.authCache.get<{ user: User }>(key);
  if (cached && !issuedBefore(claims, cached.user.jwtNotBefore)) return { user: cached.user, via: "jwt", claims };
  const stamp = deps.authCache.stamp();
  const { user, ended } = await userOf(deps, claims, sid);
  if (ended) throw tokenNotValid(BLACKLISTED);
  deps.authCache.set(key, { user }, stamp);
  return { user, via: "jwt", claims };
}
