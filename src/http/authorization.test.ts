// The Authorization parser: every way a header can be sent gets its own, precise outcome.
import { describe, expect, it } from "vitest";
import { AuthError } from "../errors.ts";
import { acceptedSchemes, challenge, MAX_HEADER_BYTES, type Prefixes, parseAuthorization } from "./authorization.ts";

const djoser: Prefixes = { token: ["Token"], jwt: ["JWT", "Bearer"] };
const KEY = "98fca4a9787c5e030b5b251f06344e1c56251e4b";
const JWT =
  "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwidXNlcl9pZCI6Mn0." +
  "Qe2bfnDJ0bAaIZc0E1G0m6EBinPI9P6fVPdUrdaeGa0";

function failure(value: string | undefined, prefixes = djoser): AuthError {
  try {
    parseAuthorization(value, prefixes);
  } catch (e) {
    expect(e).toBeInstanceOf(AuthError);
    return e as AuthError;
  }
  throw new Error(`expected ${JSON.stringify(value)} to be refused`);
}

describe("parseAuthorization", () => {
  it("no header at all is anonymous (the only case that may say 'not provided')", () => {
    expect(parseAuthorization(undefined, djoser)).toEqual({ kind: "none" });
  });

  it("an empty or blank header is refused, naming the accepted schemes", () => {
    for (const value of ["", "   ", "\t"]) {
      const e = failure(value);
      expect(e.code).toBe("authorization_header_empty");
      expect(e.status).toBe(401);
      expect(e.message).toContain('"Token", "JWT", "Bearer"');
      expect(e.message).not.toMatch(/not provided/i);
      expect(e.challenge && challenge(e.challenge)).toBe('Token, JWT realm="api", Bearer realm="api"');
    }
  });

  it("an opaque token behind the token keyword is accepted", () => {
    expect(parseAuthorization(`Token ${KEY}`, djoser)).toEqual({ kind: "opaque", scheme: "Token", credential: KEY });
  });

  it("a JWT behind a JWT prefix is accepted, under every configured prefix", () => {
    expect(parseAuthorization(`JWT ${JWT}`, djoser)).toEqual({ kind: "jwt", scheme: "JWT", credential: JWT });
    expect(parseAuthorization(`Bearer ${JWT}`, djoser)).toEqual({ kind: "jwt", scheme: "Bearer", credential: JWT });
  });

  it("schemes match case-insensitively (DRF's keyword; unlike SimpleJWT, which refuses 'jwt')", () => {
    expect(parseAuthorization(`token ${KEY}`, djoser).kind).toBe("opaque");
    expect(parseAuthorization(`TOKEN ${KEY}`, djoser).kind).toBe("opaque");
    expect(parseAuthorization(`jwt ${JWT}`, djoser).kind).toBe("jwt");
    expect(parseAuthorization(`bEaReR ${JWT}`, djoser).kind).toBe("jwt");
  });

  it("extra spaces and tabs around and between the parts are tolerated, as DRF's split() does", () => {
    expect(parseAuthorization(`  Token   ${KEY}  `, djoser)).toEqual({
      kind: "opaque",
      scheme: "Token",
      credential: KEY,
    });
    expect(parseAuthorization(`Bearer\t${JWT}`, djoser)).toEqual({ kind: "jwt", scheme: "Bearer", credential: JWT });
  });

  it("a scheme alone keeps DRF's and SimpleJWT's own words", () => {
    const token = failure("Token");
    expect([token.code, token.message]).toEqual([
      "authorization_header_invalid",
      "Invalid token header. No credentials provided.",
    ]);
    for (const scheme of ["JWT", "Bearer"]) {
      const jwt = failure(scheme);
      expect([jwt.code, jwt.message, jwt.data?.code]).toEqual([
        "bad_authorization_header",
        "Authorization header must contain two space-delimited values",
        "bad_authorization_header",
      ]);
    }
  });

  it("more than two parts keeps DRF's and SimpleJWT's own words", () => {
    expect(failure("Token a b").message).toBe("Invalid token header. Token string should not contain spaces.");
    expect(failure("JWT a b").code).toBe("bad_authorization_header");
  });

  it("an unknown scheme names the scheme received and the schemes accepted — never 'not provided'", () => {
    const e = failure(`Bogus ${KEY}`);
    expect(e.code).toBe("authorization_scheme_not_accepted");
    expect(e.status).toBe(401);
    expect(e.message).toBe('Authorization scheme "Bogus" is not accepted. Accepted schemes: "Token", "JWT", "Bearer".');
    expect(e.data).toMatchObject({
      code: "authorization_scheme_not_accepted",
      scheme_received: "Bogus",
      schemes_accepted: ["Token", "JWT", "Bearer"],
    });
    expect(e.challenge && challenge(e.challenge)).toBe('Token, JWT realm="api", Bearer realm="api"');
  });

  it("the famous failure: a valid JWT behind a prefix missing from AUTH_HEADER_TYPES is named as such", () => {
    const e = failure(`JWT ${JWT}`, { token: ["Token"], jwt: ["Bearer"] });
    expect(e.code).toBe("authorization_scheme_not_accepted");
    expect(e.message).toContain('"JWT" is not accepted');
    expect(e.message).toContain('"Bearer"');
  });

  it("a very long unknown scheme is shown truncated", () => {
    const e = failure(`${"X".repeat(100)} abc`);
    expect(e.data?.scheme_received).toBe(`${"X".repeat(40)}…`);
  });

  it("a bare credential without a scheme says the scheme is missing", () => {
    for (const bare of [KEY, JWT]) {
      const e = failure(bare);
      expect(e.code).toBe("authorization_scheme_missing");
      expect(e.message).toContain("without a scheme");
    }
  });

  it("a JWT behind the token keyword says it is a JWT and which prefix carries JWTs", () => {
    const e = failure(`Token ${JWT}`);
    expect(e.code).toBe("jwt_behind_token_scheme");
    expect(e.status).toBe(401);
    expect(e.message).toContain('Send it as "JWT <jwt>"');
  });

  it(
    "an opaque token behind a JWT prefix: a detail naming both prefixes, " + "SimpleJWT's status, code and messages",
    () => {
      const e = failure(`Bearer ${KEY}`);
      expect(e.code).toBe("token_not_valid");
      expect(e.status).toBe(401);
      const detail =
        'This looks like an opaque token, but the "Bearer" scheme carries JWTs. ' +
        'Opaque tokens are accepted behind "Token": send it as "Token <key>".';
      expect(e.message).toBe(detail);
      expect(e.data).toMatchObject({
        code: "token_not_valid",
        messages: [{ token_class: "AccessToken", token_type: "access", message: "Token is invalid or expired" }],
      });
      expect(e.data?.hint).toBe(detail);
      expect(e.data).toMatchObject({ scheme_received: "Bearer", schemes_accepted: ["Token"] });
      // The prefix as received, and every prefix that carries opaque keys.
      const custom = failure(`jwt ${KEY}`, { token: ["Token", "ApiKey"], jwt: ["JWT"] });
      expect(custom.message).toBe(
        'This looks like an opaque token, but the "jwt" scheme carries JWTs. ' +
          'Opaque tokens are accepted behind "Token", "ApiKey": send it as "Token <key>".',
      );
    },
  );

  it("garbage behind a JWT prefix goes to the JWT verifier, which refuses it in SimpleJWT's words", () => {
    expect(parseAuthorization("JWT garbage", djoser)).toEqual({ kind: "jwt", scheme: "JWT", credential: "garbage" });
  });

  it("a prefix in both lists carries both kinds, told apart by shape", () => {
    const both: Prefixes = { token: ["Token", "Bearer"], jwt: ["Bearer"] };
    expect(parseAuthorization(`Bearer ${KEY}`, both)).toEqual({ kind: "opaque", scheme: "Bearer", credential: KEY });
    expect(parseAuthorization(`Bearer ${JWT}`, both)).toEqual({ kind: "jwt", scheme: "Bearer", credential: JWT });
    expect(acceptedSchemes(both)).toEqual(["Token", "Bearer"]);
    expect(challenge(both)).toBe("Token, Bearer");
  });

  it("non-ASCII and control characters are refused with their own code", () => {
    for (const value of [`Token ${KEY}é`, "Tökén abc", `Token ${KEY}\u0000`, "Token \u2028abc"]) {
      const e = failure(value);
      expect(e.code).toBe("authorization_header_not_ascii");
      expect(e.status).toBe(401);
    }
  });

  it(`a header over ${MAX_HEADER_BYTES} bytes is refused before any other work`, () => {
    const e = failure(`Token ${"a".repeat(MAX_HEADER_BYTES)}`);
    expect(e.code).toBe("authorization_header_too_long");
    expect(e.message).toContain(String(MAX_HEADER_BYTES));
    // Just under the limit is parsed normally (and refused later by the token lookup).
    expect(parseAuthorization(`Token ${"a".repeat(MAX_HEADER_BYTES - 6)}`, djoser).kind).toBe("opaque");
  });

  it("custom prefixes from settings are honoured", () => {
    const custom: Prefixes = { token: ["ApiKey"], jwt: ["JWT"] };
    expect(parseAuthorization(`ApiKey ${KEY}`, custom).kind).toBe("opaque");
    expect(failure(`Token ${KEY}`, custom).message).toBe(
      'Authorization scheme "Token" is not accepted. Accepted schemes: "ApiKey", "JWT".',
    );
  });
});
