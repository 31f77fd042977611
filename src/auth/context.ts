// The one context builder both adapters use: Authorization header → credentials → user.
import type { Settings } from "../config/schema.ts";
import type { Deps, Principal } from "../services/deps.ts";
import { authenticateToken } from "../services/tokens.ts";
import { parseAuthorization, tokenNotValid, type Prefixes } from "./header.ts";

/**
 * The seam for JWT authentication: given a credential sent behind a JWT prefix, return the
 * principal or throw an AuthError. Until a verifier is installed every JWT is refused with
 * SimpleJWT's own answer.
 */
export type JwtVerifier = (deps: Deps, token: string) => Promise<Principal>;

export const prefixesOf = (settings: Settings): Prefixes => ({ token: settings.TOKEN_AUTH_HEADER_TYPES, jwt: settings.SIMPLE_JWT.AUTH_HEADER_TYPES });

/** null when no Authorization header was sent; throws an AuthError for anything sent but not accepted. */
export async function authenticate(deps: Deps, header: string | undefined, verifyJwt?: JwtVerifier): Promise<Principal | null> {
  const parsed = parseAuthorization(header, prefixesOf(deps.settings));
  switch (parsed.kind) {
    case "none":
      return null;
    case "opaque":
      return authenticateToken(deps, parsed.credential);
    case "jwt":
      if (!verifyJwt) throw tokenNotValid();
      return verifyJwt(deps, parsed.credential);
  }
}
