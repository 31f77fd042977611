// A signed-in user's passkeys: list, add (register options, then the new credential), rename,
// remove. Every change needs a recent sign-in (step-up), is audited and mailed; a user only ever
// reaches their own passkeys (another's is "not found").
import { AuthError, invalid } from "../../errors.ts";
import { audit } from "../audit.ts";
import type { Deps, Principal, RequestMeta, User } from "../deps.ts";
import type { PasskeyView, WebAuthnOptions } from "../dto.ts";
import { charField, clientInput, form, parseInput } from "../inputs.ts";
import { requireRecentAuth } from "../login/step-up.ts";
import { queueMail } from "../mail/queue.ts";
import { creationOptions, randomKey, registrationJson, standardFields, verifyCreation } from "./ceremony.ts";
import { challengeIn, keepChallenge, type Purpose, takeChallenge } from "./challenges.ts";
import { webauthnFailed } from "./signup.ts";

const NAME = form({ name: charField({ maxLength: 64 }) });
export const renameFields = clientInput(NAME);
export const registerFields = clientInput(
  form({ name: charField({ maxLength: 64 }).optional(), credential: registrationJson }),
);

export async function listPasskeys(deps: Deps, principal: Principal): Promise<PasskeyView[]> {
  return (await deps.store.passkeys.listOf(principal.user.id)).map((p) => ({
    id: p.id,
    name: p.name,
    created: p.created.toISOString(),
    last_used: p.lastUsedAt?.toISOString() ?? null,
    device_type: p.deviceType,
    backed_up: p.backedUp,
    transports: p.transports ? p.transports.split(" ") : [],
  }));
}

/** Creation options for one more passkey of `user` (its existing ones excluded); the challenge kept. */
export async function newPasskeyOptions(deps: Deps, user: User, purpose: Purpose): Promise<WebAuthnOptions> {
  const handle = await deps.store.passkeys.handle(user.id, randomKey(deps.settings.DJOSER.WEBAUTHN.UKEY_LENGTH));
  const login = String(user[deps.settings.DJOSER.LOGIN_FIELD] ?? user.email);
  const existing = await deps.store.passkeys.listOf(user.id);
  const options = await creationOptions(deps, { handle, name: login, displayName: login }, existing);
  await keepChallenge(deps, purpose, options.challenge, { challenge: options.challenge, userId: user.id });
  return options;
}

/** Verifies a new credential of `user` against the challenge of `purpose` and stores it; its id. */
export async function addPasskey(deps: Deps, user: User, raw: unknown, purpose: Purpose, name = "Passkey") {
  const parsed = registrationJson.safeParse(standardFields((raw ?? {}) as Record<string, unknown>));
  if (!parsed.success) throw webauthnFailed();
  const challenge = challengeIn(parsed.data.response.clientDataJSON);
  const pending = challenge ? await takeChallenge(deps, purpose, challenge) : null;
  if (!pending || pending.userId !== user.id) throw webauthnFailed();
  const credential = await verifyCreation(deps, parsed.data, pending.challenge);
  if (!credential) throw webauthnFailed();
  const { userVerified: _uv, ...row } = credential;
  const id = await deps.store.passkeys.add(user.id, { ...row, name });
  if (id === null) throw invalid({ non_field_errors: ["This passkey is registered already."] });
  return id;
}

export async function registerOptions(deps: Deps, principal: Principal): Promise<WebAuthnOptions> {
  await requireRecentAuth(deps, principal);
  return newPasskeyOptions(deps, principal.user, "register");
}

export async function registerPasskey(
  deps: Deps,
  principal: Principal,
  raw: unknown,
  meta: RequestMeta,
): Promise<PasskeyView> {
  await requireRecentAuth(deps, principal);
  const body = (typeof raw === "object" && raw ? raw : {}) as Record<string, unknown>;
  const { name } = parseInput(form({ name: charField({ maxLength: 64 }).optional() }), { name: body.name });
  const id = await addPasskey(deps, principal.user, body.credential ?? body, "register", name);
  await audit(deps, "passkey_added", meta, principal.user.id, { passkey: id });
  await queueMail(deps, "mfa_changed", principal.user, { mfaChange: "passkey_added" });
  return (await listPasskeys(deps, principal)).find((p) => p.id === id)!;
}

export async function renamePasskey(
  deps: Deps,
  principal: Principal,
  id: number,
  raw: unknown,
  meta: RequestMeta,
): Promise<PasskeyView> {
  const { name } = parseInput(NAME, raw);
  await requireRecentAuth(deps, principal);
  if (!(await deps.store.passkeys.rename(principal.user.id, id, name))) throw new AuthError("not_found");
  await audit(deps, "passkey_renamed", meta, principal.user.id, { passkey: id });
  return (await listPasskeys(deps, principal)).find((p) => p.id === id)!;
}

export async function removePasskey(deps: Deps, principal: Principal, id: number, meta: RequestMeta) {
  await requireRecentAuth(deps, principal);
  if (!(await deps.store.passkeys.remove(principal.user.id, id))) throw new AuthError("not_found");
  await audit(deps, "passkey_removed", meta, principal.user.id, { passkey: id });
  await queueMail(deps, "mfa_changed", principal.user, { mfaChange: "passkey_removed" });
}
