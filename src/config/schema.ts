// Every setting the product honours, with Django / Djoser / SimpleJWT names and defaults, so a
// settings.py ports over by name. Validated once at start-up; an invalid value stops the start.
import { z } from "zod";
import { trenchSchema, webauthnSchema } from "./mfa-schema.ts";
import { djoserSocialFields, socialAuthSchema } from "./social-schema.ts";

export { MFA_METHOD_NAMES, trenchSchema, webauthnSchema } from "./mfa-schema.ts";

const seconds = z.number().int().nonnegative();
const url = z.string().min(1);

export const djoserSchema = z.object({
  LOGIN_FIELD: z.enum(["username", "email"]).optional(), // defaults to USERNAME_FIELD
  USER_ID_FIELD: z.literal("id").default("id"),
  SEND_ACTIVATION_EMAIL: z.boolean().default(false),
  SEND_CONFIRMATION_EMAIL: z.boolean().default(false),
  USER_CREATE_PASSWORD_RETYPE: z.boolean().default(false),
  SET_PASSWORD_RETYPE: z.boolean().default(false),
  SET_USERNAME_RETYPE: z.boolean().default(false),
  PASSWORD_RESET_CONFIRM_RETYPE: z.boolean().default(false),
  USERNAME_RESET_CONFIRM_RETYPE: z.boolean().default(false),
  PASSWORD_RESET_SHOW_EMAIL_NOT_FOUND: z.boolean().default(false),
  USERNAME_RESET_SHOW_EMAIL_NOT_FOUND: z.boolean().default(false),
  // Portcullis extension: Djoser's empty 400 for an email with no inactive account. Off by default:
  // it tells anyone whether an address has an account (the same reasoning as the two above).
  RESEND_ACTIVATION_SHOW_EMAIL_NOT_FOUND: z.boolean().default(false),
  PASSWORD_CHANGED_EMAIL_CONFIRMATION: z.boolean().default(false),
  USERNAME_CHANGED_EMAIL_CONFIRMATION: z.boolean().default(false),
  LOGOUT_ON_PASSWORD_CHANGE: z.boolean().default(false),
  HIDE_USERS: z.boolean().default(true),
  ACTIVATION_URL: url.default("#/activate/{uid}/{token}"),
  PASSWORD_RESET_CONFIRM_URL: url.default("#/password/reset/confirm/{uid}/{token}"),
  USERNAME_RESET_CONFIRM_URL: url.default("#/username/reset/confirm/{uid}/{token}"),
  // Djoser falls back to the request's site; we never trust the Host header for links.
  DOMAIN: z.string().min(1).default("localhost:8000"),
  SITE_NAME: z.string().min(1).default("Portcullis"),
  PROTOCOL: z.enum(["http", "https"]).default("http"),
  // Portcullis extension: "shared" = Djoser's one key per user, returned again on every login
  // until logout; "per_device" = a new key per login (knox-like), logout revokes only that key.
  TOKEN_MODE: z.enum(["shared", "per_device"]).default("shared"),
  // Portcullis extensions, both closing gaps Djoser leaves open: a password change or reset ends
  // every other session (opaque tokens and JWT sessions; LOGOUT_ON_PASSWORD_CHANGE ends the
  // caller's too), and changing the email through users/me needs current_password.
  PASSWORD_CHANGE_ENDS_SESSIONS: z.boolean().default(true),
  EMAIL_CHANGE_REQUIRES_PASSWORD: z.boolean().default(true),
  // Portcullis extension: Djoser's way with an email change under SEND_ACTIVATION_EMAIL (the new
  // address at once, the account inactive until it activates again). Off: the old address stays in
  // use, and the account active, until a link mailed to the new address confirms it.
  EMAIL_CHANGE_DEACTIVATES: z.boolean().default(false),
  // Opaque-token lifetimes, django-rest-knox's names (seconds; null: never): TOKEN_TTL from login,
  // TOKEN_IDLE_TTL since last use (measured to the minute). TOKEN_LIMIT_PER_USER (per_device):
  // a login beyond the limit revokes the user's oldest keys.
  TOKEN_TTL: z.number().int().min(1).nullable().default(null),
  TOKEN_IDLE_TTL: z.number().int().min(300).nullable().default(null),
  TOKEN_LIMIT_PER_USER: z.number().int().min(1).nullable().default(null),
  WEBAUTHN: webauthnSchema.default(() => webauthnSchema.parse({})),
  ...djoserSocialFields,
});

// SimpleJWT 5.2's algorithms. EdDSA is left out: jsonwebtoken 9 (and SimpleJWT 5.2) cannot sign or verify it.
export const algorithm = z.enum(["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]);

export const simpleJwtSchema = z.object({
  AUTH_HEADER_TYPES: z
    .array(z.string().regex(/^[!-~]+$/, "a prefix is one word of visible ASCII"))
    .min(1)
    .default(["Bearer"]),
  // Django's META name of the header carrying JWTs: HTTP_AUTHORIZATION, or e.g. HTTP_X_ACCESS_TOKEN.
  AUTH_HEADER_NAME: z
    .string()
    .regex(/^HTTP_[A-Z0-9_]+$/, "a Django META name such as HTTP_AUTHORIZATION")
    .default("HTTP_AUTHORIZATION"),
  ACCESS_TOKEN_LIFETIME: seconds.default(300),
  REFRESH_TOKEN_LIFETIME: seconds.default(86_400),
  ROTATE_REFRESH_TOKENS: z.boolean().default(false),
  BLACKLIST_AFTER_ROTATION: z.boolean().default(false),
  UPDATE_LAST_LOGIN: z.boolean().default(false),
  ALGORITHM: algorithm.default("HS256"),
  // null = a key derived from SECRET_KEY for JWTs alone (SimpleJWT: SECRET_KEY itself); PEM for RS/ES
  SIGNING_KEY: z.string().min(1).nullable().default(null),
  VERIFYING_KEY: z.string().min(1).nullable().default(null), // PEM; null = derived from SIGNING_KEY
  // Portcullis extensions for keys: PEM files instead of inline PEM, a "kid" for the signing key
  // (default: none for HS*, the RFC 7638 thumbprint otherwise), and more keys that verify but do
  // not sign: the next key (published before use) and retired ones (until their tokens expire).
  SIGNING_KEY_FILE: z.string().min(1).nullable().default(null),
  VERIFYING_KEY_FILE: z.string().min(1).nullable().default(null),
  SIGNING_KEY_ID: z.string().min(1).nullable().default(null),
  ADDITIONAL_VERIFYING_KEYS: z
    .array(
      z
        .object({
          KID: z.string().min(1).nullable().default(null),
          ALGORITHM: algorithm,
          KEY: z.string().min(1).optional(),
          KEY_FILE: z.string().min(1).optional(),
        })
        .refine((k) => (k.KEY === undefined) !== (k.KEY_FILE === undefined), "give exactly one of KEY and KEY_FILE"),
    )
    .default([]),
  // Portcullis extension: under ROTATE_REFRESH_TOKENS, a refresh token presented again after it
  // was rotated ends its whole session (every token descended from the same login).
  REFRESH_TOKEN_REUSE_DETECTION: z.boolean().default(true),
  // Portcullis extension (Supabase's and Auth0's reuse interval): for this many seconds after a
  // rotation, the rotated token is answered with its session's current pair instead of ending it
  // (two tabs refreshing at once, a retry after a lost answer). 0: every reuse ends the session.
  REFRESH_TOKEN_REUSE_INTERVAL: seconds.max(300).default(10),
  // Portcullis extension: whether JWTs without our "sid" claim (SimpleJWT's, issued before a
  // cutover) are accepted; they cannot be ended one by one. null: accepted unless NODE_ENV=production.
  ACCEPT_TOKENS_WITHOUT_SID: z.boolean().nullable().default(null),
  AUDIENCE: z.string().nullable().default(null),
  ISSUER: z.string().nullable().default(null),
  LEEWAY: seconds.default(0),
  USER_ID_FIELD: z.literal("id").default("id"),
  USER_ID_CLAIM: z.string().default("user_id"),
  TOKEN_TYPE_CLAIM: z.string().default("token_type"),
  JTI_CLAIM: z.string().default("jti"),
});

// DRF's rate syntax: "<requests>/<period>", the period read by its first letter (s, m, h, d).
export const rate = z
  .string()
  .regex(/^\d+\/[smhd][a-z]*$/, 'a DRF rate such as "20/min" or "100/day"')
  .nullable();
export const THROTTLE_SCOPES = ["anon", "user", "login", "registration", "email", "refresh"] as const;

// Consecutive failed logins (src/core/login/lockout.ts): per login name and client network,
// FREE_FAILURES go unhindered, then each failure doubles the wait from BASE_DELAY up to MAX_DELAY
// seconds; per login name, after MAX_FAILURES (NIST 800-63B: at most 100) only a password reset
// unlocks it, except for clients holding a device cookie of an earlier login (counted apart).
// Re-checks of current_password are counted the same way, per user.
export const lockoutSchema = z.object({
  FREE_FAILURES: z.number().int().min(1).default(5),
  BASE_DELAY: z.number().int().min(1).default(30),
  MAX_DELAY: z.number().int().min(1).default(900),
  MAX_FAILURES: z.number().int().min(1).max(100).default(100),
  // A count left without an attempt this long (its wait over, the name not locked) is forgotten.
  FORGET_AFTER: z.number().int().min(60).default(86_400),
});

export const validatorSchema = z.object({
  NAME: z.string().min(1),
  OPTIONS: z.record(z.string(), z.unknown()).optional(),
});

export const settingsSchema = z.object({
  // "production" turns on the production checks; compared trimmed and in any case ("Production" counts).
  NODE_ENV: z
    .string()
    .default("development")
    .transform((v) => v.trim().toLowerCase()),
  SECRET_KEY: z.string().min(1).optional(), // resolved by load.ts (generated in development)
  HOST: z.string().default("127.0.0.1"),
  PORT: z.number().int().min(0).max(65_535).default(8000),
  DATABASE_URL: z
    .string()
    .regex(/^(postgres(ql)?:\/\/.+|pglite:.+)$/, "expected postgresql://…, pglite:<dir> or pglite:memory")
    .refine(
      (v) => v.startsWith("pglite:") || URL.canParse(v),
      "not a valid URL: check the port, and percent-encode @ : / in the user or password (@ is %40)",
    )
    .default("pglite:./.data/pglite"),
  DATABASE_POOL_SIZE: z.number().int().min(1).max(1000).default(10), // PostgreSQL connections per process
  AUTO_MIGRATE: z.boolean().default(true),
  REDIS_URL: z.string().nullable().default(null),
  // How long an authenticated credential may be served from memory (src/core/sessions/auth-cache.ts;
  // invalidations reach every instance over Redis or PostgreSQL's LISTEN/NOTIFY); 0 turns it off.
  AUTH_CACHE_SECONDS: z.number().int().min(0).max(3600).default(60),
  // Prometheus metrics at /metrics (off: no such route); with METRICS_TOKEN, only for "Bearer <token>".
  METRICS_ENABLED: z.boolean().default(false),
  METRICS_TOKEN: z.string().min(16, "at least 16 characters").nullable().default(null),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  // json: one JSON object per line (pino's); pretty: pino-pretty's text; auto: pretty when stdout
  // is a terminal and NODE_ENV is not production, json otherwise.
  LOG_FORMAT: z.enum(["auto", "json", "pretty"]).default("auto"),
  DATA_DIR: z.string().default("./.data"),
  // Django's DEBUG: unexpected errors are answered with their message (never in production).
  DEBUG: z.boolean().default(false),
  // Django's ALLOWED_HOSTS ("example.com", ".example.com" for subdomains too, "*"); null = any,
  // which a production start refuses. Requests naming another Host get a 400.
  ALLOWED_HOSTS: z.array(z.string().min(1)).nullable().default(null),
  // django-cors-headers' names. No origin is allowed cross-site unless listed.
  CORS_ALLOWED_ORIGINS: z
    .array(z.string().regex(/^https?:\/\/[^/]+$/, "an origin: scheme://host[:port], no path"))
    .default([]),
  CORS_ALLOW_ALL_ORIGINS: z.boolean().default(false),
  CORS_ALLOW_CREDENTIALS: z.boolean().default(false),
  // Whose X-Forwarded-For to believe for the client address (throttling, audit, sessions). DRF's
  // NUM_PROXIES (how many proxies stand in front), or the proxies' addresses/CIDRs. Neither: the
  // peer address, and X-Forwarded-For is ignored (anyone can send one).
  NUM_PROXIES: z.number().int().min(1).nullable().default(null),
  TRUSTED_PROXIES: z.array(z.string().min(1)).default([]),
  // Django's SecurityMiddleware HSTS settings: Strict-Transport-Security on answers to secure
  // requests only (0 = never sent). A request is secure when it came over TLS, or, as in Django,
  // when SECURE_PROXY_SSL_HEADER (["HTTP_X_FORWARDED_PROTO", "https"]) says so; with NUM_PROXIES or
  // TRUSTED_PROXIES set, the trusted proxy's X-Forwarded-Proto counts too.
  SECURE_HSTS_SECONDS: seconds.default(0),
  SECURE_HSTS_INCLUDE_SUBDOMAINS: z.boolean().default(false),
  SECURE_HSTS_PRELOAD: z.boolean().default(false),
  SECURE_PROXY_SSL_HEADER: z
    .tuple([z.string().regex(/^HTTP_[A-Z0-9_]+$/, "a Django META name: HTTP_X_FORWARDED_PROTO"), z.string().min(1)])
    .nullable()
    .default(null),
  // The OpenAPI UI and document at /docs; false: no such route (a 404).
  API_DOCS: z.boolean().default(true),
  // DRF's DEFAULT_THROTTLE_RATES: a scope left out (or null) is not throttled. anon and user count
  // every request (by address / by user); login, registration and email (activation and reset
  // mails) count their flow by address and, where the request names one, by account; refresh
  // counts jwt/refresh by the user the (validly signed) token names.
  DEFAULT_THROTTLE_RATES: z
    .partialRecord(z.enum(THROTTLE_SCOPES), rate)
    .default({ login: "30/min", registration: "20/hour", email: "10/hour", refresh: "60/min" }),
  // What throttling does when Redis does not answer: "open" lets requests through (logged),
  // "closed" refuses throttled flows with a 503 until Redis is back.
  THROTTLE_FAILURE_MODE: z.enum(["open", "closed"]).default("open"),
  LOGIN_LOCKOUT: lockoutSchema.default(() => lockoutSchema.parse({})),
  // The device cookie (OWASP's device cookies), set on every successful login: a client that sends
  // it back is counted apart, so others' wrong guesses on the name never lock it out. Django-style
  // names after SESSION_COOKIE_NAME / SESSION_COOKIE_AGE; DEVICE_COOKIE_AGE 0 turns it off.
  DEVICE_COOKIE_NAME: z
    .string()
    .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "a cookie name (an HTTP token)")
    .default("portcullis_device"),
  DEVICE_COOKIE_AGE: z.number().int().min(0).default(31_536_000),
  // Password hashes waiting for a free core, beyond which a request is refused (503 + Retry-After).
  PASSWORD_HASH_QUEUE: z.number().int().min(1).default(64),
  // tRPC's maxBatchSize: the most calls one batched request may hold (a larger batch is a 400).
  TRPC_MAX_BATCH_SIZE: z.number().int().min(1).max(1000).default(10),
  // Plain tRPC calls (no streaming, no subscription) answered by Portcullis's lean binding of
  // tRPC's HTTP protocol (src/trpc/fast.ts) rather than the stock adapter; false: all go to the stock one.
  TRPC_FAST_PATH: z.boolean().default(true),
  // How often each server deletes expired refresh tokens, dead JWT sessions and forgotten lockout
  // counts (src/core/housekeeping.ts); 0: never (run `portcullis flushexpiredtokens` instead).
  FLUSH_EXPIRED_INTERVAL: z.number().int().min(0).default(3600),
  // Seconds between SIGTERM and closing the listener, while /readyz answers 503 and requests are
  // still served: time for a load balancer to stop sending new ones (0: close at once).
  SHUTDOWN_DRAIN_SECONDS: z.number().int().min(0).max(300).default(0),
  // Audit events older than this many days are deleted by that same housekeeping; null: kept forever.
  AUDIT_RETENTION_DAYS: z.number().int().min(1).nullable().default(180),
  // argon2id cost for new hashes. Default: OWASP's first option; production refuses less than OWASP.
  ARGON2: z
    .object({
      MEMORY_COST: z.number().int().min(1024).max(1_048_576).default(19_456),
      TIME_COST: z.number().int().min(1).max(16).default(2),
      PARALLELISM: z.number().int().min(1).max(16).default(1),
    })
    .default({ MEMORY_COST: 19_456, TIME_COST: 2, PARALLELISM: 1 }),
  USERNAME_FIELD: z.enum(["username", "email"]).default("username"),
  // DRF's TokenAuthentication keyword, as a list: every prefix that carries opaque tokens.
  TOKEN_AUTH_HEADER_TYPES: z
    .array(z.string().regex(/^[!-~]+$/, "a prefix is one word of visible ASCII"))
    .min(1)
    .default(["Token"]),
  PASSWORD_RESET_TIMEOUT: seconds.default(259_200),
  AUTH_PASSWORD_VALIDATORS: z.array(validatorSchema).optional(), // default: Django's four
  EMAIL_BACKEND: z.enum(["console", "file", "smtp"]).default("console"),
  EMAIL_FILE_PATH: z.string().default("./.data/mail"),
  EMAIL_HOST: z.string().default("localhost"),
  EMAIL_PORT: z.number().int().min(1).max(65_535).default(25),
  EMAIL_HOST_USER: z.string().default(""),
  EMAIL_HOST_PASSWORD: z.string().default(""),
  EMAIL_USE_TLS: z.boolean().default(false),
  EMAIL_USE_SSL: z.boolean().default(false),
  EMAIL_TIMEOUT: z.number().positive().nullable().default(null),
  EMAIL_TEMPLATES_DIR: z.string().nullable().default(null),
  DEFAULT_FROM_EMAIL: z.string().default("webmaster@localhost"),
  // Sensitive actions (password, email or username change, MFA and passkey changes, deleting the
  // account) need a sign-in or re-authentication at most this many seconds old (allauth's name).
  REAUTHENTICATION_TIMEOUT: z.number().int().min(0).default(300),
  // The key TOTP secrets are encrypted with (null: one derived from SECRET_KEY). Setting it lets
  // SECRET_KEY rotate without every user enrolling their authenticator app again.
  MFA_ENCRYPTION_KEY: z.string().min(32, "at least 32 characters").nullable().default(null),
  DJOSER: djoserSchema.default(() => djoserSchema.parse({})),
  SIMPLE_JWT: simpleJwtSchema.default(() => simpleJwtSchema.parse({})),
  TRENCH_AUTH: trenchSchema.default(() => trenchSchema.parse({})),
  SOCIAL_AUTH: socialAuthSchema.default(() => socialAuthSchema.parse({})),
});

/** The environment variables the schema names: Django's, DJOSER_, SIMPLE_JWT_, TRENCH_AUTH_ and SOCIAL_AUTH_<NAME>. */
export function environmentNames(): string[] {
  const { DJOSER, SIMPLE_JWT, TRENCH_AUTH, SOCIAL_AUTH, ...top } = settingsSchema.shape;
  return [
    ...Object.keys(top),
    ...Object.keys(djoserSchema.shape).map((k) => `DJOSER_${k}`),
    ...Object.keys(simpleJwtSchema.shape).map((k) => `SIMPLE_JWT_${k}`),
    ...Object.keys(trenchSchema.shape).map((k) => `TRENCH_AUTH_${k}`),
    ...Object.keys(socialAuthSchema.shape).map((k) => `SOCIAL_AUTH_${k}`),
  ];
}

export type SettingsInput = z.input<typeof settingsSchema>;
type Parsed = z.output<typeof settingsSchema>;
/** Settings after load.ts resolved the derived values. */
export type Settings = Omit<Parsed, "SECRET_KEY" | "AUTH_PASSWORD_VALIDATORS" | "DJOSER"> & {
  SECRET_KEY: string;
  AUTH_PASSWORD_VALIDATORS: z.output<typeof validatorSchema>[];
  DJOSER: Omit<Parsed["DJOSER"], "LOGIN_FIELD"> & { LOGIN_FIELD: "username" | "email" };
};
