// JWTs as SimpleJWT makes and checks them: the same claims (token_type, exp, iat, jti, user_id),
// the same checks in the same order and the same messages, so tokens pass between a SimpleJWT
// deployment and this one when they share key and settings. jsonwebtoken does the cryptography;
// what is written here is SimpleJWT's claim rules on top of it.
import { randomUUID } from "node:crypto";
import jsonwebtoken from "jsonwebtoken";
import type { Settings } from "../../config/schema.ts";
import { candidateKeys, type KeyRing } from "./jwt-keys.ts";

export type Claims = Record<string, unknown>;
export type TokenType = "access" | "refresh";

/** SimpleJWT's TokenError: the message is what clients see, word for word. */
export class TokenError extends Error {}

const INVALID = "Token is invalid or expired";
const now = () => Math.floor(Date.now() / 1000);
/** uuid4().hex, as SimpleJWT's set_jti. */
export const newJti = () => randomUUID().replaceAll("-", "");

type JwtSettings = Settings["SIMPLE_JWT"];

/** Signs claims with the ring's signing key; aud and iss are added as SimpleJWT's backend adds them. */
export function sign(ring: KeyRing, jwt: JwtSettings, claims: Claims): string {
  const payload = {
    ...claims,
    ...(jwt.AUDIENCE !== null ? { aud: jwt.AUDIENCE } : {}),
    ...(jwt.ISSUER !== null ? { iss: jwt.ISSUER } : {}),
  };
  const { key, algorithm, kid } = ring.signing;
  return jsonwebtoken.sign(payload, key, { algorithm, ...(kid !== null ? { keyid: kid } : {}) });
}

/** A fresh token of a type for a user id, as SimpleJWT's Token() + for_user. */
export function newClaims(jwt: JwtSettings, type: TokenType, userId: number, extra: Claims = {}): Claims {
  const iat = now();
  const lifetime = type === "access" ? jwt.ACCESS_TOKEN_LIFETIME : jwt.REFRESH_TOKEN_LIFETIME;
  return {
    [jwt.TOKEN_TYPE_CLAIM]: type,
    exp: iat + lifetime,
    iat,
    [jwt.JTI_CLAIM]: newJti(),
    [jwt.USER_ID_CLAIM]: userId,
    ...extra,
  };
}

/**
 * SimpleJWT's RefreshToken.access_token: every claim of the refresh token is copied (its iat too)
 * except type, exp and jti; exp counts from `at`, the refresh token's own "now" (its creation for a
 * new pair), so a pair expires relative to one instant.
 */
export function accessClaimsFrom(jwt: JwtSettings, refresh: Claims, at = now()): Claims {
  const claims: Claims = {
    [jwt.TOKEN_TYPE_CLAIM]: "access",
    exp: at + jwt.ACCESS_TOKEN_LIFETIME,
    iat: at,
    [jwt.JTI_CLAIM]: newJti(),
  };
  const noCopy = new Set([jwt.TOKEN_TYPE_CLAIM, "exp", jwt.JTI_CLAIM, "jti"]);
  for (const [k, v] of Object.entries(refresh)) if (!noCopy.has(k)) claims[k] = v;
  return claims;
}

/** SimpleJWT's rotation: the same refresh token with a new jti, exp and iat. */
export function rotatedClaims(jwt: JwtSettings, refresh: Claims, at = now()): Claims {
  return { ...refresh, [jwt.JTI_CLAIM]: newJti(), exp: at + jwt.REFRESH_TOKEN_LIFETIME, iat: at };
}

/** TokenBackend.decode: signature, aud, iss, exp, nbf and iat, with LEEWAY. Any failure is one message. */
function verifySignature(ring: KeyRing, jwt: JwtSettings, token: string): Claims {
  const decoded = jsonwebtoken.decode(token, { complete: true });
  if (!decoded || typeof decoded.payload !== "object" || Array.isArray(decoded.payload)) throw new TokenError(INVALID);
  // jku, x5u and jwk headers are never read: keys come from the ring only.
  for (const candidate of candidateKeys(ring, decoded.header)) {
    try {
      const payload = jsonwebtoken.verify(token, candidate.key, {
        algorithms: [candidate.algorithm],
        ...(jwt.AUDIENCE !== null ? { audience: jwt.AUDIENCE } : {}),
        ...(jwt.ISSUER !== null ? { issuer: jwt.ISSUER } : {}),
        clockTolerance: jwt.LEEWAY,
      }) as Claims;
      // PyJWT also refuses an iat in the future, which jsonwebtoken lets through.
      if (payload.iat !== undefined && (typeof payload.iat !== "number" || payload.iat > now() + jwt.LEEWAY)) break;
      return payload;
    } catch {
      // try the next key with this kid/alg (HMAC secrets during a rotation share no kid)
    }
  }
  throw new TokenError(INVALID);
}

/**
 * Token(token).verify() for a type ("untyped" skips the type check, as UntypedToken): exp must be
 * present, then jti, then the type. The blacklist check, which SimpleJWT runs first for refresh
 * tokens, belongs to the caller (it needs the database).
 */
export function decode(ring: KeyRing, jwt: JwtSettings, token: string, type: TokenType | "untyped"): Claims {
  const claims = verifySignature(ring, jwt, token);
  if (claims.exp === undefined) throw new TokenError("Token has no 'exp' claim");
  if (claims[jwt.JTI_CLAIM] === undefined) throw new TokenError("Token has no id");
  if (type !== "untyped") {
    if (claims[jwt.TOKEN_TYPE_CLAIM] === undefined) throw new TokenError("Token has no type");
    if (claims[jwt.TOKEN_TYPE_CLAIM] !== type) throw new TokenError("Token has wrong type");
  }
  return claims;
}

/** The user id a token names: an integer, or a string of digits (SimpleJWT stringifies non-int ids). */
export function userIdOf(jwt: JwtSettings, claims: Claims): number | null | undefined {
  const v = claims[jwt.USER_ID_CLAIM];
  if (v === undefined) return undefined;
  const id = typeof v === "number" ? v : typeof v === "string" && /^\d{1,10}$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(id) && id > 0 && id <= 2_147_483_647 ? id : null;
}
