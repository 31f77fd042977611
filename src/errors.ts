// Every error the product can return, defined once: a status and a message. Services throw
// AuthError; the tRPC adapter derives its code from the status (an entry names `trpc` only where
// tRPC has a closer word) and adds data.code and data.fields, the REST adapter renders DRF's shapes
// and Djoser's status codes. Messages are Djoser's/DRF's own words where Djoser has words for it.
// An AuthError carries data, never HTTP: each adapter turns retryAfter and challenge into headers.

import type { FieldErrors } from "./core/dto.ts";
/** Authorization schemes: the keywords of opaque tokens and the prefixes of JWTs. */
export type Schemes = { token: readonly string[]; jwt: readonly string[] };

export const ERRORS = {
  invalid_input: { status: 400, message: "Invalid input." },
  invalid_credentials: { status: 400, message: "Unable to log in with provided credentials." },
  parse_error: { status: 400, trpc: "PARSE_ERROR", message: "Malformed request body." },
  // Djoser answers resend_activation for an unknown or already active email with an empty 400.
  activation_not_sent: { status: 400, message: "No inactive account with this email address." },
  // *_SHOW_EMAIL_NOT_FOUND: Djoser raises a bare ValidationError, which DRF renders as a JSON list.
  email_not_found: { status: 400, message: "User with given email does not exist." },
  not_authenticated: { status: 401, message: "Authentication credentials were not provided." },
  authentication_failed: { status: 401, message: "Incorrect authentication credentials." },
  authorization_header_empty: { status: 401, message: "The Authorization header is empty." },
  authorization_scheme_not_accepted: { status: 401, message: "Authorization scheme not accepted." },
  authorization_header_invalid: { status: 401, message: "Invalid Authorization header." },
  authorization_header_too_long: { status: 401, message: "The Authorization header is too long." },
  authorization_header_not_ascii: { status: 401, message: "The Authorization header must be visible ASCII." },
  authorization_scheme_missing: { status: 401, message: "The Authorization header has no scheme." },
  bad_authorization_header: { status: 401, message: "Authorization header must contain two space-delimited values" },
  jwt_behind_token_scheme: { status: 401, message: "Invalid token." },
  // SimpleJWT's words: jwt/create with bad credentials, and jwt/verify of a blacklisted token (a 400).
  no_active_account: { status: 401, message: "No active account found with the given credentials" },
  token_blacklisted: { status: 400, message: "Token is blacklisted" },
  token_not_valid: { status: 401, message: "Given token not valid for any token type" },
  user_not_found: { status: 401, message: "User not found" },
  user_inactive: { status: 401, message: "User is inactive" },
  permission_denied: { status: 403, message: "You do not have permission to perform this action." },
  stale_token: { status: 403, message: "Stale token for given user." },
  // users/activation/ without SEND_ACTIVATION_EMAIL: accounts are active from registration, and
  // whatever link a client holds (a reset link, say) must not re-activate one staff deactivated.
  activation_not_in_use: { status: 403, message: "Account activation is not in use on this site." },
  // Two-factor (django-trench's codes and words) and passkeys (Djoser 2.3's words).
  mfa_required: {
    status: 403,
    message:
      "This account uses two-factor authentication: log in through /auth/login/ and /auth/login/code/ " +
      "(tRPC: auth.login and auth.loginCode).",
  },
  invalid_code: { status: 401, message: "Invalid or expired code." },
  code_invalid_or_expired: { status: 400, message: "Code invalid or expired." },
  otp_code_missing: { status: 400, message: "OTP code not provided." },
  invalid_token: { status: 401, message: "Invalid or expired token." },
  mfa_method_does_not_exist: { status: 400, message: "Requested MFA method does not exist." },
  method_already_active: { status: 400, message: "MFA method already active." },
  not_enabled: { status: 400, message: "2FA is not enabled." },
  deactivation_of_primary: {
    status: 400,
    message: "Deactivation of MFA method that is set as primary is not allowed.",
  },
  new_primary_method_inactive: { status: 400, message: "MFA Method selected as new primary method is not active" },
  backup_codes_regeneration_disabled: { status: 400, message: "Backup codes regeneration is not allowed." },
  // The same waits and bound as wrong passwords (LOGIN_LOCKOUT), per user.
  mfa_locked: {
    status: 403,
    message: "Too many wrong codes for this account: reset the password, or ask staff to reset two-factor.",
  },
  webauthn_failed: { status: 400, message: "WebAuthn verification failed." },
  // Step-up: data.required says what would do (a password, a second factor), data.methods which ones.
  reauthentication_required: {
    status: 403,
    message: "This action needs a recent sign-in: re-authenticate (/auth/reauthenticate/) and try again.",
  },
  // Social sign-in: Djoser's words (a ValidationError, {"non_field_errors": [...]}), and its bare
  // string for a redirect_uri off SOCIAL_AUTH_ALLOWED_REDIRECT_URIS.
  social_failed: { status: 400, message: "Authentication failed." },
  redirect_uri_not_allowed: { status: 400, message: "redirect_uri must be in SOCIAL_AUTH_ALLOWED_REDIRECT_URIS" },
  provider_not_found: { status: 404, message: "Provider not found." },
  not_found: { status: 404, message: "Not found." },
  method_not_allowed: { status: 405, message: "Method not allowed." },
  // DRF's Throttled: the message gains "Expected available in N seconds." (see throttled()).
  throttled: { status: 429, message: "Request was throttled." },
  // After LOGIN_LOCKOUT.MAX_FAILURES consecutive failures; said alike of names with no account.
  login_locked: {
    status: 403,
    message: "Too many failed logins for this account: reset the password to log in again.",
  },
  // The same bound on re-checks of current_password (set_password, set_username, users/me…).
  password_check_locked: {
    status: 403,
    message: "Too many wrong current passwords for this account: reset the password to go on.",
  },
  // Each request may check (or hash) one password; a tRPC batch holding two such calls is refused.
  password_check_limit: {
    status: 429,
    message: "One password check per request: send this call in a request of its own.",
  },
  // tRPC's maxBatchSize (TRPC_MAX_BATCH_SIZE).
  batch_too_large: {
    status: 400,
    message:
      "Too many calls in one batch (TRPC_MAX_BATCH_SIZE): send fewer per request, e.g. with httpBatchLink's maxItems.",
  },
  // Django's DisallowedHost, as a 400 (see ALLOWED_HOSTS).
  disallowed_host: { status: 400, message: "Invalid HTTP_HOST header." },
  payload_too_large: { status: 413, message: "Request body is too large." },
  unsupported_media_type: { status: 415, message: "Unsupported media type in request." },
  internal_error: { status: 500, message: "A server error occurred." },
  service_unavailable: { status: 503, message: "Service temporarily unavailable, try again shortly." },
} as const satisfies Record<string, { status: number; trpc?: string; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

type Extra = {
  fields?: FieldErrors;
  data?: Record<string, unknown>;
  retryAfter?: number;
  challenge?: Schemes;
};

export class AuthError extends Error {
  readonly code: ErrorCode;
  /** Per-field messages, DRF style; "non_field_errors" for the form as a whole. */
  readonly fields?: FieldErrors;
  /** Extra members of the REST body (SimpleJWT's code/messages, the schemes received/accepted…). */
  readonly data?: Record<string, unknown>;
  /** Seconds after which a retry may succeed (a 429 or a 503): Retry-After, and tRPC's data.retryAfter. */
  readonly retryAfter?: number;
  /** The schemes a 401's WWW-Authenticate offers; without it, a 401 offers the first token keyword. */
  readonly challenge?: Schemes;

  constructor(code: ErrorCode, message?: string, extra: Extra = {}) {
    super(message ?? ERRORS[code].message);
    this.name = "AuthError";
    this.code = code;
    this.fields = extra.fields;
    this.data = extra.data;
    this.retryAfter = extra.retryAfter;
    this.challenge = extra.challenge;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }
}

/** A 400 with DRF-style field errors. */
export function invalid(fields: FieldErrors): AuthError {
  return new AuthError("invalid_input", ERRORS.invalid_input.message, { fields });
}

/** DRF's 429, with its words and a Retry-After the client can honour. */
export function throttled(waitSeconds: number): AuthError {
  const wait = Math.max(1, Math.ceil(waitSeconds));
  return new AuthError(
    "throttled",
    `Request was throttled. Expected available in ${wait} second${wait === 1 ? "" : "s"}.`,
    { retryAfter: wait },
  );
}

/** SimpleJWT's body for a token that no token class accepts. */
export function tokenNotValid(
  message = "Token is invalid or expired",
  extra: Record<string, unknown> = {},
  detail = "Given token not valid for any token type",
): AuthError {
  return new AuthError("token_not_valid", detail, {
    data: {
      code: "token_not_valid",
      messages: [{ token_class: "AccessToken", token_type: "access", message }],
      ...extra,
    },
  });
}
