// Login with a second factor, django-trench's two steps. The first checks the password (the same
// verifyLogin, throttle and lockout as token/login) and, for a user with MFA on, answers an
// ephemeral token instead of a credential; the second trades that token and a code for the
// credential. The token is random (only its SHA-256 kept), short-lived, single use, bound to the
// user and the first factor, and dropped after MAX_CODE_ATTEMPTS wrong codes.
import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import { AuthError } from "../../errors.ts";
import { audit, auditLogin } from "../audit.ts";
import type { Deps, RequestMeta, User } from "../deps.ts";
import type { Credential, FirstStep } from "../dto.ts";
import { charField, clientInput, form, parseInput, passwordField, perSettings } from "../inputs.ts";
import { recordLogin, verifyLogin } from "../login/verify.ts";
import { startSession } from "../sessions/jwt.ts";
import { issueToken } from "../sessions/opaque.ts";
import { requireHandler } from "./registry.ts";
import { proofField, proveSecondFactor } from "./verify.ts";

export type CredentialKind = "token" | "jwt";
export type { Credential, FirstStep };

// trench's LoginSerializer: the login field and password, both required.
const loginForm = <L extends "username" | "email">(field: L) =>
  form({ [field]: charField(), password: passwordField() } as Record<L | "password", ReturnType<typeof charField>>);
export const mfaLoginInput = perSettings((deps: Deps) => loginForm(deps.settings.DJOSER.LOGIN_FIELD));
const credentialField = z.enum(["token", "jwt"]).optional();
/** Typed clients: the login field in force, the password, and which credential to hand out. */
export const mfaLoginFields = clientInput(
  loginForm("username").extend({ credential: credentialField }),
  loginForm("email").extend({ credential: credentialField }),
);
const CODE_LOGIN = form({ ephemeral_token: charField({ maxLength: 128 }), code: proofField() });
export const codeLoginFields = clientInput(CODE_LOGIN);

const sha256 = (value: string) => createHash("sha256").update(value).digest("hex");
const UNAUTHENTICATED = "Unable to login with provided credentials."; // trench's words

/** The credential a login hands out, recorded as Djoser's and SimpleJWT's logins record it. */
export async function issue(deps: Deps, user: User, kind: CredentialKind, meta: RequestMeta): Promise<Credential> {
  if (kind === "token") {
    const [key] = await Promise.all([issueToken(deps, user, meta), recordLogin(deps, user)]);
    return { auth_token: key };
  }
  const column = deps.settings.SIMPLE_JWT.UPDATE_LAST_LOGIN ? "lastLogin" : "linkEpoch";
  const [pair] = await Promise.all([startSession(deps, user, meta), recordLogin(deps, user, column)]);
  return pair;
}

/**
 * login/: the password, then the credential or an ephemeral token (the primary method dispatched).
 * `credential`: what to hand out (typed clients choose; REST follows TRENCH_AUTH.CREDENTIAL).
 */
export async function passwordStep(
  deps: Deps,
  raw: unknown,
  meta: RequestMeta,
  credential?: CredentialKind,
): Promise<FirstStep> {
  const field = deps.settings.DJOSER.LOGIN_FIELD;
  const input = parseInput(mfaLoginInput(deps), raw) as Record<string, string | undefined>;
  const kind = credential ?? deps.settings.TRENCH_AUTH.CREDENTIAL;
  const { user, accountId } = await verifyLogin(deps, field, input[field], input.password, meta);
  if (!user) {
    await auditLogin(deps, meta, kind, accountId, false, input[field]);
    throw new AuthError("invalid_credentials", UNAUTHENTICATED);
  }
  const methods = await deps.store.mfa.activeNames(user.id);
  if (!methods.length) {
    meta.factors = ["pwd"];
    const credential = await issue(deps, user, kind, meta);
    await auditLogin(deps, meta, kind, accountId, true, input[field]);
    return { status: "ok", credential };
  }
  return secondStep(deps, user, "pwd", kind, methods);
}

/**
 * A first factor proved ("pwd", or "fed:<provider>" after a social sign-in) for a user with MFA on
 * (`methods`, primary first): the ephemeral token, and the primary method dispatched.
 */
export async function secondStep(
  deps: Deps,
  user: User,
  factor: string,
  kind: CredentialKind,
  methods: string[],
): Promise<FirstStep & { status: "mfa_required" }> {
  const token = randomBytes(32).toString("base64url");
  const tokenHash = sha256(token);
  const expiresAt = new Date(Date.now() + deps.settings.TRENCH_AUTH.EPHEMERAL_TOKEN_TTL * 1000);
  await deps.store.mfa.startLogin(tokenHash, { userId: user.id, factor, credential: kind, expiresAt });
  const method = methods[0]!;
  const row = await deps.store.mfa.method(user.id, method);
  const details = row ? await requireHandler(deps, method).dispatch(deps, user, row, tokenHash) : null;
  return { status: "mfa_required", ephemeralToken: token, method, methods, details };
}

/** login/code/: the ephemeral token and a code (or a backup code, or a passkey assertion) → the credential. */
export async function codeStep(deps: Deps, raw: unknown, meta: RequestMeta): Promise<Credential> {
  const input = parseInput(CODE_LOGIN, raw);
  const tokenHash = sha256(input.ephemeral_token);
  const pending = await deps.store.mfa.pendingLogin(tokenHash);
  const user = pending && pending.expiresAt.getTime() > Date.now() ? await deps.store.users.byId(pending.userId) : null;
  if (!pending || !user?.isActive) {
    if (pending) await deps.store.mfa.dropLogin(tokenHash);
    throw new AuthError("invalid_token");
  }
  const proved = await proveSecondFactor(deps, user, input.code, { kind: "login", bindTo: tokenHash }, meta);
  const kind = pending.credential as CredentialKind;
  if (!proved) {
    await deps.store.mfa.failLogin(tokenHash, deps.settings.TRENCH_AUTH.MAX_CODE_ATTEMPTS);
    await auditLogin(deps, meta, kind, user.id, false, undefined);
    throw new AuthError("invalid_code");
  }
  // Single use: of two requests with the same token and good codes, one gets the credential.
  if (!(await deps.store.mfa.finishLogin(tokenHash))) throw new AuthError("invalid_token");
  const [first, provider] = pending.factor.split(":"); // "fed:<provider>" after a social sign-in
  meta.factors = [first!, proved.amr];
  if (provider) meta.provider = provider;
  const credential = await issue(deps, user, kind, meta);
  await audit(deps, "login_succeeded", meta, user.id, { method: kind, factor: proved.method });
  return credential;
}
