// Djoser 2.3's passkey login: login_request/ answers request options (for a username's passkeys,
// or none named: a discoverable credential picks its own account), login/ verifies the assertion
// and hands out the credential Djoser's clients expect (its token; a JWT pair under
// WEBAUTHN.CREDENTIAL "jwt"). Djoser tells a name without passkeys by a 400; here every name gets
// options alike (a stable made-up credential for the others), so nothing tells who has an account.
import { createHmac } from "node:crypto";
import { AuthError } from "../../errors.ts";
import { audit } from "../audit.ts";
import type { Deps, RequestMeta } from "../deps.ts";
import type { AuthToken, TokenPair, WebAuthnOptions } from "../dto.ts";
import { findLoginUser } from "../identity.ts";
import { charField, clientInput, form, parseInput } from "../inputs.ts";
import { accountKey } from "../login/throttle.ts";
import { recordLogin } from "../login/verify.ts";
import { purposeKey } from "../secrets.ts";
import { startSession } from "../sessions/jwt.ts";
import { issueToken } from "../sessions/opaque.ts";
import { assertionJson, requestOptions, standardFields, verifyAssertion } from "./ceremony.ts";
import { challengeIn, keepChallenge, takeChallenge } from "./challenges.ts";
import { webauthnFailed } from "./signup.ts";

const REQUEST = form({ username: charField({ maxLength: 254 }).optional() });
export const loginRequestFields = clientInput(REQUEST);
export const loginFields = clientInput(
  form({ username: charField({ maxLength: 254 }).optional(), credential: assertionJson }),
);

/** A name's made-up credential: the same on every request, unrelated to any real one. */
const decoy = (deps: Deps, name: string) => ({
  credentialId: createHmac("sha256", purposeKey(deps.settings, "webauthn"))
    .update(`decoy:${accountKey(name)}`)
    .digest("base64url"),
  transports: "internal hybrid",
});

/** login_request/: request options; the challenge kept for login/. */
export async function loginRequest(deps: Deps, raw: unknown, meta: RequestMeta): Promise<WebAuthnOptions> {
  const { username } = parseInput(REQUEST, raw);
  await deps.throttle("login", [`ip:${meta.ip}`, username && accountKey(username)]);
  const user = username ? await findLoginUser(deps, deps.settings.DJOSER.LOGIN_FIELD, username) : null;
  const passkeys = user?.isActive ? await deps.store.passkeys.listOf(user.id) : [];
  const allow = username ? (passkeys.length ? passkeys : [decoy(deps, username)]) : [];
  const options = await requestOptions(deps, allow);
  await keepChallenge(deps, "login", options.challenge, { challenge: options.challenge, userId: user?.id ?? null });
  return options;
}

/** login/: {username?, …assertion} → Djoser's {auth_token} (201), or the JWT pair. */
export async function passkeyLogin(deps: Deps, raw: unknown, meta: RequestMeta): Promise<AuthToken | TokenPair> {
  const body = (typeof raw === "object" && raw && !Array.isArray(raw) ? raw : {}) as Record<string, unknown>;
  const { username } = parseInput(REQUEST, { username: body.username });
  await deps.throttle("login", [`ip:${meta.ip}`, username && accountKey(username)]);
  const parsed = assertionJson.safeParse(standardFields((body.credential as Record<string, unknown>) ?? body));
  if (!parsed.success) throw webauthnFailed();
  const assertion = parsed.data;
  const challenge = challengeIn(assertion.response.clientDataJSON);
  const pending = challenge ? await takeChallenge(deps, "login", challenge) : null;
  const passkey = pending ? await deps.store.passkeys.byCredentialId(assertion.id) : null;
  if (!pending || !passkey?.user.isActive) throw webauthnFailed();
  const { user } = passkey;
  // The passkey must be the account's the options were for (by name, or by the handle it carries).
  if (pending.userId !== null && pending.userId !== user.id) throw webauthnFailed();
  const handle = assertion.response.userHandle;
  if (pending.userId === null && handle && handle !== user.webauthnHandle) throw webauthnFailed();
  const verified = await verifyAssertion(deps, assertion, pending.challenge, passkey);
  if (!verified) throw webauthnFailed();
  await deps.store.passkeys.used(
    passkey.id,
    verified.newCounter,
    verified.credentialDeviceType,
    verified.credentialBackedUp,
  );
  // A passkey that verified its user (a PIN, a fingerprint) is two factors in one; one that did not
  // is possession alone, which is not enough for an account with MFA on.
  if (!verified.userVerified && (await deps.store.mfa.activeNames(user.id)).length)
    throw new AuthError("mfa_required", undefined, { data: { code: "mfa_required" } });
  meta.factors = verified.userVerified ? ["hwk", "user"] : ["hwk"];
  const kind = deps.settings.DJOSER.WEBAUTHN.CREDENTIAL;
  const [credential] = await Promise.all([
    kind === "jwt" ? startSession(deps, user, meta) : issueToken(deps, user, meta).then((key) => ({ auth_token: key })),
    recordLogin(deps, user, kind === "jwt" && !deps.settings.SIMPLE_JWT.UPDATE_LAST_LOGIN ? "linkEpoch" : "lastLogin"),
  ]);
  await audit(deps, "login_succeeded", meta, user.id, { method: kind, factor: "webauthn" });
  return credential;
}
