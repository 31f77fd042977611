// Builds the service dependencies from settings: JWT keys, database, Redis, throttle, mail, logger.
import { Redis } from "ioredis";
import pino, { type Logger } from "pino";
import type { Settings } from "../config/schema.ts";
import { type Database, openDatabase } from "../db/index.ts";
import { createStore } from "../db/store/index.ts";
import type { Deps } from "./deps.ts";
import { logDestination } from "./log-format.ts";
import { configureHashQueue } from "./login/hash-queue.ts";
import { configureArgon2 } from "./login/passwords.ts";
import { createThrottle } from "./login/throttle.ts";
import { startOutbox } from "./mail/outbox.ts";
import { createMailer } from "./mail/transport.ts";
import { createMetrics } from "./metrics.ts";
import { createAuthCache } from "./sessions/auth-cache.ts";
import { loadKeyRing } from "./sessions/jwt-keys.ts";

export function createLogger(settings: Settings): Logger {
  const { stream, warning } = logDestination(settings);
  const log = pino(
    {
      level: settings.LOG_LEVEL,
      // Belt and braces: nothing logs these, and if something ever does they come out redacted.
      redact: {
        paths: [
          "req.headers.authorization",
          "req.headers.cookie",
          "password",
          "*.password",
          "token",
          "*.token",
          "auth_token",
          "*.auth_token",
          "key",
        ],
        censor: "[redacted]",
      },
    },
    stream,
  );
  if (warning) log.warn(warning);
  return log;
}

/**
 * The shared Redis connection, or null without REDIS_URL. Commands fail at once while it is
 * away (no offline queue): callers decide what an outage means; ioredis keeps reconnecting.
 */
export async function connectRedis(settings: Settings, log: Logger): Promise<Redis | null> {
  if (!settings.REDIS_URL) return null;
  const redis = new Redis(settings.REDIS_URL, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    lazyConnect: true,
  });
  let down = false;
  const lost = (reason: string) => {
    if (!down) log.error({ err: reason }, "Redis unavailable; reconnecting");
    down = true;
  };
  redis.on("error", (err) => lost(err.message));
  // A Redis that went away and is back before the first retry emits no error: the lost
  // connection is the outage (and "reachable again" then has its matching line).
  redis.on("reconnecting", () => lost("connection lost"));
  redis.on("ready", () => {
    if (down) log.warn("Redis reachable again");
    down = false;
  });
  // A Redis that is down at start is an outage like any other, not a reason to refuse to start.
  await redis.connect().catch(() => {});
  return redis;
}

export type Resources = { deps: Deps; db: Database; redis: Redis | null; close(): Promise<void> };

export async function createDeps(settings: Settings, log = createLogger(settings)): Promise<Resources> {
  const keys = loadKeyRing(settings); // before the database: a bad key stops the start at once
  configureArgon2(settings.ARGON2);
  configureHashQueue(settings.PASSWORD_HASH_QUEUE);
  const db = await openDatabase(settings.DATABASE_URL, { poolSize: settings.DATABASE_POOL_SIZE });
  if (settings.AUTO_MIGRATE) {
    const applied = await db.migrate();
    if (applied.length) log.info({ applied }, "migrations applied");
  }
  const redis = await connectRedis(settings, log);
  const mailer = createMailer(settings, log);
  const metrics = createMetrics(settings.METRICS_ENABLED);
  const authCache = await createAuthCache(settings, log, {
    redis,
    notify: db.notify,
    metrics,
  });
  const base = {
    settings,
    prisma: db.prisma,
    store: createStore(db.prisma, authCache),
    mailer,
    keys,
    log,
    throttle: createThrottle(settings, log, redis, metrics),
    metrics,
    lifecycle: { draining: false },
    authCache,
  };
  const outbox = startOutbox(base);
  const deps: Deps = { ...base, outbox };
  return {
    db,
    deps,
    redis,
    async close() {
      await outbox.close(); // lets a delivery in progress finish
      await mailer.close();
      await authCache.close();
      redis?.disconnect();
      await db.close(); // an unclosed PGlite keeps the process alive
    },
  };
}
