// How the auth cache hears that another instance changed a user: Redis pub/sub when REDIS_URL is
// set, PostgreSQL's LISTEN/NOTIFY otherwise (a connection of its own per process, kept open and
// reopened with backoff). Either way `onState(false)` says invalidations may be missed from now
// on (the cache bypasses and empties itself), `onState(true)` that they reach us again.
import type { Redis } from "ioredis";
import pg from "pg";
import type { Logger } from "pino";

export type Channel = { publish(userId: number): Promise<void>; close(): void };
/** NOTIFY on the database's own connections (the pool's): `SELECT pg_notify(channel, payload)`. */
export type Notify = (channel: string, payload: string) => Promise<unknown>;
/** `onMessage`: a user's id, or FORGET_ALL. */
type Listener = { onMessage(payload: string): void; onState(listening: boolean): void };

/** The message that empties every instance's cache (endallsessions, an import). */
export const FORGET_ALL = "*";

const REDIS_CHANNEL = "portcullis:auth-cache:forget";
const PG_CHANNEL = "portcullis_auth_cache_forget";

export async function redisChannel(redis: Redis, log: Logger, on: Listener): Promise<Channel> {
  const subscriber = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
  let listening = false;
  subscriber.on("message", (_channel: string, payload: string) => on.onMessage(payload));
  subscriber.on(
    "ready",
    () =>
      void subscriber.subscribe(REDIS_CHANNEL).then(
        () => {
          listening = true;
          on.onState(true);
        },
        () => {},
      ),
  );
  // Whatever was missed while away is unknown: the cache starts empty when the subscription is back.
  subscriber.on("close", () => {
    if (listening) log.warn("auth cache: Redis subscription lost; cache bypassed until it is back");
    listening = false;
    on.onState(false);
  });
  subscriber.on("error", () => {}); // the shared connection already logs Redis outages
  await subscriber.connect().catch(() => {});
  return {
    publish: async (userId) => void (await redis.publish(REDIS_CHANNEL, String(userId))),
    close: () => subscriber.disconnect(),
  };
}

/**
 * LISTEN on a connection of its own; NOTIFY through `notify` (the pool's connections), so an
 * invalidation goes out whenever the write that caused it could be made.
 */
export async function postgresChannel(url: string, notify: Notify, log: Logger, on: Listener): Promise<Channel> {
  let client: pg.Client | null = null;
  let closed = false;
  let delay = 250;
  let timer: NodeJS.Timeout | undefined;
  const retry = () => {
    if (closed) return;
    timer = setTimeout(connect, delay).unref();
    delay = Math.min(delay * 2, 5000);
  };
  const lost = (c: pg.Client) => {
    if (client !== c) return;
    client = null;
    log.warn("auth cache: PostgreSQL notifications lost; cache bypassed until they are back");
    on.onState(false);
    retry();
  };
  async function connect() {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000, keepAlive: true });
    c.on("notification", (m) => on.onMessage(m.payload ?? ""));
    c.on("error", () => lost(c)); // an error ends the connection: 'end' follows
    c.on("end", () => lost(c));
    try {
      await c.connect();
      await c.query(`LISTEN ${PG_CHANNEL}`);
    } catch {
      c.end().catch(() => {});
      return retry();
    }
    if (closed) return void c.end().catch(() => {});
    client = c;
    delay = 250;
    on.onState(true);
  }
  await connect();
  return {
    publish: (userId) => notify(PG_CHANNEL, String(userId)).then(() => {}),
    close() {
      closed = true;
      clearTimeout(timer);
      const c = client;
      client = null;
      c?.end().catch(() => {});
    },
  };
}

/**
 * Tells every running server to empty its cache, from a process that has none (a CLI command
 * that changed sessions or users behind the servers' backs). PGlite needs nothing: no server can
 * run beside the command on the same folder.
 */
export async function broadcastForgetAll(redisUrl: string | null, notify: Notify | null): Promise<void> {
  if (redisUrl) {
    const { Redis } = await import("ioredis");
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
    redis.on("error", () => {});
    try {
      await redis.connect();
      await redis.publish(REDIS_CHANNEL, FORGET_ALL);
    } finally {
      redis.disconnect();
    }
  } else if (notify) await notify(PG_CHANNEL, FORGET_ALL);
}
