// What every service function receives: settings, the database, the mailer, the JWT keys and a logger.
// No HTTP or tRPC type reaches a service.
import type { Logger } from "pino";
import type { Settings } from "../config/schema.ts";
import type { Prisma } from "../db/index.ts";
import type { User } from "../generated/prisma/client.ts";
import type { KeyRing } from "./jwt-keys.ts";
import type { Mailer } from "./mail.ts";

export type Deps = { settings: Settings; prisma: Prisma; mailer: Mailer; keys: KeyRing; log: Logger };

/** Who is calling, as the context builder resolved it. */
export type Principal = { user: User; via: "token"; tokenId: number } | { user: User; via: "jwt"; claims: Record<string, unknown> };

/** Where a request came from, for token rows (sessions) and logs. */
export type RequestMeta = { ip: string; userAgent: string };

export type { User };
