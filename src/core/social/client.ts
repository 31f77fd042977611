// Talking to the providers, through openid-client: discovery (cached per provider), the
// authorization URL (PKCE S256, the nonce, Apple's form_post), and the completion, where the
// library checks the response's state and issuer, then the ID token's signature (the provider's
// JWKS, see enableNonRepudiationChecks), iss, aud, exp and nonce. GitHub has no ID token: its
// user and verified emails come from its API with the access token.
import jwt from "jsonwebtoken";
import * as oidc from "openid-client";
import type { Provider } from "../../config/social-providers.ts";
import { AuthError } from "../../errors.ts";
import type { Deps } from "../deps.ts";
import { nonceOf, type State, socialError, verifierOf } from "./state.ts";

/** What a provider said of the account. */
export type Profile = {
  uid: string;
  email: string;
  emailVerified: boolean;
  username?: string;
  firstName?: string;
  lastName?: string;
};

const configs = new Map<string, Promise<oidc.Configuration>>();
const isLoopback = (url: string) => new URL(url).protocol === "http:";

/** Apple's client secret: a short-lived ES256 JWT of the team's key (python-social-auth's apple-id). */
function appleAuth(p: Provider): oidc.ClientAuth {
  const key = p.appleKey!;
  return (_as, client, body) => {
    const secret = jwt.sign({}, key.privateKey, {
      algorithm: "ES256",
      keyid: key.keyId,
      issuer: key.teamId,
      subject: p.clientId,
      audience: p.issuer,
      expiresIn: 300,
    });
    body.set("client_id", client.client_id);
    body.set("client_secret", secret);
  };
}

function configure(deps: Deps, p: Provider): Promise<oidc.Configuration> {
  const auth = p.appleKey ? appleAuth(p) : oidc.ClientSecretPost(p.clientSecret);
  const timeout = deps.settings.SOCIAL_AUTH.URLOPEN_TIMEOUT;
  const insecure = isLoopback(p.issuer) ? [oidc.allowInsecureRequests] : [];
  // The library skips the ID token's signature when it comes straight from the token endpoint
  // (OIDC Core allows it over TLS); here it is checked against the provider's JWKS all the same.
  const execute = [...insecure, oidc.enableNonRepudiationChecks];
  if (p.kind === "oidc") return oidc.discovery(new URL(p.issuer), p.clientId, undefined, auth, { execute, timeout });
  const server = {
    issuer: p.issuer,
    authorization_endpoint: `${p.issuer}/login/oauth/authorize`,
    token_endpoint: `${p.issuer}/login/oauth/access_token`,
  };
  const config = new oidc.Configuration(server, p.clientId, undefined, auth);
  config.timeout = timeout;
  config[oidc.customFetch] = githubErrors;
  for (const step of insecure) step(config);
  return Promise.resolve(config);
}

/**
 * GitHub answers a refused code with a 200 whose body is {error, error_description}; as the 400 of
 * RFC 6749 it would be, the library reports the error itself rather than a missing access_token.
 */
async function githubErrors(url: string, init: oidc.CustomFetchOptions): Promise<Response> {
  const res = await fetch(url, init as RequestInit);
  if (res.status !== 200 || !url.endsWith("/access_token")) return res;
  const text = await res.text();
  let refused = false;
  try {
    refused = typeof JSON.parse(text).error === "string";
  } catch {
    // not JSON: the library reports it
  }
  return new Response(text, { status: refused ? 400 : 200, headers: res.headers });
}

/** The provider's configuration; a failed discovery is tried again on the next request. */
function configOf(deps: Deps, p: Provider): Promise<oidc.Configuration> {
  const id = `${p.name}\0${p.issuer}\0${p.clientId}`;
  let config = configs.get(id);
  if (!config) {
    config = configure(deps, p);
    configs.set(id, config);
    config.catch(() => configs.delete(id));
  }
  return config;
}

const isNetwork = (e: unknown): boolean =>
  e instanceof Error &&
  (e.name === "TimeoutError" || e.name === "AbortError" || e.message === "fetch failed" || isNetwork(e.cause));

/** A provider's refusal as a 400 the user can act on; a provider out of reach as a 503. */
function failure(deps: Deps, p: Provider, e: unknown): AuthError {
  if (e instanceof AuthError) return e;
  deps.log.info({ provider: p.name, err: (e as Error).message }, "social sign-in failed");
  if (isNetwork(e))
    return new AuthError("service_unavailable", `Could not reach ${p.name}: try again shortly.`, { retryAfter: 5 });
  const said = e as { error?: string; error_description?: string; message?: string; cause?: unknown };
  // openid-client wraps oauth4webapi's error, whose message names the claim ('unexpected ID Token "nonce"…').
  const detail = said.cause instanceof Error ? said.cause.message : said.message;
  const reason = said.error ? [said.error, said.error_description].filter(Boolean).join(": ") : detail;
  const shown = (reason ?? "the provider's answer could not be used").slice(0, 300); // a callback's own text
  return socialError(`Authentication failed: ${shown}.`);
}

export async function authorizationUrl(deps: Deps, p: Provider, state: State, value: string): Promise<string> {
  try {
    const config = await configOf(deps, p);
    const params: Record<string, string> = {
      redirect_uri: state.r,
      scope: p.scope,
      state: value,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifierOf(deps, state)),
      code_challenge_method: "S256",
    };
    if (p.kind === "oidc") params.nonce = nonceOf(deps, state);
    if (p.responseMode) params.response_mode = p.responseMode;
    return oidc.buildAuthorizationUrl(config, params).href;
  } catch (e) {
    throw failure(deps, p, e);
  }
}

const text = (v: unknown) => (typeof v === "string" ? v : undefined);
const RESPONSE = ["code", "state", "iss", "error", "error_description"];

/** The code (and what came with it) traded for the account's profile. */
export async function exchange(
  deps: Deps,
  p: Provider,
  state: State,
  value: string,
  params: Record<string, unknown>,
): Promise<Profile> {
  try {
    const config = await configOf(deps, p);
    const url = new URL(state.r);
    for (const k of RESPONSE) if (typeof params[k] === "string") url.searchParams.set(k, params[k] as string);
    // A client that forwards only code and state (Djoser's) drops the issuer; the state names the
    // provider already, which is what the parameter protects.
    const server = config.serverMetadata();
    if (!url.searchParams.has("iss") && server.authorization_response_iss_parameter_supported)
      url.searchParams.set("iss", server.issuer);
    const tokens = await oidc.authorizationCodeGrant(config, url, {
      pkceCodeVerifier: verifierOf(deps, state),
      expectedState: value,
      ...(p.kind === "oidc" ? { expectedNonce: nonceOf(deps, state), idTokenExpected: true } : {}),
    });
    if (p.kind === "github") return await githubProfile(config, p, tokens.access_token);
    const profile = await oidcProfile(config, p, tokens);
    return p.appleKey ? { ...appleName(params.user), ...withoutUnset(profile) } : profile;
  } catch (e) {
    throw failure(deps, p, e);
  }
}

async function oidcProfile(
  config: oidc.Configuration,
  p: Provider,
  tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
): Promise<Profile> {
  let claims: Record<string, unknown> = { ...tokens.claims()! };
  // Providers that keep the ID token small put the email in the UserInfo answer only.
  if (claims.email === undefined && config.serverMetadata().userinfo_endpoint)
    claims = { ...(await oidc.fetchUserInfo(config, tokens.access_token, String(claims.sub))), ...claims };
  const parts = p.uidClaims.map((c) => text(claims[c]));
  if (parts.some((part) => !part))
    throw socialError(`Authentication failed: the ID token has no ${p.uidClaims.join(" and ")}.`);
  const verified = claims.email_verified;
  return {
    uid: parts.join(":"),
    email: text(claims.email) ?? "",
    // Apple says "true" as a string.
    emailVerified: verified === true || verified === "true",
    username: text(claims.preferred_username),
    firstName: text(claims.given_name),
    lastName: text(claims.family_name),
  };
}

const withoutUnset = (o: Profile) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Profile;

/** Apple's ID token has no name: it comes once, at the first sign-in, as the `user` form field. */
function appleName(raw: unknown): Partial<Profile> {
  if (typeof raw !== "string" || raw.length > 2048) return {};
  try {
    const name = (JSON.parse(raw) as { name?: { firstName?: unknown; lastName?: unknown } })?.name;
    return { firstName: text(name?.firstName), lastName: text(name?.lastName) };
  } catch {
    return {};
  }
}

type GithubEmail = { email: string; primary: boolean; verified: boolean };

async function githubProfile(config: oidc.Configuration, p: Provider, access: string): Promise<Profile> {
  const get = async (path: string) => {
    const headers = new Headers({ accept: "application/vnd.github+json" });
    const res = await oidc.fetchProtectedResource(config, access, new URL(`${p.apiUrl}${path}`), "GET", null, headers);
    if (!res.ok) throw socialError(`Authentication failed: GitHub answered ${res.status} for ${path}.`);
    return res.json();
  };
  const user = (await get("/user")) as { id?: unknown; login?: unknown; name?: unknown };
  if (typeof user.id !== "number" && typeof user.id !== "string")
    throw socialError("Authentication failed: GitHub gave no user id.");
  const emails = ((await get("/user/emails")) as GithubEmail[]).filter((e) => e?.verified === true);
  const email = emails.find((e) => e.primary) ?? emails[0];
  const [firstName, ...rest] = (text(user.name) ?? "").split(" ");
  return {
    uid: String(user.id),
    email: email?.email ?? "",
    emailVerified: !!email,
    username: text(user.login),
    firstName: firstName || undefined,
    lastName: rest.join(" ") || undefined,
  };
}
