// /metrics in Prometheus's text format (prom-client), when METRICS_ENABLED: requests by route,
// method and status with their latency, the service layer's counts (core/metrics.ts: auth events,
// throttled requests, auth-cache lookups), the mail outbox's depth and oldest age, the database
// pool, and Node's own (event-loop lag, memory, GC). With METRICS_TOKEN only a scraper that sends
// "Authorization: Bearer <token>" reads them.
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from "prom-client";
import type { Deps } from "../../core/deps.ts";
import type { Database } from "../../db/index.ts";

const digest = (v: string) => createHash("sha256").update(v).digest();
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

function httpMetrics(app: FastifyInstance, registry: Registry) {
  const labelNames = ["method", "route", "status"];
  const requests = new Counter({
    name: "portcullis_http_requests_total",
    help: "Requests answered, by route template, method and status",
    labelNames,
    registers: [registry],
  });
  const seconds = new Histogram({
    name: "portcullis_http_request_duration_seconds",
    help: "Time to answer, by route template, method and status",
    labelNames,
    buckets: BUCKETS,
    registers: [registry],
  });
  app.addHook("onResponse", async (req, reply) => {
    // The route's template ("/auth/users/:id/"), never the raw path: the label set stays small.
    const labels = { method: req.method, route: req.routeOptions.url ?? "unmatched", status: reply.statusCode };
    requests.inc(labels);
    seconds.observe(labels, reply.elapsedTime / 1000);
  });
}

function stateMetrics(registry: Registry, deps: Deps, db: Database) {
  const outbox = async () => deps.store.outbox.depth().catch(() => null);
  new Gauge({
    name: "portcullis_mail_outbox_waiting",
    help: "Mails waiting for delivery",
    registers: [registry],
    async collect() {
      this.set((await outbox())?.waiting ?? Number.NaN);
    },
  });
  new Gauge({
    name: "portcullis_mail_outbox_oldest_age_seconds",
    help: "Age of the oldest mail waiting (0: none waits)",
    registers: [registry],
    async collect() {
      const oldest = (await outbox())?.oldest;
      this.set(oldest ? (Date.now() - oldest.getTime()) / 1000 : 0);
    },
  });
  if (db.pool)
    new Gauge({
      name: "portcullis_db_pool_connections",
      help: "PostgreSQL pool connections: open, idle, and requests waiting for one",
      labelNames: ["state"],
      registers: [registry],
      collect() {
        const pool = db.pool!();
        this.set({ state: "total" }, pool.total);
        this.set({ state: "idle" }, pool.idle);
        this.set({ state: "waiting" }, pool.waiting);
      },
    });
}

export function metrics(app: FastifyInstance, deps: Deps, db: Database) {
  const { registry } = deps.metrics;
  if (!registry) return;
  collectDefaultMetrics({ register: registry, prefix: "portcullis_" });
  httpMetrics(app, registry);
  stateMetrics(registry, deps, db);
  const token = deps.settings.METRICS_TOKEN;
  app.get("/metrics", { schema: { hide: true } }, async (req, reply) => {
    const sent = req.headers.authorization ?? "";
    if (token && !timingSafeEqual(digest(sent), digest(`Bearer ${token}`)))
      return reply
        .code(401)
        .header("www-authenticate", "Bearer")
        .send({ detail: "Send the metrics token (METRICS_TOKEN) as Authorization: Bearer <token>." });
    return reply.header("content-type", registry.contentType).send(await registry.metrics());
  });
}
