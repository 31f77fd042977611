// What the procedures answer, declared once: the shapes a client reads. Plain data only (strings,
// numbers, ISO dates): no database row, library or settings type, so the typed client package
// (`client/`) ships these declarations and nothing of the server.

/** A user as the API shows one: `username` only when the login field is not the email. */
export type PublicUser = { id: number; email: string; username?: string };

/** An opaque token (Djoser's token/login, and the new shared key after a password change). */
export type AuthToken = { auth_token: string };

/** SimpleJWT's jwt/create. */
export type TokenPair = { refresh: string; access: string };
/** SimpleJWT's jwt/refresh: `refresh` only under ROTATE_REFRESH_TOKENS. */
export type RefreshedTokens = { access: string; refresh?: string };
/** SimpleJWT's jwt/verify answers an empty object when the token is valid. */
export type EmptyObject = Record<string, never>;

/** How many opaque tokens (`revoked`) or JWT sessions (`sessions`) ended. */
export type RevokedTokens = { revoked: number };
export type EndedSessions = { sessions: number };

/** A session as its owner sees it: an opaque token ("t<id>") or a JWT session ("j<sid>"). */
export type SessionView = {
  id: string;
  kind: "token" | "jwt";
  created: string;
  lastUsedAt: string | null;
  userAgent: string;
  ip: string;
  current: boolean;
  /** How it was signed in (RFC 8176 amr values: "pwd", "otp", "hwk"…) and when those were last proved. */
  factors: string[];
  authenticatedAt: string;
  /** The social provider of a "fed" sign-in ("google-oauth2", "github"…); null for the others. */
  provider: string | null;
};

/** The authentication events the audit log records. */
export type AuditKind =
  | "login_succeeded"
  | "login_failed"
  | "logout"
  | "logout_all"
  | "token_refreshed"
  | "refresh_reuse_detected"
  | "activation"
  | "password_changed"
  | "password_reset_requested"
  | "password_reset_confirmed"
  | "username_changed"
  | "username_reset_requested"
  | "username_reset_confirmed"
  | "email_changed"
  | "lockout"
  | "password_check_failed"
  | "session_revoked"
  | "mfa_enabled"
  | "mfa_disabled"
  | "mfa_failed"
  | "mfa_primary_changed"
  | "mfa_reset"
  | "backup_code_used"
  | "backup_codes_regenerated"
  | "passkey_added"
  | "passkey_removed"
  | "passkey_renamed"
  | "reauthenticated"
  | "social_linked"
  | "social_unlinked";

/** What an audit event may carry: closed by type, so no secret has a field to travel in. */
export type AuditData = {
  method?: "token" | "jwt";
  login?: string;
  reason?: string;
  session?: string;
  sessions?: number;
  failures?: number;
  by?: number;
  /** The MFA method ("app", "email", "webauthn") or the factors (RFC 8176 amr) of a sign-in. */
  factor?: string;
  /** A passkey's row id. */
  passkey?: number;
  /** The social provider of a sign-in, a link or an unlink. */
  provider?: string;
};

/** One audit event; `at` is an ISO date. */
export type AuditEvent = {
  id: number;
  at: string;
  kind: AuditKind;
  userId: number | null;
  ip: string;
  userAgent: string;
  data: AuditData;
};
/** A page of audit events, newest first; `nextCursor` is the next page's `cursor`. */
export type AuditPage = { events: AuditEvent[]; nextCursor: number | null };

/** DRF-style field errors: a field's name to its messages (in a tRPC error's `data.fields`). */
export type FieldErrors = Record<string, string[]>;

// ── Second factors and passkeys ──────────────────────────────────────────────────────────────

/** What a login hands out: Djoser's token or a SimpleJWT pair. */
export type Credential = AuthToken | TokenPair;
/** auth.login: the credential, or what the second step needs (`details`: the method's options, or null). */
export type FirstStep =
  | { status: "ok"; credential: Credential }
  | { status: "mfa_required"; ephemeralToken: string; method: string; methods: string[]; details: unknown };
/** trench's {details}: an otpauth:// URI, a notice, or WebAuthn options. */
export type MfaDetails = { details: unknown };
export type BackupCodes = { backup_codes: string[] };
export type MfaConfig = {
  methods: string[];
  confirm_disable_with_code: boolean;
  confirm_regeneration_with_code: boolean;
  allow_backup_codes_regeneration: boolean;
};
export type ActiveMethod = { name: string; is_primary: boolean };
/** A re-authentication: the factors proved, and until when sensitive actions need no new proof. */
export type Reauthenticated = { factors: string[]; authenticatedAt: string; validUntil: string };
/** WebAuthn options in the standard JSON shapes (PublicKeyCredentialCreationOptionsJSON, …RequestOptionsJSON). */
export type WebAuthnOptions = { challenge: string; [member: string]: unknown };
/** signup_request/: the creation options, whose user.id is the ukey to sign up with. */
export type SignupOptions = WebAuthnOptions & { ukey: string; user: { id: string; name: string; displayName: string } };
export type PasskeyView = {
  id: number;
  name: string;
  created: string;
  last_used: string | null;
  device_type: string;
  backed_up: boolean;
  transports: string[];
};

// ── Social sign-in ───────────────────────────────────────────────────────────────────────────

/** Djoser's GET o/<provider>/: where to send the user. */
export type AuthorizationUrl = { authorization_url: string };
/** A completed social sign-in: the credential (and the username, as Djoser's strategies add it), or MFA's next step. */
export type SocialSignIn =
  | { status: "ok"; credential: Credential; user: string }
  | { status: "mfa_required"; ephemeralToken: string; method: string; methods: string[]; details: unknown };
/** An account at a provider linked to the caller. */
export type SocialIdentityView = {
  id: number;
  provider: string;
  uid: string;
  email: string;
  created: string;
  last_used: string | null;
};
