// What every service function receives: settings, the database, the mail outbox, the JWT keys,
// the throttle and a logger.
// No HTTP or tRPC type reaches a service.
import type { Logger } from "pino";
import type { AuthCache } from "./auth-cache.ts";
import type { Settings } from "../config/schema.ts";
import type { Prisma } from "../db/index.ts";
import type { User } from "../generated/prisma/client.ts";
import type { KeyRing } from "./jwt-keys.ts";
import type { Mailer } from "./mail.ts";
import type { Outbox } from "./outbox.ts";
import type { Throttle } from "./throttle.ts";

export type Deps = { settings: Settings; prisma: Prisma; mailer: Mailer; outbox: Outbox; keys: KeyRing; throttle: Throttle; authCache: AuthCache; log: Logger };

/** Who is calling, as the context builder resolved it. */
export type Principal = { user: User; via: "token"; tokenId: number } | { user: User; via: "jwt"; claims: Record<string, unknown> };

/** Where a request came from, for token rows (sessions) and logs. */
export type RequestMeta = { ip: string; userAgent: string };

export type { User };
