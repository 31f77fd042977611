// django-trench's MFA views as services: activate, confirm, deactivate, regenerate backup codes,
// request a code, the config, the active methods and the primary method. Its rules and words:
// errors a serializer raises come back as field errors ({"code": […]}), the others as trench's
// {"error": …} (the REST adapter renders them). Changes are audited and mailed to the user.
import { z } from "zod";
import { MFA_METHOD_NAMES } from "../../config/schema.ts";
import { AuthError, invalid } from "../../errors.ts";
import { audit } from "../audit.ts";
import type { Deps, Principal, RequestMeta } from "../deps.ts";
import type { ActiveMethod, BackupCodes, MfaConfig, MfaDetails } from "../dto.ts";
import { clientInput, form, parseInput } from "../inputs.ts";
import { requireRecentAuth } from "../login/step-up.ts";
import { type MfaChange, queueMail } from "../mail/queue.ts";
import { newAppSecret } from "./app.ts";
import { newBackupCodes } from "./backup.ts";
import { EMAIL_SENT } from "./email.ts";
import type { Proof } from "./method.ts";
import { offeredMethods, requireHandler } from "./registry.ts";
import { proofField, proveSecondFactor } from "./verify.ts";

const codeForm = (required: boolean) => form({ code: required ? proofField() : proofField().optional() });
const REQUIRED_CODE = codeForm(true);
const OPTIONAL_CODE = codeForm(false);
export const codeFields = clientInput(REQUIRED_CODE);
export const optionalCodeFields = clientInput(OPTIONAL_CODE);
const methodField = z
  .string({ error: "Not a valid string." })
  .max(255, "Ensure this field has no more than 255 characters.");
const REQUEST_CODE = form({ method: methodField.optional() });
export const requestCodeFields = clientInput(REQUEST_CODE);
const CHANGE_PRIMARY = form({ method: methodField, code: proofField() });
export const changePrimaryFields = clientInput(CHANGE_PRIMARY);

const codeError = (message: string) => invalid({ code: [message] });
const notify = (deps: Deps, principal: Principal, change: MfaChange) =>
  queueMail(deps, "mfa_changed", principal.user, { mfaChange: change });

/** trench's mfa/config/. */
export function mfaConfig(deps: Deps): MfaConfig {
  const t = deps.settings.TRENCH_AUTH;
  return {
    methods: offeredMethods(deps),
    confirm_disable_with_code: t.CONFIRM_DISABLE_WITH_CODE,
    confirm_regeneration_with_code: t.CONFIRM_BACKUP_CODES_REGENERATION_WITH_CODE,
    allow_backup_codes_regeneration: t.ALLOW_BACKUP_CODES_REGENERATION,
  };
}

/** trench's mfa/user-active-methods/. */
export async function activeMethods(deps: Deps, principal: Principal): Promise<ActiveMethod[]> {
  const rows = await deps.store.mfa.methods(principal.user.id);
  return rows.filter((r) => r.isActive).map((r) => ({ name: r.name, is_primary: r.isPrimary }));
}

/** <method>/activate/: the enrolment starts (a recent sign-in needed); {details} says what to do next. */
export async function activateMethod(
  deps: Deps,
  principal: Principal,
  method: string,
  meta: RequestMeta,
): Promise<MfaDetails> {
  const handler = requireHandler(deps, method);
  const { user } = principal;
  if ((await deps.store.mfa.method(user.id, handler.name))?.isActive) throw new AuthError("method_already_active");
  await requireRecentAuth(deps, principal);
  const secret = handler.name === "app" ? newAppSecret(deps, user.id) : "";
  const row = await deps.store.mfa.enrol(user.id, handler.name, secret);
  if (!row) throw new AuthError("method_already_active");
  return { details: await handler.enrol(deps, user, row, meta) };
}

/** <method>/activate/confirm/: the first code turns the method on; the backup codes, shown this once. */
export async function confirmMethod(
  deps: Deps,
  principal: Principal,
  method: string,
  raw: unknown,
  meta: RequestMeta,
): Promise<BackupCodes> {
  const { code } = parseInput(REQUIRED_CODE, raw);
  const handler = requireHandler(deps, method);
  const { user } = principal;
  const row = await deps.store.mfa.method(user.id, handler.name);
  if (!row) throw codeError("Requested MFA method does not exist.");
  if (row.isActive) throw codeError("MFA method already active.");
  await deps.throttle("login", [`ip:${meta.ip}`, `user:${user.id}`]);
  if (!(await handler.verify(deps, user, row, code as Proof, { kind: "confirm" }, meta)))
    throw codeError("Code invalid or expired.");
  const first = (await deps.store.mfa.activeNames(user.id)).length === 0;
  const { codes, hashes } = newBackupCodes(deps.settings, user.id);
  if (!(await deps.store.mfa.activate(user.id, handler.name, hashes))) throw codeError("MFA method already active.");
  await audit(deps, "mfa_enabled", meta, user.id, { factor: handler.name });
  await notify(deps, principal, first ? "enabled" : "method_added");
  return { backup_codes: codes };
}

/** A code in the request (of `method`, or a backup code) proves a fresh second factor; else step-up. */
async function freshFactor(deps: Deps, principal: Principal, code: unknown, meta: RequestMeta, method: string) {
  if (code === undefined) return requireRecentAuth(deps, principal);
  const proved = await proveSecondFactor(deps, principal.user, code as Proof, { kind: "action" }, meta, method);
  if (!proved) throw codeError("Code invalid or expired.");
}

/** <method>/deactivate/ (code required under CONFIRM_DISABLE_WITH_CODE; else a recent second factor). */
export async function deactivateMethod(
  deps: Deps,
  principal: Principal,
  method: string,
  raw: unknown,
  meta: RequestMeta,
) {
  const required = deps.settings.TRENCH_AUTH.CONFIRM_DISABLE_WITH_CODE;
  const { code } = parseInput(required ? REQUIRED_CODE : OPTIONAL_CODE, raw);
  const handler = requireHandler(deps, method);
  const { user } = principal;
  const row = await deps.store.mfa.method(user.id, handler.name);
  if (code !== undefined) {
    if (!row) throw codeError("Requested MFA method does not exist.");
    if (!row.isActive) throw codeError("2FA is not enabled.");
  }
  await freshFactor(deps, principal, code, meta, handler.name);
  if (!row) throw new AuthError("mfa_method_does_not_exist");
  const active = await deps.store.mfa.activeNames(user.id);
  if (row.isPrimary && active.length > 1) throw new AuthError("deactivation_of_primary");
  if (!row.isActive || !(await deps.store.mfa.deactivate(user.id, handler.name))) throw new AuthError("not_enabled");
  await audit(deps, "mfa_disabled", meta, user.id, { factor: handler.name });
  await notify(deps, principal, "disabled");
}

/** <method>/codes/regenerate/: new backup codes in place of the old ones. */
export async function regenerateBackupCodes(
  deps: Deps,
  principal: Principal,
  method: string,
  raw: unknown,
  meta: RequestMeta,
): Promise<BackupCodes> {
  const t = deps.settings.TRENCH_AUTH;
  if (!t.ALLOW_BACKUP_CODES_REGENERATION) throw new AuthError("backup_codes_regeneration_disabled");
  const { code } = parseInput(t.CONFIRM_BACKUP_CODES_REGENERATION_WITH_CODE ? REQUIRED_CODE : OPTIONAL_CODE, raw);
  const handler = requireHandler(deps, method);
  const { user } = principal;
  const row = await deps.store.mfa.method(user.id, handler.name);
  if (!row) throw codeError("Requested MFA method does not exist.");
  if (!row.isActive) throw codeError("2FA is not enabled.");
  await freshFactor(deps, principal, code, meta, handler.name);
  const { codes, hashes } = newBackupCodes(deps.settings, user.id);
  await deps.store.mfa.replaceBackupCodes(user.id, hashes);
  await audit(deps, "backup_codes_regenerated", meta, user.id, { factor: handler.name });
  await notify(deps, principal, "backup_codes_regenerated");
  return { backup_codes: codes };
}

/**
 * code/request/: sends (email) or prepares (webauthn: request options) what the next code answers.
 * trench answers "app" with the otpauth:// URI again; that hands the secret to whoever holds a
 * session, so this says to use the app instead.
 */
export async function requestCode(deps: Deps, principal: Principal, raw: unknown): Promise<MfaDetails> {
  const input = parseInput(REQUEST_CODE, raw);
  if (input.method !== undefined && !(offeredMethods(deps) as string[]).includes(input.method))
    throw invalid({ method: ["Requested MFA method does not exist."] });
  const { user } = principal;
  const name = input.method ?? (await deps.store.mfa.activeNames(user.id))[0];
  const row = name ? await deps.store.mfa.method(user.id, name) : null;
  if (!row) throw new AuthError("mfa_method_does_not_exist");
  const handler = requireHandler(deps, row.name);
  const details = await handler.dispatch(deps, user, row, null);
  return { details: details ?? (handler.name === "email" ? EMAIL_SENT : "Use the code your authenticator app shows.") };
}

/** mfa/change-primary-method/: {method, code}, the code of the new primary method (or a backup code). */
export async function changePrimaryMethod(deps: Deps, principal: Principal, raw: unknown, meta: RequestMeta) {
  const input = parseInput(CHANGE_PRIMARY, raw);
  if (
    !(MFA_METHOD_NAMES as readonly string[]).includes(input.method) ||
    !(offeredMethods(deps) as string[]).includes(input.method)
  )
    throw invalid({ method: [`"${input.method}" is not a valid choice.`] });
  await freshFactor(deps, principal, input.code, meta, input.method);
  if (!(await deps.store.mfa.setPrimary(principal.user.id, input.method)))
    throw new AuthError("new_primary_method_inactive");
  await audit(deps, "mfa_primary_changed", meta, principal.user.id, { factor: input.method });
  await notify(deps, principal, "primary_changed");
}
