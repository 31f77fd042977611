// The one context builder both adapters use: request headers → credentials → user.
import type { Settings } from "../config/schema.ts";
import type { Deps, Principal } from "../core/deps.ts";
import { authenticateJwt } from "../core/sessions/jwt-access.ts";
import { authenticateToken } from "../core/sessions/opaque.ts";
import { type ParsedAuthorization, type Prefixes, parseAuthorization } from "./authorization.ts";

/** Request headers as Node gives them (lower-case names). */
export type RequestHeaders = Record<string, string | string[] | undefined>;

export const prefixesOf = (settings: Settings): Prefixes => ({
  token: settings.TOKEN_AUTH_HEADER_TYPES,
  jwt: settings.SIMPLE_JWT.AUTH_HEADER_TYPES,
});

/** SimpleJWT's AUTH_HEADER_NAME is a Django META key: HTTP_X_ACCESS_TOKEN is the X-Access-Token header. */
export const jwtHeaderName = (settings: Settings) =>
  settings.SIMPLE_JWT.AUTH_HEADER_NAME.slice("HTTP_".length).toLowerCase().replaceAll("_", "-");

const single = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(", ") : v);

function resolve(deps: Deps, parsed: ParsedAuthorization): Promise<Principal> | null {
  if (parsed.kind === "none") return null;
  return parsed.kind === "opaque"
    ? authenticateToken(deps, parsed.credential)
    : authenticateJwt(deps, parsed.credential);
}

/** null when no credential was sent; throws an AuthError for anything sent but not accepted. */
export async function authenticate(deps: Deps, headers: RequestHeaders): Promise<Principal | null> {
  const { settings } = deps;
  const prefixes = prefixesOf(settings);
  const jwtHeader = jwtHeaderName(settings);
  if (jwtHeader === "authorization") return resolve(deps, parseAuthorization(single(headers.authorization), prefixes));
  // JWTs travel in a header of their own; Authorization keeps the opaque tokens. DRF's order:
  // TokenAuthentication first, then JWTAuthentication.
  const opaque = await resolve(
    deps,
    parseAuthorization(single(headers.authorization), { token: prefixes.token, jwt: [] }),
  );
  return opaque ?? resolve(deps, parseAuthorization(single(headers[jwtHeader]), { token: [], jwt: prefixes.jwt }));
}
