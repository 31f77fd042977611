// The methods Portcullis offers (TRENCH_AUTH.MFA_METHODS among those with a handler), by name.
import { AuthError } from "../../errors.ts";
import type { Deps } from "../deps.ts";
import { webauthnMethod } from "../passkeys/mfa-method.ts";
import { appMethod } from "./app.ts";
import { emailMethod } from "./email.ts";
import type { MethodHandler, MethodName } from "./method.ts";

const HANDLERS: Record<MethodName, MethodHandler> = { app: appMethod, email: emailMethod, webauthn: webauthnMethod };

/** The names of the methods offered, in the settings' order. */
export const offeredMethods = (deps: Deps): MethodName[] =>
  deps.settings.TRENCH_AUTH.MFA_METHODS.filter((name) => name in HANDLERS);

/** The handler of an offered method, or null. */
export function handlerOf(deps: Deps, name: string): MethodHandler | null {
  return (offeredMethods(deps) as string[]).includes(name) ? HANDLERS[name as MethodName] : null;
}

/** The handler of an offered method; trench's 400 for any other name. */
export function requireHandler(deps: Deps, name: string): MethodHandler {
  const handler = handlerOf(deps, name);
  if (!handler) throw new AuthError("mfa_method_does_not_exist");
  return handler;
}
