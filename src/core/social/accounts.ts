// Who a provider's account is here. A linked identity signs its user in. An unknown one creates a
// user (python-social-auth's pipeline: a username from the profile, an unusable password), except
// where an account has the email already: linking it would hand that account to whoever controls
// the address at the provider (pre-account takeover), so only ASSOCIATE_BY_EMAIL, for an address
// the provider verified, links it; otherwise its owner signs in and links the provider there.
import { randomBytes } from "node:crypto";
import { normalizeEmail } from "../../compat/django/validators.ts";
import type { ProviderAccount } from "../../db/store/index.ts";
import { audit } from "../audit.ts";
import type { Deps, RequestMeta, User } from "../deps.ts";
import { isEmailLogin, loginColumns } from "../identity.ts";
import type { Profile } from "./client.ts";
import { socialError } from "./state.ts";

const NAME_MAX = 150;

export const accountOf = (provider: string, p: Profile): ProviderAccount => ({
  provider,
  uid: p.uid,
  email: normalizeEmail(p.email),
  emailVerified: p.emailVerified,
});

/** The user the provider's account signs in: linked, linked by a verified email (if allowed), or new. */
export async function userFor(deps: Deps, provider: string, profile: Profile, meta: RequestMeta): Promise<User> {
  const account = accountOf(provider, profile);
  const linked = await deps.store.social.signIn(account);
  if (linked) return linked.user;
  const matches = account.email ? await deps.store.users.withEmail(account.email) : [];
  const [only] = matches;
  const associate = deps.settings.SOCIAL_AUTH.ASSOCIATE_BY_EMAIL && account.emailVerified;
  if (associate && matches.length === 1 && only!.isActive && !only!.activationPending) {
    const { ownerId } = await deps.store.social.link(only!.id, account);
    if (ownerId === only!.id) {
      await audit(deps, "social_linked", meta, only!.id, { provider });
      return only!;
    }
  }
  if (matches.length) throw emailTaken(provider);
  return createUser(deps, account, profile, meta);
}

const emailTaken = (provider: string) =>
  socialError(
    `An account with this email address exists already: sign in to it, then link ${provider} ` +
      `from there (/auth/social/link/${provider}/).`,
  );

/** Django's username characters, from the profile's name or the email's local part. */
function derivedUsername(deps: Deps, account: ProviderAccount, profile: Profile): string {
  if (deps.settings.SOCIAL_AUTH.USERNAME_IS_FULL_EMAIL && account.email) return account.email.slice(0, NAME_MAX);
  const source = profile.username ?? account.email.split("@")[0] ?? "";
  const name = source.normalize("NFKC").replace(/[^\w.@+-]/g, "");
  return (name || account.provider.replace(/[^\w]/g, "")).slice(0, NAME_MAX - deps.settings.SOCIAL_AUTH.UUID_LENGTH);
}

async function createUser(deps: Deps, account: ProviderAccount, profile: Profile, meta: RequestMeta): Promise<User> {
  const { settings } = deps;
  const { provider } = account;
  // Without a verified address, an account made active here would skip the activation Djoser asks.
  if (settings.DJOSER.SEND_ACTIVATION_EMAIL && !account.emailVerified)
    throw socialError(`${provider} has not verified this email address: verify it there, then sign in again.`);
  if (isEmailLogin(settings) && !account.email)
    throw socialError(`${provider} gave no email address, which an account here needs.`);
  const base = isEmailLogin(settings) ? account.email : derivedUsername(deps, account, profile);
  const suffix = () => randomBytes(16).toString("hex").slice(0, settings.SOCIAL_AUTH.UUID_LENGTH);
  for (let attempt = 0; attempt < 4; attempt++) {
    const login = attempt === 0 || isEmailLogin(settings) ? base : `${base}${suffix()}`;
    const user = await deps.store.users.create({
      username: null,
      emailKey: null,
      email: account.email,
      ...loginColumns(settings, login),
      password: `!${randomBytes(30).toString("base64url")}`, // Django's unusable password
      isActive: true,
      firstName: (profile.firstName ?? "").slice(0, NAME_MAX),
      lastName: (profile.lastName ?? "").slice(0, NAME_MAX),
      socialIdentities: { create: account },
    });
    if (user !== "taken") {
      await audit(deps, "social_linked", meta, user.id, { provider });
      return user;
    }
    // The identity was linked meanwhile (a second completion of the same account): sign that in.
    const linked = await deps.store.social.signIn(account);
    if (linked) return linked.user;
    if (isEmailLogin(settings)) throw emailTaken(provider);
  }
  throw socialError("Could not find a free username: try again.");
}

/** A linked user may sign in only while active (staff may have turned the account off). */
export function assertMaySignIn(user: User): void {
  if (user.activationPending) throw socialError("This account is not activated yet: use the link mailed to it.");
  if (!user.isActive) throw socialError("This account is disabled.");
}
