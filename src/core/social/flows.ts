// Social sign-in, Djoser's two steps without its server-side session: GET o/<provider>/ answers
// the authorization URL (its state signed, see state.ts); POST o/<provider>/ with the code and the
// state answers the credential (SOCIAL_AUTH_TOKEN_STRATEGY's), or MFA's ephemeral token for a user
// with a second factor on. A signed-in user links more providers the same way, and lists and
// unlinks them.

import type { Settings } from "../../config/schema.ts";
import { type Provider, socialProviders } from "../../config/social-providers.ts";
import { AuthError } from "../../errors.ts";
import { audit } from "../audit.ts";
import type { Deps, Principal, RequestMeta } from "../deps.ts";
import type { AuthorizationUrl, SocialIdentityView, SocialSignIn } from "../dto.ts";
import { requireRecentAuth } from "../login/step-up.ts";
import { type CredentialKind, issue, secondStep } from "../mfa/login.ts";
import { accountOf, assertMaySignIn, userFor } from "./accounts.ts";
import { authorizationUrl, exchange } from "./client.ts";
import { newState, socialError, takeState } from "./state.ts";

const providers = new WeakMap<Settings, Map<string, Provider>>();
const MAX_CODE = 4096;

/** The provider the path names; 404 for one not configured (as Djoser 2.3). */
export function providerOf(deps: Deps, name: string): Provider {
  let all = providers.get(deps.settings);
  if (!all) {
    all = socialProviders(deps.settings.SOCIAL_AUTH);
    providers.set(deps.settings, all);
  }
  const provider = all.get(name);
  if (provider) return provider;
  const shown = /^[a-z0-9-]{1,64}$/.test(name) ? `"${name}" ` : "";
  throw new AuthError("provider_not_found", `The provider ${shown}is not configured on this server.`);
}

async function begin(deps: Deps, name: string, redirectUri: unknown, meta: RequestMeta, linking: number | null) {
  if (typeof redirectUri !== "string" || !deps.settings.DJOSER.SOCIAL_AUTH_ALLOWED_REDIRECT_URIS.includes(redirectUri))
    throw new AuthError("redirect_uri_not_allowed");
  const provider = providerOf(deps, name);
  await deps.throttle("login", [`ip:${meta.ip}`]);
  const { state, value } = newState(deps, provider.name, redirectUri, linking);
  return { authorization_url: await authorizationUrl(deps, provider, state, value) };
}

/** The state checked and spent, then the code traded for the account's profile. */
async function finish(
  deps: Deps,
  name: string,
  params: Record<string, unknown>,
  meta: RequestMeta,
  linking: number | null,
) {
  const provider = providerOf(deps, name);
  await deps.throttle("login", [`ip:${meta.ip}`]);
  const state = await takeState(deps, params.state, provider.name);
  if (state.u !== linking) throw socialError("Invalid state has been provided.");
  const code = params.code;
  if (params.error === undefined && (typeof code !== "string" || !code || code.length > MAX_CODE))
    throw socialError("The request has no valid code: send the code and state the provider returned.");
  const profile = await exchange(deps, provider, state, params.state as string, params);
  return { provider, profile };
}

/** GET o/<provider>/?redirect_uri=…: {authorization_url}. */
export const signInUrl = (
  deps: Deps,
  name: string,
  redirectUri: unknown,
  meta: RequestMeta,
): Promise<AuthorizationUrl> => begin(deps, name, redirectUri, meta, null);

/** POST o/<provider>/ with {code, state}: the credential, or the second step. */
export async function completeSignIn(
  deps: Deps,
  name: string,
  params: Record<string, unknown>,
  meta: RequestMeta,
  credential?: CredentialKind,
): Promise<SocialSignIn> {
  const { provider, profile } = await finish(deps, name, params, meta, null);
  const user = await userFor(deps, provider.name, profile, meta);
  assertMaySignIn(user);
  const kind = credential ?? deps.settings.DJOSER.SOCIAL_AUTH_TOKEN_STRATEGY;
  const methods = await deps.store.mfa.activeNames(user.id);
  if (methods.length) return secondStep(deps, user, `fed:${provider.name}`, kind, methods);
  meta.factors = ["fed"];
  meta.provider = provider.name;
  const issued = await issue(deps, user, kind, meta);
  await audit(deps, "login_succeeded", meta, user.id, { method: kind, factor: "fed", provider: provider.name });
  return { status: "ok", credential: issued, user: user.username ?? user.email };
}

const view = (row: {
  id: number;
  provider: string;
  uid: string;
  email: string;
  created: Date;
  lastUsedAt: Date | null;
}): SocialIdentityView => ({
  id: row.id,
  provider: row.provider,
  uid: row.uid,
  email: row.email,
  created: row.created.toISOString(),
  last_used: row.lastUsedAt?.toISOString() ?? null,
});

/** The authorization URL to link a provider to the caller (a sensitive action: a recent sign-in). */
export async function linkUrl(
  deps: Deps,
  principal: Principal,
  name: string,
  redirectUri: unknown,
  meta: RequestMeta,
): Promise<AuthorizationUrl> {
  await requireRecentAuth(deps, principal);
  return begin(deps, name, redirectUri, meta, principal.user.id);
}

/** Completes a link: the state must be the caller's, and the provider's account nobody else's. */
export async function link(
  deps: Deps,
  principal: Principal,
  name: string,
  params: Record<string, unknown>,
  meta: RequestMeta,
): Promise<SocialIdentityView> {
  const { provider, profile } = await finish(deps, name, params, meta, principal.user.id);
  const linked = await deps.store.social.link(principal.user.id, accountOf(provider.name, profile));
  if (linked.ownerId !== principal.user.id)
    throw socialError(`This ${provider.name} account is linked to another user: unlink it there first.`);
  if (linked.created) await audit(deps, "social_linked", meta, principal.user.id, { provider: provider.name });
  const rows = await deps.store.social.listOf(principal.user.id);
  return view(rows.find((r) => r.id === linked.id)!);
}

export async function identities(deps: Deps, principal: Principal): Promise<SocialIdentityView[]> {
  return (await deps.store.social.listOf(principal.user.id)).map(view);
}

/** Unlinks one of the caller's identities; never the last way the account has to sign in. */
export async function unlink(deps: Deps, principal: Principal, id: number, meta: RequestMeta): Promise<void> {
  await requireRecentAuth(deps, principal);
  const result = await deps.store.social.unlink(principal.user.id, id);
  if (!result) throw new AuthError("not_found", "No such identity.");
  if (result === "last")
    throw socialError("This is the account's only way to sign in: link another provider or add a passkey first.");
  await audit(deps, "social_unlinked", meta, principal.user.id, { provider: result.provider });
}
