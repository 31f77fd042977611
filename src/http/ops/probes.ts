// Probes for orchestrators beside /healthz (which stays as it was: database and migrations):
// /livez says the process serves (no dependency asked, so a database outage restarts nothing);
// /readyz says this instance can serve now: the database answers with every migration applied,
// Redis answers when REDIS_URL is set, and the auth cache hears other instances' invalidations;
// and not while a shutdown drains (SHUTDOWN_DRAIN_SECONDS).
import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Deps } from "../../core/deps.ts";
import type { Database } from "../../db/index.ts";
import { response } from "../../rest/openapi.ts";

const asIs = () => (data: unknown) => JSON.stringify(data);
const ready = z.object({
  status: z.enum(["ok", "unavailable", "shutting down"]),
  checks: z
    .record(z.string(), z.string())
    .describe('Each dependency: "ok", "unavailable" or "migrations pending" (database, redis, invalidations)'),
});
const readyDoc = {
  tags: ["server"],
  summary: "Readiness: the database (migrated), Redis when configured, the auth cache's invalidation channel",
  response: {
    200: response("Ready", ready),
    503: response("Not ready: see checks", ready, {
      "Retry-After": { type: "integer", description: "Seconds to wait" },
    }),
  },
};
const liveDoc = {
  tags: ["server"],
  summary: "Liveness: the process answers (nothing else is asked)",
  response: { 200: response("Alive", z.object({ status: z.literal("ok") })) },
};

/** What /readyz reports, check by check. */
async function checks(db: Database, deps: Deps, redis: Redis | null): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  try {
    out.database = (await db.pending()).length ? "migrations pending" : "ok";
  } catch {
    out.database = "unavailable";
  }
  if (redis) out.redis = redis.status === "ready" ? "ok" : "unavailable";
  const channel = deps.authCache.channelState();
  if (channel !== "none") out.invalidations = channel === "listening" ? "ok" : "unavailable";
  return out;
}

export function probes(app: FastifyInstance, db: Database, deps: Deps, redis: Redis | null) {
  app.get("/livez", { schema: liveDoc, serializerCompiler: asIs }, async () => ({ status: "ok" }));
  app.get("/readyz", { schema: readyDoc, serializerCompiler: asIs }, async (_req, reply) => {
    const found = await checks(db, deps, redis);
    const ok = Object.values(found).every((c) => c === "ok") && !deps.lifecycle.draining;
    if (!ok) reply.code(503).header("Retry-After", "5");
    const status = deps.lifecycle.draining ? "shutting down" : ok ? "ok" : "unavailable";
    return reply.send({ status, checks: found });
  });
}
