// Credential → user, kept in memory so an authenticated request costs no database round trip.
//
// Safe only while every change that could make an entry wrong reaches every instance at once:
// the services call forgetUser(id) after each such write (logout, revocation, password or email
// change, deactivation, deletion), which drops the user's entries here and, over the invalidation
// channel (invalidations.ts: Redis pub/sub with REDIS_URL, PostgreSQL's LISTEN/NOTIFY without),
// on every other instance before the request that made the change is answered. One process on
// PGlite needs no channel. While the channel is down the cache is bypassed (and emptied), and
// AUTH_CACHE_SECONDS bounds the life of an entry in any case.
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Settings } from "../../config/schema.ts";
import type { AuthCache, User } from "../deps.ts";
import type { Metrics } from "../metrics.ts";
import { type Channel, FORGET_ALL, type Notify, postgresChannel, redisChannel } from "./invalidations.ts";

export type { AuthCache };

const MAX_ENTRIES = 50_000;

type Entry = { value: { user: User }; expires: number };

/** Where invalidations travel (Redis, else PostgreSQL's NOTIFY, else nowhere), and what is counted. */
export type CacheOptions = { redis: Redis | null; notify?: Notify; metrics?: Metrics };

export async function createAuthCache(
  settings: Settings,
  log: Logger,
  { redis, notify, metrics }: CacheOptions,
): Promise<AuthCache> {
  const ttl = settings.AUTH_CACHE_SECONDS * 1000;
  const entries = new Map<string, Entry>();
  const byUser = new Map<number, Set<string>>();
  const verified = new Map<string, { claims: Record<string, unknown>; until: number }>();
  const single = settings.DATABASE_URL.startsWith("pglite:"); // one process owns a PGlite database
  let listening = false; // whether invalidations from other instances reach us now
  let epoch = 0; // bumped by every invalidation

  const drop = (userId: number) => {
    epoch++;
    for (const key of byUser.get(userId) ?? []) entries.delete(key);
    byUser.delete(userId);
  };
  const clear = () => {
    epoch++;
    entries.clear();
    verified.clear();
    byUser.clear();
  };

  const listener = {
    onMessage: (payload: string) => (payload === FORGET_ALL ? clear() : drop(Number(payload))),
    onState(on: boolean) {
      clear();
      listening = on;
    },
  };
  let channel: Channel | null = null;
  if (ttl > 0 && !single) {
    if (redis) channel = await redisChannel(redis, log, listener);
    else if (notify) channel = await postgresChannel(settings.DATABASE_URL, notify, log, listener);
  }
  const enabled = () => ttl > 0 && (single || listening);

  return {
    get<T extends { user: User }>(key: string) {
      const entry = enabled() ? entries.get(key) : undefined;
      if (entry && entry.expires <= Date.now()) entries.delete(key);
      const live = entry && entry.expires > Date.now();
      metrics?.cacheLookup(!!live);
      if (!live) return undefined;
      // A copy: services may change the user object they are given (e.g. lastLogin).
      return { ...entry.value, user: { ...entry.value.user } } as unknown as T;
    },
    verifiedClaims(token) {
      const hit = verified.get(token);
      if (hit && hit.until > Date.now()) return hit.claims;
      if (hit) verified.delete(token);
      return undefined;
    },
    rememberClaims(token, claims, validUntilMs) {
      if (ttl <= 0) return;
      if (verified.size >= MAX_ENTRIES) verified.delete(verified.keys().next().value!);
      verified.set(token, { claims, until: validUntilMs });
    },
    stamp: () => epoch,
    set(key, value, stamp, until = Infinity) {
      if (!enabled() || stamp !== epoch || until <= Date.now()) return;
      if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value!); // oldest first
      entries.set(key, { value, expires: Math.min(Date.now() + ttl, until) });
      const keys = byUser.get(value.user.id) ?? new Set<string>();
      byUser.set(value.user.id, keys.add(key));
    },
    async forgetUser(userId) {
      drop(userId);
      if (!channel) return;
      try {
        await channel.publish(userId);
      } catch (e) {
        // Other instances cannot be told: they bypass their cache while the channel is down for
        // them too, and AUTH_CACHE_SECONDS bounds the rest.
        log.error({ err: (e as Error).message, userId }, "auth cache: could not publish an invalidation");
      }
    },
    /** Whether invalidations reach this instance: "none" when it needs none (PGlite, or the cache off). */
    channelState: () => (channel ? (listening ? "listening" : "down") : "none"),
    async close() {
      channel?.close();
      clear();
    },
  };
}
