// What a second-factor method is to the MFA flows (django-trench's message dispatchers): the
// flows (enrol, confirm, log in, re-authenticate, disable) are written once, each method says how
// it starts, what it sends and how it checks what comes back. "app" and "email" live beside this
// file; "webauthn" (passkeys as a second factor) in ../passkeys/.
import type { Deps, RequestMeta, User } from "../deps.ts";

export type MethodName = "app" | "email" | "webauthn";

/** A user's method row, as the store returns it (mfa_method). */
export type MethodRow = {
  id: number;
  userId: number;
  name: string;
  secret: string;
  isActive: boolean;
  isPrimary: boolean;
  lastStep: bigint | null;
  codeHash: string | null;
  codeExpiresAt: Date | null;
};

/**
 * What a proof is checked for: confirming an enrolment, a login's second step (`bindTo`: the
 * ephemeral token's hash, so a challenge issued for one login serves no other), or an action.
 */
export type Purpose = { kind: "confirm" } | { kind: "login"; bindTo: string } | { kind: "action" };

/** A code as typed, or (webauthn) the credential JSON a browser produced. */
export type Proof = string | Record<string, unknown>;

export type MethodHandler = {
  name: MethodName;
  /** activate/: what the client needs to enrol (trench's "details": the otpauth:// URI, a notice, options). */
  enrol(deps: Deps, user: User, row: MethodRow, meta: RequestMeta): Promise<unknown>;
  /**
   * code/request/ and a login's first step: sends or prepares what the next proof answers (a mailed
   * code, WebAuthn request options); `bindTo` as in Purpose. Null when there is nothing to send (app).
   */
  dispatch(deps: Deps, user: User, row: MethodRow, bindTo: string | null): Promise<unknown>;
  /** Whether `proof` is good for `purpose`; spends it (a code, a challenge) if so. A bad proof is false, no throw. */
  verify(deps: Deps, user: User, row: MethodRow, proof: Proof, purpose: Purpose, meta: RequestMeta): Promise<boolean>;
};
