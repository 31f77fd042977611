// The server's own endpoints beside the two APIs: the OpenAPI UI at /docs, the JWKS, /healthz.
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Settings } from "../config/schema.ts";
import type { Deps } from "../core/deps.ts";
import type { Database } from "../db/index.ts";
import { AuthError } from "../errors.ts";
import { detail, response } from "../rest/openapi.ts";
import { jwtHeaderName } from "./authenticate.ts";

const words = (list: readonly string[]) => list.map((w) => `\`${w} <credential>\``).join(" or ");
// These endpoints send their own JSON: their response schemas only document it.
const asIs = () => (data: unknown) => JSON.stringify(data);

/**
 * /docs: the OpenAPI document of the REST routes, the JWKS and /healthz, and its UI (API_DOCS=false:
 * a 404 like any unknown path). The security schemes name the prefixes in force.
 */
export async function docs(app: FastifyInstance, settings: Settings) {
  const jwtHeader = jwtHeaderName(settings);
  const jwt = `An access JWT from /auth/jwt/create/: ${words(settings.SIMPLE_JWT.AUTH_HEADER_TYPES)}`;
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
          token: {
            type: "apiKey",
            in: "header",
            name: "Authorization",
            description: `An opaque key from /auth/token/login/: ${words(settings.TOKEN_AUTH_HEADER_TYPES)}`,
          },
          bearer:
            jwtHeader === "authorization" && settings.SIMPLE_JWT.AUTH_HEADER_TYPES.includes("Bearer")
              ? {
                  type: "http",
                  scheme: "bearer",
                  bearerFormat: "JWT",
                  description: jwt,
                }
              : {
                  type: "apiKey",
                  in: "header",
                  name: jwtHeader,
                  description: jwt,
                },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
}

const jwkSet = z.object({ keys: z.array(z.looseObject({ kty: z.string(), kid: z.string() })) });
const jwksDoc = {
  tags: ["server"],
  summary: "The public keys that verify the JWTs (RS256/ES256 keys only)",
  produces: ["application/jwk-set+json"],
  response: {
    200: response("The key set (RFC 7517)", jwkSet, undefined, "application/jwk-set+json"),
    404: response("No public keys: the JWTs are signed with an HMAC secret", detail),
  },
};

const health = z.looseObject({
  status: z.string().describe('"ok", "migrations pending" or "database unavailable"'),
  database: z.string().optional(),
  pending: z.array(z.string()).optional().describe("The migrations not applied yet"),
});
const healthDoc = {
  tags: ["server"],
  summary: "For load balancers: 200 while the database answers and no migration is pending",
  response: {
    200: response("Up", health),
    503: response("Migrations pending, or the database does not answer", health, {
      "Retry-After": { type: "integer", description: "Seconds to wait (database unavailable)" },
    }),
  },
};

/**
 * The public keys that verify our JWTs (RFC 7517), for resource servers that check tokens
 * themselves. Nothing to publish when the keys are HMAC secrets.
 */
export function jwks(app: FastifyInstance, deps: Deps) {
  app.get("/.well-known/jwks.json", { schema: jwksDoc, serializerCompiler: asIs }, async (_req, reply) => {
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
  app.get("/healthz", { schema: healthDoc, serializerCompiler: asIs }, async (_req, reply) => {
    try {
      const pending = await db.pending();
      if (pending.length) return reply.code(503).send({ status: "migrations pending", pending });
      return { status: "ok", database: db.kind };
    } catch {
      return reply.code(503).header("Retry-After", "5").send({ status: "database unavailable" });
    }
  });
}
