// Throttling with DRF's scopes and rates, on rate-limiter-flexible: counted in memory for one
// process, or in Redis (REDIS_URL) so that every instance counts together.
import { createHmac } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { type RateLimiterAbstract, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { type Settings, THROTTLE_SCOPES } from "../../config/schema.ts";
import { AuthError, throttled } from "../../errors.ts";
import type { Metrics } from "../metrics.ts";
import { purposeKey } from "../secrets.ts";

export type ThrottleScope = (typeof THROTTLE_SCOPES)[number];

/**
 * Counts one request of `scope` against each key ("ip:…", "user:…", "account:…"); throws DRF's
 * 429 when any key is over its rate. Keys are HMACed: the store never holds an email address.
 */
export type Throttle = (scope: ThrottleScope, keys: (string | null | undefined)[]) => Promise<void>;

const PERIOD_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** DRF's parse_rate: "20/min" → 20 requests per 60 s (the period is read by its first letter). */
export function parseRate(rate: string): { points: number; duration: number } {
  const [count, period] = rate.split("/") as [string, string];
  return { points: Number(count), duration: PERIOD_SECONDS[period[0] as keyof typeof PERIOD_SECONDS] };
}

export function createThrottle(settings: Settings, log: Logger, redis: Redis | null, metrics?: Metrics): Throttle {
  const limiters = new Map<ThrottleScope, RateLimiterAbstract>();
  for (const scope of THROTTLE_SCOPES) {
    const rate = settings.DEFAULT_THROTTLE_RATES[scope];
    if (!rate) continue;
    const opts = { ...parseRate(rate), keyPrefix: `portcullis:throttle:${scope}` };
    // rejectIfRedisNotReady: while Redis is away, fail at once (open or closed) instead of queueing.
    limiters.set(
      scope,
      redis
        ? new RateLimiterRedis({ ...opts, storeClient: redis, rejectIfRedisNotReady: true })
        : new RateLimiterMemory(opts),
    );
  }
  const mode = settings.THROTTLE_FAILURE_MODE;
  let storeDown = false; // one log line per outage, not one per request
  const hmac = (key: string) =>
    createHmac("sha256", purposeKey(settings, "throttle")).update(key).digest("base64url").slice(0, 32);

  return async (scope, keys) => {
    const limiter = limiters.get(scope);
    if (!limiter) return;
    let wait = 0;
    for (const key of keys) {
      if (!key) continue;
      try {
        await limiter.consume(hmac(key));
        if (storeDown) log.warn("throttle store reachable again: throttling resumed");
        storeDown = false;
      } catch (e) {
        if (e instanceof RateLimiterRes) {
          wait = Math.max(wait, e.msBeforeNext / 1000);
          continue;
        }
        if (!storeDown)
          log.error(
            { err: (e as Error).message },
            `throttle store (Redis) unavailable: failing ${mode} (THROTTLE_FAILURE_MODE=${mode})`,
          );
        storeDown = true;
        if (mode === "closed")
          throw new AuthError(
            "service_unavailable",
            "Rate limiting is unavailable, so this request cannot be accepted now; try again shortly.",
            { retryAfter: 5 },
          );
        return;
      }
    }
    if (wait) {
      metrics?.throttled(scope);
      throw throttled(wait);
    }
  };
}

/** The key of a login name or email for throttles and lockouts: case and Unicode forms count as one. */
export const accountKey = (name: string) => `account:${name.normalize("NFKC").toLowerCase()}`;

/**
 * DRF's anon and user throttles, one rule for both adapters: a request whose credential
 * authenticated (`userId`) counts as that user (`user`), any other by its address (`anon`).
 */
export const throttleCaller = (throttle: Throttle, userId: number | null, ip: string) =>
  userId === null ? throttle("anon", [`ip:${ip}`]) : throttle("user", [`user:${userId}`]);
