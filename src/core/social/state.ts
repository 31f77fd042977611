// The OAuth `state` of a social sign-in, kept by nobody: a random id and what the completion needs
// (the provider, the redirect URI, the user linking, the expiry), signed with a key of SECRET_KEY.
// The PKCE verifier and the nonce are HMACs of the id under that key, so any instance that shares
// SECRET_KEY finishes a flow another one started, and the client sees neither. Completing a state
// records its id's hash (store.social.takeState): a state is used once, on every instance.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { AuthError } from "../../errors.ts";
import type { Deps } from "../deps.ts";
import { purposeKey } from "../secrets.ts";

/** What a state says: id, provider, redirect URI, the linking user's id (null: a sign-in), expiry (s). */
export type State = { i: string; p: string; r: string; u: number | null; e: number };
const payload = z.object({
  i: z.string(),
  p: z.string(),
  r: z.string(),
  u: z.number().int().nullable(),
  e: z.number(),
});

/** Djoser's (python-social-auth's) failures: a ValidationError, {"non_field_errors": [message]}. */
export const socialError = (message: string) =>
  new AuthError("social_failed", message, { fields: { non_field_errors: [message] } });

const MISSING = "State could not be found in request data.";
const INVALID = "Invalid state has been provided.";
const MAX_STATE = 2048;

const mac = (deps: Deps, what: string) =>
  createHmac("sha256", purposeKey(deps.settings, "social")).update(what).digest("base64url");

/** The PKCE verifier (43 characters of base64url, as RFC 7636 asks) and the nonce of a state. */
export const verifierOf = (deps: Deps, state: State) => mac(deps, `pkce:${state.i}`);
export const nonceOf = (deps: Deps, state: State) => mac(deps, `nonce:${state.i}`);

export function newState(deps: Deps, provider: string, redirectUri: string, linkingUser: number | null) {
  const state: State = {
    i: randomBytes(16).toString("base64url"),
    p: provider,
    r: redirectUri,
    u: linkingUser,
    e: Math.floor(Date.now() / 1000) + deps.settings.SOCIAL_AUTH.STATE_TTL,
  };
  const body = Buffer.from(JSON.stringify(state)).toString("base64url");
  return { state, value: `${body}.${mac(deps, `state:${body}`)}` };
}

/** The state a completion sent, checked (signature, provider, expiry) and spent; or the reason why not. */
export async function takeState(deps: Deps, value: unknown, provider: string): Promise<State> {
  if (typeof value !== "string" || value === "") throw socialError(MISSING);
  if (value.length > MAX_STATE) throw socialError(INVALID);
  const [body = "", sig = ""] = value.split(".");
  const want = Buffer.from(mac(deps, `state:${body}`));
  const got = Buffer.from(sig);
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw socialError(INVALID);
  let parsed: State;
  try {
    parsed = payload.parse(JSON.parse(Buffer.from(body, "base64url").toString("utf8")));
  } catch {
    throw socialError(INVALID);
  }
  if (parsed.p !== provider) throw socialError(INVALID);
  if (parsed.e * 1000 <= Date.now()) throw socialError("The sign-in took too long: start again.");
  const idHash = createHash("sha256").update(parsed.i).digest("hex");
  if (!(await deps.store.social.takeState(idHash, new Date(parsed.e * 1000))))
    throw socialError("This sign-in was completed already: start again.");
  return parsed;
}
