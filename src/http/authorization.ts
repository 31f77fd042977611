// Parses an Authorization header against the configured prefixes. Pure: no I/O.
//
// Why this module exists: Djoser + SimpleJWT answer "Authentication credentials were not
// provided." to a request that sent a valid token behind a prefix missing from AUTH_HEADER_TYPES.
// Here every header that was sent gets an answer about that header: the scheme received and the
// schemes accepted. Status codes stay Djoser's (401) so legacy clients behave the same, and the
// messages Djoser already gets right (DRF's and SimpleJWT's) are kept word for word.
import { AuthError, type Schemes, tokenNotValid } from "../errors.ts";

/** The configured prefixes: TOKEN_AUTH_HEADER_TYPES (opaque keys) and SIMPLE_JWT.AUTH_HEADER_TYPES. */
export type Prefixes = Schemes;

export type ParsedAuthorization =
  | { kind: "none" }
  | { kind: "opaque"; scheme: string; credential: string }
  | { kind: "jwt"; scheme: string; credential: string };

export const MAX_HEADER_BYTES = 8192;

// Three base64url segments, the signature may be empty (alg "none" must still reach the verifier
// to be refused there, with SimpleJWT's message).
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
// DRF authtoken keys: 40 hex characters.
const OPAQUE_SHAPE = /^[0-9a-fA-F]{40}$/;
// Visible ASCII plus space and tab: what RFC 7235 credentials can hold.
const PRINTABLE = /^[\x20-\x7e\t]*$/;

export const looksLikeJwt = (s: string) => JWT_SHAPE.test(s);

/** The WWW-Authenticate value that lists every accepted scheme (RFC 7235: comma-separated challenges). */
export function challenge(prefixes: Prefixes): string {
  return acceptedSchemes(prefixes)
    .map((p) => (has(prefixes.token, p) ? p : `${p} realm="api"`))
    .join(", ");
}

export function acceptedSchemes(prefixes: Prefixes): string[] {
  return [...prefixes.token, ...prefixes.jwt.filter((p) => !has(prefixes.token, p))];
}

const has = (list: readonly string[], scheme: string) => list.some((p) => p.toLowerCase() === scheme.toLowerCase());
const quoteList = (list: readonly string[]) => list.map((p) => `"${p}"`).join(", ");

/** Scheme-level refusal: names what was received and what is accepted, with its own code. */
function refuse(
  code:
    | "authorization_header_empty"
    | "authorization_scheme_not_accepted"
    | "authorization_scheme_missing"
    | "authorization_header_too_long"
    | "authorization_header_not_ascii",
  detail: string,
  prefixes: Prefixes,
  received?: string,
): AuthError {
  const accepted = acceptedSchemes(prefixes);
  return new AuthError(code, detail, {
    data: { code, ...(received !== undefined ? { scheme_received: received } : {}), schemes_accepted: accepted },
    challenge: prefixes, // the edge names them in WWW-Authenticate (see challenge())
  });
}

export function parseAuthorization(value: string | undefined, prefixes: Prefixes): ParsedAuthorization {
  if (value === undefined) return { kind: "none" };
  const accepted = quoteList(acceptedSchemes(prefixes));

  if (Buffer.byteLength(value, "latin1") > MAX_HEADER_BYTES) {
    return fail(
      refuse(
        "authorization_header_too_long",
        `The Authorization header is longer than ${MAX_HEADER_BYTES} bytes; a credential is never that long. ` +
          `Accepted schemes: ${accepted}.`,
        prefixes,
      ),
    );
  }
  if (!PRINTABLE.test(value)) {
    return fail(
      refuse(
        "authorization_header_not_ascii",
        "The Authorization header contains characters outside visible ASCII; schemes and tokens are ASCII. " +
          `Accepted schemes: ${accepted}.`,
        prefixes,
      ),
    );
  }
  // DRF and SimpleJWT split on runs of whitespace, so extra spaces around and between parts are fine.
  const parts = value
    .trim()
    .split(/[ \t]+/)
    .filter(Boolean);
  const [scheme, credential] = parts;
  if (scheme === undefined) {
    return fail(
      refuse(
        "authorization_header_empty",
        'The Authorization header was sent empty. Send "<scheme> <credential>" ' +
          `with one of the accepted schemes: ${accepted}.`,
        prefixes,
        "",
      ),
    );
  }

  const isToken = has(prefixes.token, scheme);
  const isJwt = has(prefixes.jwt, scheme);
  if (!isToken && !isJwt) {
    if (parts.length === 1 && (JWT_SHAPE.test(scheme) || OPAQUE_SHAPE.test(scheme))) {
      return fail(
        refuse(
          "authorization_scheme_missing",
          'The Authorization header holds a credential without a scheme. Send "<scheme> <credential>" ' +
            `with one of the accepted schemes: ${accepted}.`,
          prefixes,
        ),
      );
    }
    const shown = scheme.length > 40 ? `${scheme.slice(0, 40)}…` : scheme;
    return fail(
      refuse(
        "authorization_scheme_not_accepted",
        `Authorization scheme "${shown}" is not accepted. Accepted schemes: ${accepted}.`,
        prefixes,
        shown,
      ),
    );
  }

  // Malformed credentials under a known scheme: DRF's and SimpleJWT's own words.
  if (credential === undefined || parts.length > 2) {
    if (isToken) {
      const detail =
        credential === undefined
          ? "Invalid token header. No credentials provided."
          : "Invalid token header. Token string should not contain spaces.";
      return fail(new AuthError("authorization_header_invalid", detail));
    }
    return fail(
      new AuthError("bad_authorization_header", "Authorization header must contain two space-delimited values", {
        data: { code: "bad_authorization_header" },
      }),
    );
  }

  const jwtShaped = JWT_SHAPE.test(credential);
  if (isToken && isJwt) return { kind: jwtShaped ? "jwt" : "opaque", scheme, credential };
  if (isToken) {
    if (!jwtShaped) return { kind: "opaque", scheme, credential };
    const jwtSchemes = quoteList(prefixes.jwt);
    return fail(
      new AuthError(
        "jwt_behind_token_scheme",
        `This credential is a JWT, but the "${scheme}" scheme carries opaque tokens. ` +
          `Send it as "${prefixes.jwt[0]} <jwt>" (JWT schemes: ${jwtSchemes}).`,
        { data: { code: "jwt_behind_token_scheme", scheme_received: scheme, schemes_accepted: [...prefixes.jwt] } },
      ),
    );
  }
  if (OPAQUE_SHAPE.test(credential) && prefixes.token.length) {
    // An authtoken key behind a JWT prefix: the detail says so, naming both prefixes. Status,
    // code and messages stay SimpleJWT's, so a client that refreshes on token_not_valid behaves
    // the same; `hint` (the same words) stays for clients that read it.
    const detail =
      `This looks like an opaque token, but the "${scheme}" scheme carries JWTs. ` +
      `Opaque tokens are accepted behind ${quoteList(prefixes.token)}: send it as "${prefixes.token[0]} <key>".`;
    const data = { hint: detail, scheme_received: scheme, schemes_accepted: [...prefixes.token] };
    return fail(tokenNotValid(undefined, data, detail));
  }
  return { kind: "jwt", scheme, credential };
}

function fail(error: AuthError): never {
  throw error;
}
