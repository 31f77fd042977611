// What every service function receives: settings, the store (and the client beneath it), the mail
// outbox, the JWT keys, the throttle and a logger.
// No HTTP or tRPC type reaches a service.
import type { Logger } from "pino";
import type { Settings } from "../config/schema.ts";
import type { Prisma } from "../db/index.ts";
import type { Store } from "../db/store/index.ts";
import type { User } from "../generated/prisma/client.ts";
import type { Throttle } from "./login/throttle.ts";
import type { Mailer } from "./mail/transport.ts";
import type { Metrics } from "./metrics.ts";
import type { KeyRing } from "./sessions/jwt-keys.ts";

export type Deps = {
  settings: Settings;
  /** Data access: what flows read and write (db/store/). */
  store: Store;
  /** The client beneath the store, for what is no flow's (migrations, import, test set-up). */
  prisma: Prisma;
  mailer: Mailer;
  outbox: Outbox;
  keys: KeyRing;
  throttle: Throttle;
  authCache: AuthCache;
  /** Prometheus counts (no-ops unless METRICS_ENABLED). */
  metrics: Metrics;
  /** Set once a shutdown began: /readyz answers 503 while requests are still served. */
  lifecycle: { draining: boolean };
  log: Logger;
};

/** Who is calling, as the context builder resolved it. */
export type Principal =
  | { user: User; via: "token"; tokenId: number }
  | { user: User; via: "jwt"; claims: Record<string, unknown> };

/** Where a request came from, for token rows (sessions) and logs, and what the edge made of it. */
export type RequestMeta = {
  ip: string;
  userAgent: string;
  /** Device tokens of earlier logins that the client sent back (the edge reads its cookie). */
  deviceTokens?: readonly string[];
  /** Filled by a successful login: a device token for the adapter to hand to the client. */
  issuedDevice?: DeviceToken[];
  /**
   * The factors a sign-in proved (RFC 8176 "amr" values: "pwd", "otp", "hwk"…), written on the
   * session it starts; unset: a password alone.
   */
  factors?: readonly string[];
  /** The social provider a "fed" sign-in went through, written on its session. */
  provider?: string;
  /** Password checks and hashes this request may still run (one; see spendPasswordCheck). */
  passwordChecks?: { left: number };
};

/** A device token the adapter renders as a cookie: its value and how long it stays trusted (seconds). */
export type DeviceToken = { value: string; maxAge: number };

export type { User };

/** Delivers queued mails (core/mail/outbox.ts). */
export type Outbox = {
  /** Deliver what is due now (called after a mail is queued). */
  kick(): void;
  /** Resolves when no delivery is running here (tests read the mailbox after it). */
  idle(): Promise<void>;
  close(): Promise<void>;
};

/** Credential → user, in memory (core/sessions/auth-cache.ts). */
export type AuthCache = {
  get<T extends { user: User }>(key: string): T | undefined;
  /** Taken before the database lookup whose result set() will keep. */
  stamp(): number;
  /**
   * Keeps `value` unless an invalidation arrived since `stamp` (the lookup may predate it), for
   * AUTH_CACHE_SECONDS and never past `until` (ms since the epoch: the credential's own expiry).
   */
  set<T extends { user: User }>(key: string, value: T, stamp: number, until?: number): void;
  /**
   * Claims of an access token this process verified already, until it expires: a signature check
   * is a pure function of the token and this process's keys, so it needs no invalidation (ending
   * the session is checked apart, through the user entries above).
   */
  verifiedClaims(token: string): Record<string, unknown> | undefined;
  rememberClaims(token: string, claims: Record<string, unknown>, validUntilMs: number): void;
  /** Forgets every entry of the user, here and on every instance; awaited before answering. */
  forgetUser(userId: number): Promise<void>;
  /** Whether invalidations from other instances reach this one ("none": it needs none). */
  channelState(): "listening" | "down" | "none";
  close(): Promise<void>;
};
