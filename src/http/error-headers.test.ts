// Retry-After and WWW-Authenticate come from an error's data, the same for both adapters.
import { describe, expect, it } from "vitest";
import type { Settings } from "../config/schema.ts";
import { AuthError, throttled } from "../errors.ts";
import { errorHeaders } from "./error-headers.ts";

const settings = { TOKEN_AUTH_HEADER_TYPES: ["Token", "ApiKey"] } as Settings;

describe("errorHeaders", () => {
  it("a 401 without a challenge offers the first token keyword (DRF's TokenAuthentication)", () => {
    expect(errorHeaders([new AuthError("not_authenticated")], settings)).toEqual({ "WWW-Authenticate": "Token" });
  });

  it("a challenge lists its schemes: token keywords bare, JWT prefixes with a realm", () => {
    const challenge = { token: ["Token"], jwt: ["JWT", "Bearer"] };
    const e = new AuthError("authorization_scheme_not_accepted", undefined, { challenge });
    expect(errorHeaders([e], settings)).toEqual({ "WWW-Authenticate": 'Token, JWT realm="api", Bearer realm="api"' });
  });

  it("retryAfter is Retry-After in whole seconds; no header for an error with neither", () => {
    expect(errorHeaders([throttled(1.2)], settings)).toEqual({ "Retry-After": "2" });
    expect(errorHeaders([new AuthError("not_found")], settings)).toEqual({});
  });

  it("a batch: every error's headers, one challenge when any error is a 401", () => {
    const headers = errorHeaders([throttled(3), new AuthError("not_authenticated")], settings);
    expect(headers).toEqual({ "Retry-After": "3", "WWW-Authenticate": "Token" });
  });
});
