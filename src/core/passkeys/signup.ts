// Djoser 2.3's passwordless sign-up: signup_request/ answers creation options for a username (its
// ukey is the options' user.id, which Djoser's client posts back as signup/<ukey>/); signup/<ukey>/
// takes the user fields and the new credential, and creates both in one write. The account's
// password is unusable (Django's "!…"): only passkeys sign it in, until a password reset.
import { randomBytes } from "node:crypto";
import { normalizeEmail } from "../../compat/django/validators.ts";
import { AuthError, invalid } from "../../errors.ts";
import { audit } from "../audit.ts";
import type { Deps, RequestMeta } from "../deps.ts";
import type { PublicUser, SignupOptions } from "../dto.ts";
import { isLoginTaken, loginColumns, loginTaken } from "../identity.ts";
import { charField, clientInput, emailField, form, noSurrogate, parseInput, usernameField } from "../inputs.ts";
import { mailRows } from "../mail/queue.ts";
import { creationOptions, randomKey, registrationJson, standardFields, verifyCreation } from "./ceremony.ts";
import { keepChallenge, takeChallenge } from "./challenges.ts";

// Both go into a JSON column with the challenge, which cannot hold a lone surrogate (DRF refuses them too).
const REQUEST = form({
  username: charField({ maxLength: 254 }).superRefine(noSurrogate),
  display_name: charField({ maxLength: 150 }).superRefine(noSurrogate),
});
export const signupRequestFields = clientInput(REQUEST);
const USER = form({ username: usernameField().optional(), email: emailField({ allowBlank: true }).optional() });
export const signupFields = clientInput(USER.extend({ credential: registrationJson }));
export const webauthnFailed = () => new AuthError("webauthn_failed");

/** signup_request/: creation options for a name not taken yet, with its ukey. */
export async function signupRequest(deps: Deps, raw: unknown, meta: RequestMeta): Promise<SignupOptions> {
  await deps.throttle("registration", [`ip:${meta.ip}`]);
  const { username, display_name } = parseInput(REQUEST, raw);
  if (await isLoginTaken(deps, username)) throw invalid({ username: [`User ${username} already exists.`] });
  const ukey = randomKey(deps.settings.DJOSER.WEBAUTHN.UKEY_LENGTH);
  const options = await creationOptions(deps, { handle: ukey, name: username, displayName: display_name }, []);
  await keepChallenge(deps, "signup", ukey, { challenge: options.challenge, data: { username, display_name } });
  return { ...options, ukey };
}

/** signup/<ukey>/: the user fields (the name asked for by default) and the credential → 201 the user. */
export async function signup(deps: Deps, ukey: string, raw: unknown, meta: RequestMeta): Promise<PublicUser> {
  const { settings } = deps;
  const body = (typeof raw === "object" && raw && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  const fields = parseInput(USER, body);
  const parsed = registrationJson.safeParse(standardFields((body.credential as Record<string, unknown>) ?? body));
  if (ukey.length > 128) throw new AuthError("not_found");
  const pending = await takeChallenge(deps, "signup", ukey);
  if (!pending) throw new AuthError("not_found");
  const asked = (pending.data as { username: string }).username;
  const emailLogin = settings.USERNAME_FIELD === "email";
  const login = emailLogin ? normalizeEmail(fields.email ?? asked) : (fields.username ?? asked);
  // The name the options were made for: a ukey for "alice" does not sign up "bob".
  if (login !== asked) throw invalid({ [settings.USERNAME_FIELD]: ["Does not match the name of signup_request/."] });
  if (!parsed.success) throw webauthnFailed();
  const credential = await verifyCreation(deps, parsed.data, pending.challenge);
  if (!credential) throw webauthnFailed();
  if (await isLoginTaken(deps, login)) throw loginTaken(settings);
  const email = emailLogin ? login : normalizeEmail(fields.email ?? "");
  const activation = settings.DJOSER.SEND_ACTIVATION_EMAIL;
  const { userVerified: _uv, ...passkey } = credential;
  const user = await deps.store.users.create(
    {
      username: null,
      emailKey: null,
      email,
      ...loginColumns(settings, login),
      password: `!${randomBytes(30).toString("base64url")}`, // Django's unusable password
      isActive: !activation,
      activationPending: activation,
      webauthnHandle: ukey,
      passkeys: { create: { ...passkey, name: "Passkey" } },
    },
    mailRows(deps, activation && email ? [{ kind: "activation", to: email }] : []),
  );
  if (user === "taken") throw loginTaken(settings);
  if (activation) deps.outbox.kick();
  await audit(deps, "passkey_added", meta, user.id, { factor: "webauthn" });
  return emailLogin
    ? { email: user.email, id: user.id }
    : { email: user.email, username: user.username ?? "", id: user.id };
}
