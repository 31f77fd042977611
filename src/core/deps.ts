// What every service function receives: settings, the database, the mail outbox, the JWT keys,
// the throttle and a logger.
// No HTTP or tRPC type reaches a service.
import type { Logger } from "pino";
import type { AuthCache } from "./sessions/auth-cache.ts";
import type { Settings } from "../config/schema.ts";
import type { Prisma } from "../db/index.ts";
import type { User } from "../generated/prisma/client.ts";
import type { KeyRing } from "./sessions/jwt-keys.ts";
import type { Mailer } from "./mail/transport.ts";
import type { Outbox } from "./mail/outbox.ts";
import type { Throttle } from "./login/throttle.ts";

export type Deps = { settings: Settings; prisma: Prisma; mailer: Mailer; outbox: Outbox; keys: KeyRing; throttle: Throttle; authCache: AuthCache; log: Logger };

/** Who is calling, as the context builder resolved it. */
export type Principal = { user: User; via: "token"; tokenId: number } | { user: User; via: "jwt"; claims: Record<string, unknown> };

/** Where a request came from, for token rows (sessions) and logs, and what the edge made of it. */
export type RequestMeta = {
  ip: string;
  userAgent: string;
  /** Device tokens of earlier logins that the client sent back (the edge reads its cookie). */
  deviceTokens?: readonly string[];
  /** Filled by a successful login: a device token for the adapter to hand to the client. */
  issuedDevice?: DeviceToken[];
  /** Password checks and hashes this request may still run (one; see spendPasswordCheck). */
  passwordChecks?: { left: number };
};

/** A device token the adapter renders as a cookie: its value and how long it stays trusted (seconds). */
export type DeviceToken = { value: string; maxAge: number };

export type { User };
