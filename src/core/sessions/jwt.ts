// SimpleJWT's flows (jwt/create, refresh, verify) and what it lacks: logout, logout everywhere,
// refresh-token reuse detection, and refresh refused to deleted or inactive users.
//
// Every login starts a session (JwtSession); its id travels in the tokens as the "sid" claim, and
// every refresh token it issues is recorded by jti (SimpleJWT's OutstandingToken/BlacklistedToken).
// Ending a session therefore ends its refresh tokens and its access tokens together.
import { AuthError, type Schemes } from "../../errors.ts";
import { audit, auditLogin } from "../audit.ts";
import type { Deps, RequestMeta, User } from "../deps.ts";
import type { EmptyObject, EndedSessions, RefreshedTokens, TokenPair } from "../dto.ts";
import { charField, clientInput, form, parseInput, passwordField, perSettings } from "../inputs.ts";
import { recordLogin, refuseWithMfa, verifyLogin } from "../login/verify.ts";
import { endJwtSession, endSessions } from "./end.ts";
import { acceptsSidless, BLACKLISTED, issuedBefore, NO_SID, SID, sidOf, userOf } from "./jwt-access.ts";
import {
  accessClaimsFrom,
  type Claims,
  decode,
  newClaims,
  newJti,
  rotatedClaims,
  sign,
  TokenError,
  type TokenType,
  userIdOf,
} from "./jwt-claims.ts";

const jwtCreateForm = <L extends "username" | "email">(field: L) =>
  form({ [field]: charField(), password: passwordField() } as Record<L | "password", ReturnType<typeof charField>>);
export const jwtCreateInput = perSettings((deps: Deps) => jwtCreateForm(deps.settings.USERNAME_FIELD));
const REFRESH_INPUT = form({ refresh: charField() });
const VERIFY_INPUT = form({ token: charField() });
export const refreshInput = () => REFRESH_INPUT;
export const verifyInput = () => VERIFY_INPUT;
/** Typed clients: the login field in force (USERNAME_FIELD: username or email) and password. */
export const jwtCreateFields = clientInput(jwtCreateForm("username"), jwtCreateForm("email"));
export const refreshFields = clientInput(REFRESH_INPUT);
export const verifyFields = clientInput(VERIFY_INPUT);

/** SimpleJWT's views challenge a 401 with the first JWT prefix (TokenViewBase.get_authenticate_header). */
const challenge = (deps: Deps): Schemes => ({ token: [], jwt: deps.settings.SIMPLE_JWT.AUTH_HEADER_TYPES.slice(0, 1) });

/** How SimpleJWT's views answer a TokenError: 401 {"detail": message, "code": "token_not_valid"}. */
const invalidToken = (deps: Deps, message: string) =>
  new AuthError("token_not_valid", message, { data: { code: "token_not_valid" }, challenge: challenge(deps) });

function decodeFor(deps: Deps, token: string, type: TokenType | "untyped"): Claims {
  try {
    return decode(deps.keys, deps.settings.SIMPLE_JWT, token, type);
  } catch (e) {
    if (e instanceof TokenError) throw invalidToken(deps, e.message);
    throw e;
  }
}

/** Under reuse detection, whether a token rotated at `rotatedAt` is still within REFRESH_TOKEN_REUSE_INTERVAL. */
const inReuseInterval = (deps: Deps, rotatedAt: Date | null) => {
  const jwt = deps.settings.SIMPLE_JWT;
  if (!jwt.REFRESH_TOKEN_REUSE_DETECTION || rotatedAt === null) return false;
  return Date.now() - rotatedAt.getTime() < jwt.REFRESH_TOKEN_REUSE_INTERVAL * 1000;
};
const expiry = (claims: Claims) => new Date(Number(claims.exp) * 1000);

/** A new session for a user: {refresh, access}, in SimpleJWT's order. */
export async function startSession(deps: Deps, user: User, meta: RequestMeta): Promise<TokenPair> {
  const jwt = deps.settings.SIMPLE_JWT;
  const sid = newJti();
  const refresh = newClaims(jwt, "refresh", user.id, { [SID]: sid });
  await deps.store.jwtSessions.start(sid, user.id, meta, {
    jti: String(refresh[jwt.JTI_CLAIM]),
    expiresAt: expiry(refresh),
  });
  return {
    refresh: sign(deps.keys, jwt, refresh),
    access: sign(deps.keys, jwt, accessClaimsFrom(jwt, refresh, refresh.iat as number)),
  };
}

/** jwt/create: credentials → a new session. */
export async function createTokens(deps: Deps, raw: unknown, meta: RequestMeta): Promise<TokenPair> {
  const field = deps.settings.USERNAME_FIELD;
  const input = parseInput(jwtCreateInput(deps), raw);
  const { user, accountId } = await verifyLogin(deps, field, input[field], input.password, meta);
  if (!user) {
    await auditLogin(deps, meta, "jwt", accountId, false, input[field]);
    throw new AuthError("no_active_account", undefined, { challenge: challenge(deps) });
  }
  await refuseWithMfa(deps, user, meta, "jwt");
  // Independent writes, so one round trip's time rather than three.
  // A login ends the mailed links: by last_login when SimpleJWT may move it, else by the link epoch.
  const loginColumn = deps.settings.SIMPLE_JWT.UPDATE_LAST_LOGIN ? "lastLogin" : "linkEpoch";
  const [pair] = await Promise.all([
    startSession(deps, user, meta),
    auditLogin(deps, meta, "jwt", accountId, true, input[field]),
    recordLogin(deps, user, loginColumn),
  ]);
  return pair;
}

/** A refresh token that came back after it was rotated: somebody holds a copy. End the session. */
async function reused(deps: Deps, sessionId: string, userId: number, meta: RequestMeta): Promise<never> {
  await endJwtSession(deps, sessionId, "reuse", userId);
  await audit(deps, "refresh_reuse_detected", meta, userId, { method: "jwt", session: `j${sessionId}` });
  deps.log.warn(
    { event: "jwt_refresh_reuse", userId, sessionId },
    "a rotated refresh token was presented again: its session is ended",
  );
  throw invalidToken(deps, BLACKLISTED);
}

/**
 * The refresh token's row and user, checked: SimpleJWT's blacklist check, then ours (session ended,
 * reuse after rotation, user deleted or inactive).
 */
async function checkRefresh(deps: Deps, claims: Claims, meta: RequestMeta) {
  const jwt = deps.settings.SIMPLE_JWT;
  const row = await deps.store.jwtSessions.refreshToken(String(claims[jwt.JTI_CLAIM]));
  if (row?.session.revokedAt) throw invalidToken(deps, BLACKLISTED);
  // A token never seen is adopted as a session below, unless sid-less tokens are refused.
  if (!row && sidOf(claims) === null && !acceptsSidless(deps)) throw invalidToken(deps, NO_SID);
  // Reuse first: a rotated token is also blacklisted under BLACKLIST_AFTER_ROTATION, but its return
  // means a copy exists, and that must end the session, not just fail this request. Within
  // REFRESH_TOKEN_REUSE_INTERVAL of its rotation it is a race or a retry: the caller decides.
  const grace = inReuseInterval(deps, row?.rotatedAt ?? null);
  if (row?.rotatedAt && jwt.REFRESH_TOKEN_REUSE_DETECTION && !grace) {
    await reused(deps, row.sessionId, row.session.userId, meta);
  }
  if (row?.blacklistedAt && !grace) throw invalidToken(deps, BLACKLISTED);
  const sid = row?.sessionId ?? null;
  const { user, ended } = await userOf(deps, claims, sid).catch((e: unknown) => {
    throw e instanceof AuthError ? new AuthError(e.code, e.message, { data: e.data, challenge: challenge(deps) }) : e;
  });
  if (ended) throw invalidToken(deps, BLACKLISTED);
  return { row, user, grace };
}

/**
 * A token rotated less than REFRESH_TOKEN_REUSE_INTERVAL ago came back (two tabs refreshed at once,
 * or the answer to a refresh was lost): it is answered with the session's current refresh token
 * (the same token the rotation handed out, re-signed from its row) and a new access token, and the
 * session goes on. Once the current token was spent too, or the session ended, it is refused.
 */
async function currentPair(deps: Deps, claims: Claims, sessionId: string, userId: number, meta: RequestMeta) {
  const jwt = deps.settings.SIMPLE_JWT;
  const now = new Date();
  const live = await deps.store.jwtSessions.current(sessionId, now);
  if (!live) throw invalidToken(deps, BLACKLISTED);
  const exp = Math.floor(live.expiresAt.getTime() / 1000);
  // rotatedClaims: every claim carried over, a new jti, iat the rotation's instant, exp iat + lifetime.
  const refresh = {
    ...claims,
    [SID]: sessionId,
    [jwt.JTI_CLAIM]: live.jti,
    exp,
    iat: exp - jwt.REFRESH_TOKEN_LIFETIME,
  };
  const access = sign(deps.keys, jwt, accessClaimsFrom(jwt, refresh, Math.floor(now.getTime() / 1000)));
  const reason = "rotated token within REFRESH_TOKEN_REUSE_INTERVAL";
  await audit(deps, "token_refreshed", meta, userId, { method: "jwt", session: `j${sessionId}`, reason });
  return { access, refresh: sign(deps.keys, jwt, refresh) };
}

/**
 * Records a refresh token we never saw (issued by SimpleJWT before the move, with the same key) as
 * a session of ours, so it can be rotated, blacklisted and listed like the others. Of two
 * concurrent first uses, the jti's primary key keeps one row; both then read the same session.
 */
function adopt(deps: Deps, userId: number, claims: Claims, meta: RequestMeta): Promise<{ sessionId: string }> {
  const jti = String(claims[deps.settings.SIMPLE_JWT.JTI_CLAIM]);
  return deps.store.jwtSessions.adopt(newJti(), userId, meta, { jti, expiresAt: expiry(claims) });
}

/** jwt/refresh: {access}, plus {refresh} under ROTATE_REFRESH_TOKENS. */
export async function refreshTokens(deps: Deps, raw: unknown, meta: RequestMeta): Promise<RefreshedTokens> {
  const jwt = deps.settings.SIMPLE_JWT;
  const claims = decodeFor(deps, parseInput(refreshInput(), raw).refresh, "refresh");
  const jti = String(claims[jwt.JTI_CLAIM]);
  // Counted per session (the signature is checked, so the key is the token's own): a batch of
  // refreshes cannot fill the tables or the audit log.
  await deps.throttle("refresh", [`session:${sidOf(claims) ?? jti}`]);
  const { row, user, grace } = await checkRefresh(deps, claims, meta);
  if (row && grace) return currentPair(deps, claims, row.sessionId, user.id, meta);
  const { sessionId } = row ?? (await adopt(deps, user.id, claims, meta));
  const current = { ...claims, [SID]: sessionId };
  const now = new Date();
  const at = Math.floor(now.getTime() / 1000); // one instant for the access token and the rotated refresh token
  const access = sign(deps.keys, jwt, accessClaimsFrom(jwt, current, at));
  if (!jwt.ROTATE_REFRESH_TOKENS) {
    await deps.store.jwtSessions.touch(sessionId, now);
    await audit(deps, "token_refreshed", meta, user.id, { method: "jwt", session: `j${sessionId}` });
    return { access };
  }
  const next = rotatedClaims(jwt, current, at);
  // Of several concurrent refreshes of one token only one rotates it.
  const won = await deps.store.jwtSessions.rotate(
    jti,
    sessionId,
    { jti: String(next[jwt.JTI_CLAIM]), expiresAt: expiry(next) },
    { reuseDetection: jwt.REFRESH_TOKEN_REUSE_DETECTION, blacklist: jwt.BLACKLIST_AFTER_ROTATION, at: now },
  );
  if (!won) {
    // A concurrent refresh of the same token rotated it just now: within the reuse interval.
    if (inReuseInterval(deps, await deps.store.jwtSessions.rotatedAt(jti)))
      return currentPair(deps, claims, sessionId, user.id, meta);
    if (jwt.REFRESH_TOKEN_REUSE_DETECTION) await reused(deps, sessionId, user.id, meta);
    throw invalidToken(deps, BLACKLISTED);
  }
  await audit(deps, "token_refreshed", meta, user.id, { method: "jwt", session: `j${sessionId}` });
  return { access, refresh: sign(deps.keys, jwt, next) };
}

/**
 * jwt/verify: {} for a valid token of any type. A token whose refresh row is blacklisted or whose
 * session ended is "Token is blacklisted" (a 400, as SimpleJWT answers it). SimpleJWT checks that
 * only under BLACKLIST_AFTER_ROTATION; with logout in the picture we always do.
 */
export async function verifyToken(deps: Deps, raw: unknown): Promise<EmptyObject> {
  const jwt = deps.settings.SIMPLE_JWT;
  const claims = decodeFor(deps, parseInput(verifyInput(), raw).token, "untyped");
  const userId = userIdOf(jwt, claims);
  // Like SimpleJWT's, this view says nothing about the user (a deleted user's token verifies).
  const [row, user] = await deps.store.jwtSessions.verifyState(String(claims[jwt.JTI_CLAIM]), userId, sidOf(claims));
  if (!row && sidOf(claims) === null && !acceptsSidless(deps)) throw invalidToken(deps, NO_SID);
  const dead =
    row?.blacklistedAt ||
    row?.session.revokedAt ||
    (row?.rotatedAt && jwt.REFRESH_TOKEN_REUSE_DETECTION) ||
    user?.jwtSessions[0]?.revokedAt ||
    issuedBefore(claims, user?.jwtNotBefore ?? null);
  if (dead) throw new AuthError("token_blacklisted", BLACKLISTED, { fields: { non_field_errors: [BLACKLISTED] } });
  return {};
}

/** jwt/logout (extension): ends the refresh token's session. SimpleJWT's jwt/blacklist, session-wide. */
export async function logoutRefresh(deps: Deps, raw: unknown, meta: RequestMeta): Promise<void> {
  const claims = decodeFor(deps, parseInput(refreshInput(), raw).refresh, "refresh");
  const { row, user } = await checkRefresh(deps, claims, meta);
  // A token never seen (issued before the move) is recorded first, so that it cannot come back.
  const { sessionId } = row ?? (await adopt(deps, user.id, claims, meta));
  // Of concurrent logouts with one token only one ends the session (its update is conditional on revokedAt null).
  if (!(await endJwtSession(deps, sessionId, "logout", user.id))) throw invalidToken(deps, BLACKLISTED);
  await audit(deps, "logout", meta, user.id, { method: "jwt", session: `j${sessionId}` });
}

/** Logout everywhere (extension): every JWT session of the user ends, and every JWT issued until now dies. */
export async function logoutAllSessions(deps: Deps, userId: number, meta: RequestMeta): Promise<EndedSessions> {
  const { sessions } = await endSessions(deps, userId, "logout_all", { opaque: false });
  await audit(deps, "logout_all", meta, userId, { method: "jwt", sessions });
  return { sessions };
}
