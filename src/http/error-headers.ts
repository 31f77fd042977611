// The headers an error answer carries, alike in both adapters: built here from the errors' data,
// since the services only say how long to wait (retryAfter) and which schemes a 401 offers (challenge).
import type { Settings } from "../config/schema.ts";
import type { AuthError } from "../errors.ts";
import { challenge } from "./authorization.ts";

/** Retry-After and WWW-Authenticate for the errors of one answer (a tRPC batch holds several: a later one wins). */
export function errorHeaders(errors: readonly AuthError[], settings: Settings): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const e of errors) {
    if (e.retryAfter !== undefined) headers["Retry-After"] = String(e.retryAfter);
    if (e.challenge) headers["WWW-Authenticate"] = challenge(e.challenge);
  }
  // DRF's TokenAuthentication.authenticate_header: any other 401 offers the first token keyword.
  if (errors.some((e) => e.status === 401))
    headers["WWW-Authenticate"] ??= challenge({ token: settings.TOKEN_AUTH_HEADER_TYPES.slice(0, 1), jwt: [] });
  return headers;
}
