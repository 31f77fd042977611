// The Fastify app, composed: the guards, the server's own endpoints, tRPC at /trpc, Djoser REST
// at /auth/. The order is part of the behaviour (see each step).
import { METHODS } from "node:http";
import cors from "@fastify/cors";
import Fastify, { type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from "fastify";
import type { Deps } from "./core/deps.ts";
import type { Database } from "./db/index.ts";
import { AuthError } from "./errors.ts";
import { classifyError } from "./http/classify.ts";
import { docs, healthz, jwks } from "./http/endpoints.ts";
import * as guards from "./http/guards.ts";
import { NOT_FOUND_HTML, restPlugin } from "./rest/index.ts";
import { renderEdgeError } from "./rest/render.ts";
import { sendTrpcError } from "./trpc/errors.ts";
import { mountTrpc } from "./trpc/plugin.ts";

export type AppOptions = { deps: Deps; db: Database };

export async function buildApp({ deps, db }: AppOptions) {
  const { settings } = deps;
  const log: FastifyBaseLogger = deps.log; // so the pieces below take a plain FastifyInstance
  const app = Fastify({
    loggerInstance: log,
    bodyLimit: 64 * 1024,
    trustProxy: guards.trustProxy(settings),
    routerOptions: { maxParamLength: 16_384 },
    clientErrorHandler: guards.clientErrorHandler,
    frameworkErrors: guards.frameworkErrors,
  });
  // An error raised before a route's own handler ran: tRPC's envelope under /trpc/, {detail, code} elsewhere.
  const sendError = (req: FastifyRequest, reply: FastifyReply, err: AuthError) =>
    req.url.startsWith("/trpc/") ? sendTrpcError(req, reply, err, settings) : renderEdgeError(reply, err, settings);

  app.addHook("onSend", guards.securityHeaders(settings));
  // ALLOWED_HOSTS, before anything else looks at the request (health checks by address included
  // only if listed: a load balancer's probe sends the Host it is configured with).
  app.addHook("onRequest", guards.hostCheck(settings, sendError));
  // Outside /auth/ (e.g. a 413 before tRPC sees the body, the JWKS's 404).
  app.setErrorHandler((err, req, reply) => sendError(req, reply, classifyError(err, req.log, settings.DEBUG)));
  // A path no route serves. Set before cors: its catch-all OPTIONS route keeps the handlers in
  // force when it is added, and calls the not-found handler for a plain OPTIONS.
  app.setNotFoundHandler((req, reply) =>
    req.url.startsWith("/auth/")
      ? reply.code(404).header("content-type", "text/html").send(NOT_FOUND_HTML)
      : sendError(req, reply, new AuthError("not_found")),
  );
  // Not registered at all (no cost per request) while no origin is allowed.
  if (guards.corsEnabled(settings)) await app.register(cors, guards.corsOptions(settings));

  if (settings.API_DOCS) await docs(app, settings);
  jwks(app, deps);
  healthz(app, db);
  await mountTrpc(app, deps);
  // Every method Node parses (CONNECT aside) reaches the REST routes, registered after this, so
  // a view answers PROPFIND or TRACE with DRF's 405 rather than a 404.
  for (const m of METHODS)
    if (m !== "CONNECT" && !app.supportedMethods.includes(m)) app.addHttpMethod(m, { hasBody: true });
  await app.register(restPlugin, { prefix: "/auth", deps });
  return app;
}
