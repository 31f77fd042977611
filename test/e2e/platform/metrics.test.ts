// Operations: /metrics in Prometheus's format (off unless METRICS_ENABLED; with METRICS_TOKEN only
// for that bearer), /livez and /readyz beside /healthz. Counts are read after real requests.
import pg from "pg";
import { describe, expect, it } from "vitest";
import { PW, tokenAuth, useServer } from "../../helpers/fixture.ts";
import { DATABASES } from "../../helpers/server.ts";

const TOKEN = "metrics-token-0123456789abcdef";
const scrape = (s: ReturnType<typeof useServer>, auth = `Bearer ${TOKEN}`) =>
  s.request("GET", "/metrics", { headers: { authorization: auth } });
/** The value of the sample `name{labels}` (labels in prom-client's order), or undefined. */
function sample(text: string, name: string, labels = ""): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ""} `));
  return line === undefined ? undefined : Number(line.split(" ").pop());
}

describe.each(DATABASES)("/metrics (%s)", (kind) => {
  const s = useServer(kind, {
    METRICS_ENABLED: "true",
    METRICS_TOKEN: TOKEN,
    DEFAULT_THROTTLE_RATES: '{"login":"2/min"}',
  });

  it("counts requests by route and status, logins and failures, throttles, cache lookups, and Node's own", async () => {
    await s.signUp("mia", "mia@example.com");
    const key = await s.tokenLogin("mia");
    const bad = await s.request("POST", "/auth/token/login/", { json: { username: "mia", password: "wrong" } });
    expect(bad.status).toBe(400);
    const throttled = await s.request("POST", "/auth/token/login/", { json: { username: "mia", password: PW } });
    expect(throttled.status).toBe(429);
    for (let i = 0; i < 3; i++) expect((await s.me(tokenAuth(key))).status).toBe(200);
    const res = await scrape(s);
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.text;
    expect(sample(text, "portcullis_http_requests_total", 'method="GET",route="/auth/users/me/",status="200"')).toBe(3);
    expect(
      sample(text, "portcullis_http_requests_total", 'method="POST",route="/auth/token/login/",status="429"'),
    ).toBe(1);
    expect(sample(text, "portcullis_auth_events_total", 'kind="login_succeeded"')).toBe(1);
    expect(sample(text, "portcullis_auth_events_total", 'kind="login_failed"')).toBe(1);
    expect(sample(text, "portcullis_throttled_requests_total", 'scope="login"')).toBe(1);
    // The first /me looks the token up in the database; the next two come from memory.
    expect(sample(text, "portcullis_auth_cache_lookups_total", 'result="hit"')).toBe(2);
    expect(sample(text, "portcullis_auth_cache_lookups_total", 'result="miss"')).toBeGreaterThanOrEqual(1);
    expect(sample(text, "portcullis_mail_outbox_waiting")).toBe(0);
    expect(sample(text, "portcullis_nodejs_eventloop_lag_seconds")).toBeGreaterThanOrEqual(0);
    expect(text).toContain(
      'portcullis_http_request_duration_seconds_bucket{le="0.01",method="GET",route="/auth/users/me/"',
    );
    if (kind === "postgresql")
      expect(sample(text, "portcullis_db_pool_connections", 'state="total"')).toBeGreaterThan(0);
    else expect(text).not.toContain("portcullis_db_pool_connections");
  });

  it("needs the token when METRICS_TOKEN is set; a wrong one is a 401", async () => {
    for (const auth of ["", "Bearer nope", `Token ${TOKEN}`]) {
      const res = await scrape(s, auth);
      expect([res.status, res.headers.get("www-authenticate")], auth).toEqual([401, "Bearer"]);
      expect(res.json.detail).toMatch(/METRICS_TOKEN/);
    }
  });
});

describe("/metrics off by default (pglite)", () => {
  const s = useServer("pglite");
  it("is not served", async () => {
    expect((await scrape(s)).status).toBe(404);
  });
});

describe("/livez and /readyz (postgresql, no Redis)", () => {
  const s = useServer("postgresql");

  it("/livez answers without asking anything; /readyz checks the database and the invalidation channel", async () => {
    expect((await s.request("GET", "/livez")).json).toEqual({ status: "ok" });
    const ready = await s.request("GET", "/readyz");
    expect([ready.status, ready.json]).toEqual([
      200,
      { status: "ok", checks: { database: "ok", invalidations: "ok" } },
    ]);
  });

  it("/readyz is a 503 while the auth cache's channel is down, and ready again once it is back", async () => {
    const sql = new pg.Client({ connectionString: s.settings.DATABASE_URL });
    await sql.connect();
    try {
      const listener = "query LIKE 'LISTEN portcullis%' AND datname = current_database()";
      await sql.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE ${listener}`);
      // Down from when the server notices the loss until it listens again (250 ms at least).
      let down = await s.request("GET", "/readyz");
      for (const t0 = Date.now(); down.status === 200 && Date.now() - t0 < 3000; )
        down = await s.request("GET", "/readyz");
      expect([down.status, down.json.checks.invalidations, down.headers.get("retry-after")]).toEqual([
        503,
        "unavailable",
        "5",
      ]);
      let back = down;
      for (let i = 0; i < 100 && back.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        back = await s.request("GET", "/readyz");
      }
      expect(back.json).toEqual({ status: "ok", checks: { database: "ok", invalidations: "ok" } });
    } finally {
      await sql.end();
    }
  });
});

describe("/readyz with a Redis that does not answer (postgresql)", () => {
  const s = useServer("postgresql", { REDIS_URL: "redis://127.0.0.1:9" });
  it("is a 503 naming Redis", async () => {
    const res = await s.request("GET", "/readyz");
    expect(res.status).toBe(503);
    expect(res.json.checks).toMatchObject({ database: "ok", redis: "unavailable" });
  });
});
