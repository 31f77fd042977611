// Credential → user, kept in memory so an authenticated request costs no database round trip.
//
// Safe only while every change that could make an entry wrong reaches every instance at once:
// the services call forgetUser(id) after each such write (logout, revocation, password or email
// change, deactivation, deletion), which drops the user's entries here and, over Redis pub/sub,
// on every other instance before the request that made the change is answered. So the cache is on
// where that holds: one process on PGlite, or any number of instances sharing REDIS_URL. While
// the subscription is down it is bypassed (and emptied), and AUTH_CACHE_SECONDS bounds the life
// of an entry in any case.
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Settings } from "../../config/schema.ts";
import type { AuthCache, User } from "../deps.ts";

export type { AuthCache };

const CHANNEL = "portcullis:auth-cache:forget";
const MAX_ENTRIES = 50_000;

type Entry = { value: { user: User }; expires: number };

export async function createAuthCache(settings: Settings, log: Logger, redis: Redis | null): Promise<AuthCache> {
  const ttl = settings.AUTH_CACHE_SECONDS * 1000;
  const entries = new Map<string, Entry>();
  const byUser = new Map<number, Set<string>>();
  const verified = new Map<string, { claims: Record<string, unknown>; until: number }>();
  const single = settings.DATABASE_URL.startsWith("pglite:"); // one process owns a PGlite database
  let listening = false; // with Redis: whether invalidations from other instances reach us now
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

  let subscriber: Redis | null = null;
  if (redis && ttl > 0 && !single) {
    subscriber = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    subscriber.on("message", (_channel: string, id: string) => drop(Number(id)));
    subscriber.on(
      "ready",
      () =>
        void subscriber!.subscribe(CHANNEL).then(
          () => (listening = true),
          () => {},
        ),
    );
    // Whatever was missed while away is unknown: start empty when the subscription is back.
    subscriber.on("close", () => {
      if (listening) log.warn("auth cache: Redis subscription lost; cache bypassed until it is back");
      listening = false;
      clear();
    });
    subscriber.on("error", () => {}); // the shared connection already logs Redis outages
    await subscriber.connect().catch(() => {});
  }
  const enabled = () => ttl > 0 && (single || listening);

  return {
    get<T extends { user: User }>(key: string) {
      if (!enabled()) return undefined;
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.expires <= Date.now()) {
        entries.delete(key);
        return undefined;
      }
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
      if (!redis || single || ttl <= 0) return;
      try {
        await redis.publish(CHANNEL, String(userId));
      } catch (e) {
        // Other instances cannot be told: they bypass their cache while Redis is away (their
        // subscriptions are down too), and AUTH_CACHE_SECONDS bounds the rest.
        log.error({ err: (e as Error).message, userId }, "auth cache: could not publish an invalidation");
      }
    },
    async close() {
      subscriber?.disconnect();
      clear();
    },
  };
}
