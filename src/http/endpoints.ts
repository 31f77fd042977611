// The server's own endpoints beside the two APIs: the OpenAPI UI at /docs, the JWKS, /healthz.
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import type { Deps } from "../core/deps.ts";
import type { Database } from "../db/index.ts";
import { AuthError } from "../errors.ts";

/** /docs: the REST routes' OpenAPI document and its UI (API_DOCS=false: a 404 like any unknown path). */
export async function docs(app: FastifyInstance) {
  await app.register(swagger, {
    hideUntagged: true, // /trpc is described by its AppRouter type, not by OpenAPI
    openapi: {
      info: {
        title: "Portcullis",
        version: "0.1.0",
        description: "Djoser-compatible REST API. Typed clients use tRPC at /trpc (AppRouter).",
      },
      components: {
        securitySchemes: {
          token: { type: "apiKey", in: "header", name: "Authorization", description: "Token <key>" },
          bearer: { type: "http", scheme: "bearer" },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
}

/**
 * The public keys that verify our JWTs (RFC 7517), for resource servers that check tokens
 * themselves. Nothing to publish when the keys are HMAC secrets.
 */
export function jwks(app: FastifyInstance, deps: Deps) {
  app.get("/.well-known/jwks.json", { schema: { hide: true } }, async (_req, reply) => {
    if (!deps.keys.jwks.keys.length) {
      const algorithm = deps.settings.SIMPLE_JWT.ALGORITHM;
      const why = `No public keys: SIMPLE_JWT.ALGORITHM is ${algorithm}, a shared secret.`;
      throw new AuthError("not_found", `${why} Use RS256 or ES256 keys to publish a JWKS.`);
    }
    return reply
      .header("cache-control", "public, max-age=300")
      .header("content-type", "application/jwk-set+json")
      .send(deps.keys.jwks);
  });
}

/** 200 while the database answers and no migration is pending; else a 503 a load balancer reads. */
export function healthz(app: FastifyInstance, db: Database) {
  app.get("/healthz", { schema: { hide: true } }, async (_req, reply) => {
    try {
      const pending = await db.pending();
      if (pending.length) return reply.code(503).send({ status: "migrations pending", pending });
      return { status: "ok", database: db.kind };
    } catch {
      return reply.code(503).header("Retry-After", "5").send({ status: "database unavailable" });
    }
  });
}
