// The Fastify app: tRPC at /trpc, Djoser REST at /auth/, OpenAPI UI at /docs, /healthz.
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from "@trpc/server/adapters/fastify";
import Fastify from "fastify";
import type { JwtVerifier } from "../auth/context.ts";
import type { Database } from "../db/index.ts";
import { restPlugin } from "../rest/index.ts";
import type { Deps } from "../services/deps.ts";
import { appRouter, type AppRouter } from "../trpc/router.ts";
import { requestMeta } from "../rest/drf.ts";

export type AppOptions = { deps: Deps; db: Database; verifyJwt?: JwtVerifier };

// Django's SecurityMiddleware and XFrameOptionsMiddleware defaults, which Djoser clients see.
const SECURITY_HEADERS = { "x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "same-origin", vary: "Accept" };

export async function buildApp({ deps, db, verifyJwt }: AppOptions) {
  const app = Fastify({ loggerInstance: deps.log, bodyLimit: 64 * 1024, trustProxy: false, routerOptions: { maxParamLength: 200 } });
  app.addHook("onSend", async (_req, reply) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) if (!reply.hasHeader(k)) reply.header(k, v);
  });

  await app.register(swagger, {
    openapi: {
      info: { title: "Portcullis", version: "0.1.0", description: "Djoser-compatible REST API. Typed clients use tRPC at /trpc (AppRouter)." },
      components: { securitySchemes: { token: { type: "apiKey", in: "header", name: "Authorization", description: "Token <key>" }, bearer: { type: "http", scheme: "bearer" } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  app.get("/healthz", { schema: { hide: true } }, async (_req, reply) => {
    try {
      const pending = await db.pending();
      if (pending.length) return reply.code(503).send({ status: "migrations pending", pending });
      return { status: "ok", database: db.kind };
    } catch {
      return reply.code(503).header("Retry-After", "5").send({ status: "database unavailable" });
    }
  });

  await app.register(fastifyTRPCPlugin, {
    prefix: "/trpc",
    trpcOptions: {
      router: appRouter,
      createContext: ({ req }) => ({ deps, authorization: req.headers.authorization, meta: requestMeta(req), verifyJwt }),
      onError: ({ error, path }) => {
        if (error.code === "INTERNAL_SERVER_ERROR") deps.log.error({ path, err: error.cause ?? error }, "tRPC procedure failed");
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"],
  });

  await app.register(restPlugin, { prefix: "/auth", deps, verifyJwt });
  return app;
}
