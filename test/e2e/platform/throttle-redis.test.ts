// Throttling end to end: Redis-backed counts shared by two real `portcullis serve` processes,
// failing open or closed (never a 500) while Redis is away, and resuming after.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../../src/db/index.ts";
import { type Instance, startInstance } from "../../helpers/instances.ts";
import { freshPostgres } from "../../helpers/server.ts";
import { type PrivateRedis, privateRedis } from "../../helpers/services.ts";
import { ARGON2, expectThrottled, expectTrpcThrottled, from, PW, rest, sleep, trpc } from "./throttle-setup.ts";

describe("Redis-backed throttling, shared by two server processes (PostgreSQL + one Redis)", () => {
  let redis: PrivateRedis;
  let pg: Awaited<ReturnType<typeof freshPostgres>>;
  let open: Instance; // THROTTLE_FAILURE_MODE=open (the default)
  let closed: Instance; // THROTTLE_FAILURE_MODE=closed
  const dir = mkdtempSync(join(tmpdir(), "portcullis-throttle-"));
  let n = 0;
  const attempt = (p: Instance, ip: string) =>
    rest(p.url, "POST", "/auth/token/login/", from(ip), { username: `nobody${++n}`, password: PW });
  /** The process's JSON log lines so far. */
  const logs = (p: Instance): { level: number; msg: string }[] =>
    p
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{") && l.endsWith("}"))
      .map((l) => JSON.parse(l));
  const storeDown = (p: Instance) => logs(p).filter((l) => l.msg.startsWith("throttle store (Redis) unavailable"));

  beforeAll(async () => {
    [redis, pg] = await Promise.all([privateRedis(), freshPostgres()]);
    const env = {
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      SECRET_KEY: `throttle-${randomBytes(24).toString("hex")}`,
      ARGON2,
      NUM_PROXIES: "1",
      EMAIL_BACKEND: "file",
      EMAIL_FILE_PATH: join(dir, "mail"),
      DATA_DIR: dir,
      DEFAULT_THROTTLE_RATES: '{"login":"4/min"}',
      LOG_LEVEL: "info",
    };
    const t0 = Date.now();
    // Migrate first, here, so that both processes can start at once without racing to migrate.
    const db = await openDatabase(pg.url, { poolSize: 1 });
    await db.migrate();
    await db.close();
    const both = { ...env, AUTO_MIGRATE: "false" };
    [open, closed] = await Promise.all([
      startInstance(both),
      startInstance({ ...both, THROTTLE_FAILURE_MODE: "closed" }),
    ]);
    console.log(`two serve processes up in ${Date.now() - t0} ms: ${open.url}, ${closed.url}`);
  }, 90_000);
  afterAll(async () => {
    await Promise.all([open?.stop(), closed?.stop()]);
    await Promise.all([redis?.destroy(), pg?.drop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("one count spans both processes; Redis holds only HMACed keys", async () => {
    const ip = "198.51.100.1";
    const first = [
      await attempt(open, ip),
      await attempt(closed, ip),
      await attempt(open, ip),
      await attempt(closed, ip),
    ];
    expect(first.map((r) => r.status)).toEqual([400, 400, 400, 400]);
    expectThrottled(await attempt(open, ip), 60);
    expectThrottled(await attempt(closed, ip), 60);
    expectTrpcThrottled(await trpc(closed.url, "token.login", { username: "someone", password: PW }, from(ip)), 60);
    const client = new Redis(redis.url);
    const keys = await client.keys("portcullis:throttle:*");
    await client.quit();
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k).toMatch(/^portcullis:throttle:login:[A-Za-z0-9_-]{32}$/);
    console.log(
      "shared count: 4 attempts over 2 processes, then 429 on both; " +
        `${keys.length} Redis keys, none naming an address or login`,
    );
  });

  it("Redis down: open passes (one error line), closed answers 503 with Retry-After, never a 500; " +
    "both resume when it is back", async () => {
    await redis.stop();
    const ip = "198.51.100.2";
    const during = [];
    for (let i = 0; i < 6; i++) during.push(await attempt(open, ip));
    expect(during.map((r) => r.status)).toEqual([400, 400, 400, 400, 400, 400]); // over the 4/min, yet let through
    expect(storeDown(open)).toHaveLength(1);
    expect(storeDown(open)[0]).toMatchObject({ level: 50, msg: expect.stringContaining("failing open") });
    for (let i = 0; i < 2; i++) {
      const r = await attempt(closed, ip);
      expect(r.status, r.text).toBe(503);
      expect(r.headers.get("retry-after")).toBe("5");
      expect(r.json.detail).toMatch(/^Rate limiting is unavailable/);
    }
    const t = await trpc(closed.url, "jwt.create", { username: "someone", password: PW }, from(ip));
    expect(t.status).toBe(503);
    expect(t.headers.get("retry-after")).toBe("5");
    expect(t.json.error.data).toMatchObject({ code: "service_unavailable", httpStatus: 503, retryAfter: 5 });
    expect(storeDown(closed)).toHaveLength(1);
    expect(storeDown(closed)[0]!.msg).toContain("failing closed");
    // What is not throttled keeps working on the closed process.
    expect((await rest(closed.url, "OPTIONS", "/auth/token/login/")).status).toBe(200);
    expect((await rest(closed.url, "GET", "/healthz")).status).toBe(200);

    await redis.start();
    const t0 = Date.now();
    // Each process reconnects on its own schedule (ioredis backs off up to 2 s): wait for both.
    const back = (p: Instance) => logs(p).some((l) => l.msg === "Redis reachable again");
    while (!(back(open) && back(closed)) && Date.now() - t0 < 15_000) await sleep(100);
    expect([back(open), back(closed)]).toEqual([true, true]);
    console.log(`both processes reconnected ${Date.now() - t0} ms after Redis restarted`);
    expect((await attempt(closed, "198.51.100.3")).status).toBe(400); // accepting again
    const ip2 = "198.51.100.4";
    const after = [
      await attempt(open, ip2),
      await attempt(closed, ip2),
      await attempt(open, ip2),
      await attempt(closed, ip2),
    ];
    expect(after.map((a) => a.status)).toEqual([400, 400, 400, 400]);
    expectThrottled(await attempt(open, ip2), 60);
    expectThrottled(await attempt(closed, ip2), 60);
    expect(logs(open).some((l) => l.msg.startsWith("throttle store reachable again"))).toBe(true);
    for (const p of [open, closed])
      expect(logs(p).filter((l) => /tRPC procedure failed|internal/i.test(l.msg))).toEqual([]);
  }, 60_000);
});
