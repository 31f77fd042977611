// The Fastify app, composed: `portcullis`, the plugin holding the guards, the server's own
// endpoints, tRPC at /trpc and Djoser REST at /auth/ (under the prefix it is registered with), and
// `buildApp`, the standalone server around it. The order is part of the behaviour (see each step).
import { METHODS } from "node:http";
import cors from "@fastify/cors";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from "fastify";
import type { Redis } from "ioredis";
import { loadSettings } from "./config/load.ts";
import type { SettingsInput } from "./config/schema.ts";
import { createDeps, createLogger } from "./core/container.ts";
import type { Deps } from "./core/deps.ts";
import { startHousekeeping } from "./core/housekeeping.ts";
import { startLoginCostSurvey } from "./core/login/cost-survey.ts";
import type { Database } from "./db/index.ts";
import { AuthError } from "./errors.ts";
import { classifyError } from "./http/classify.ts";
import { docs, healthz, jwks } from "./http/endpoints.ts";
import * as guards from "./http/guards.ts";
import { metrics } from "./http/ops/metrics.ts";
import { probes } from "./http/ops/probes.ts";
import { NOT_FOUND_HTML, restPlugin } from "./rest/index.ts";
import { renderEdgeError } from "./rest/render.ts";
import { sendTrpcError } from "./trpc/errors.ts";
import { mountTrpc } from "./trpc/plugin.ts";

/** The most a request body may hold, on every Portcullis route (one byte more: a 413). */
export const BODY_LIMIT = 64 * 1024;

/** Portcullis's own database and deps, opened from settings (defaults < PORTCULLIS_CONFIG < `env` < `settings`). */
export type OpenOptions = { settings?: SettingsInput; env?: NodeJS.ProcessEnv };
/**
 * What the caller made itself (`createDeps`): with `close`, Portcullis closes them when the app
 * closes; without, they stay the caller's to close.
 */
export type GivenOptions = { deps: Deps; db: Database; redis?: Redis | null; close?: () => Promise<void> };
export type PortcullisOptions = OpenOptions | GivenOptions;

/** The deps the options name: the caller's as they are, or opened from settings (closed by `close`). */
export async function openPortcullis(opts: PortcullisOptions): Promise<GivenOptions> {
  if ("deps" in opts) return opts;
  const { settings, warnings } = loadSettings(opts.env ?? process.env, opts.settings ?? {});
  const log = createLogger(settings);
  for (const w of warnings) log.warn(w);
  return createDeps(settings, log);
}

/**
 * Portcullis as a Fastify plugin: `app.register(portcullis, { prefix: "/identity", settings })`.
 * Encapsulated: its hooks, handlers and parsers apply to its own routes only. It runs the
 * login-cost survey and the housekeeping, and closes them (and what it opened) with the app.
 */
export const portcullis: FastifyPluginAsync<PortcullisOptions> = async (scope, opts) => {
  const { deps, db, redis = null, close = async () => {} } = await openPortcullis(opts);
  const { NUM_PROXIES, TRUSTED_PROXIES } = deps.settings;
  if (!("deps" in opts) && (NUM_PROXIES !== null || TRUSTED_PROXIES.length))
    deps.log.warn(
      "NUM_PROXIES and TRUSTED_PROXIES are for Portcullis's own server: in your Fastify app, its trustProxy " +
        "option decides the client address (throttles, lockout) and the scheme",
    );
  let survey: Awaited<ReturnType<typeof startLoginCostSurvey>> | undefined;
  let housekeeping: ReturnType<typeof startHousekeeping> | undefined;
  const stop = async () => {
    await housekeeping?.close();
    await survey?.close();
    await close();
  };
  try {
    survey = await startLoginCostSurvey(deps); // before the first login is answered
    await mount(scope, deps, db, redis);
  } catch (e) {
    await stop();
    throw e;
  }
  scope.addHook("onReady", async () => {
    housekeeping = startHousekeeping(deps);
  });
  scope.addHook("onClose", stop); // after the server stopped accepting and in-flight requests ended
};

async function mount(app: FastifyInstance, deps: Deps, db: Database, redis: Redis | null) {
  const { settings } = deps;
  const base = app.prefix; // "" at the root, "/identity" under a host's prefix
  // The host's body limit is not Portcullis's, nor the other way round: set on each route.
  app.addHook("onRoute", (route) => {
    route.bodyLimit ??= BODY_LIMIT;
  });
  // The host's parsers are not Portcullis's either: start from Fastify's own two (JSON, text).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, app.getDefaultJsonParser("error", "error"));
  app.addContentTypeParser("text/plain", { parseAs: "string" }, (_req, body, done) => done(null, body));
  const under = (path: string, url: string) => url.startsWith(`${base}${path}`);
  // An error raised before a route's own handler ran: tRPC's envelope under /trpc/, {detail, code} elsewhere.
  const sendError: guards.SendError = (req, reply, err) =>
    under("/trpc/", req.url) ? sendTrpcError(req, reply, err, settings, base) : renderEdgeError(reply, err, settings);

  app.addHook("onSend", guards.securityHeaders(settings, base));
  // ALLOWED_HOSTS, before anything else looks at the request (health checks by address included
  // only if listed: a load balancer's probe sends the Host it is configured with).
  app.addHook("onRequest", guards.hostCheck(settings, sendError));
  // Outside /auth/ (e.g. a 413 before tRPC sees the body, the JWKS's 404).
  app.setErrorHandler((err, req, reply) => sendError(req, reply, classifyError(err, req.log, settings.DEBUG)));
  // A path no route serves (under the prefix: the host's own 404 answers outside it). Set before
  // cors: its catch-all OPTIONS route keeps the handlers in force when it is added, and calls the
  // not-found handler for a plain OPTIONS.
  app.setNotFoundHandler((req, reply) =>
    under("/auth/", req.url)
      ? reply.code(404).header("content-type", "text/html").send(NOT_FOUND_HTML)
      : sendError(req, reply, new AuthError("not_found")),
  );
  // Not registered at all (no cost per request) while no origin is allowed.
  if (guards.corsEnabled(settings)) await app.register(cors, guards.corsOptions(settings));

  if (settings.API_DOCS) await docs(app, settings);
  jwks(app, deps);
  healthz(app, db);
  probes(app, db, deps, redis);
  metrics(app, deps, db);
  await mountTrpc(app, deps);
  await app.register(restPlugin, { prefix: "/auth", deps });
}

/** buildApp's options: Portcullis's, and the prefix it answers under (none: at the root). */
export type AppOptions = PortcullisOptions & { prefix?: string };

/**
 * The standalone server: Fastify with the options that only a server has (body limit, proxies,
 * path lengths, what Node's parser and the router refuse, every HTTP method), and `portcullis` in
 * it. `setup` (the fetch handler's) runs on the server before the plugin is registered.
 */
export async function buildApp(opts: AppOptions = {}, setup?: (app: FastifyInstance) => void) {
  const { prefix = "", ...rest } = opts;
  const given = await openPortcullis(rest);
  const { settings } = given.deps;
  let app: FastifyInstance;
  try {
    app = Fastify({
      loggerInstance: given.deps.log as FastifyBaseLogger,
      bodyLimit: BODY_LIMIT,
      trustProxy: guards.trustProxy(settings),
      routerOptions: { maxParamLength: 16_384 },
      clientErrorHandler: guards.clientErrorHandler,
      frameworkErrors: guards.frameworkErrors,
    });
  } catch (e) {
    await given.close?.();
    throw e;
  }
  // Every method Node parses (CONNECT aside) reaches the routes, so a REST view answers PROPFIND
  // or TRACE with DRF's 405 (and tRPC refuses them with its own) rather than a 404.
  for (const m of METHODS)
    if (m !== "CONNECT" && !app.supportedMethods.includes(m)) app.addHttpMethod(m, { hasBody: true });
  // Under a prefix, a path outside it is still answered in Portcullis's shape.
  if (prefix) app.setNotFoundHandler((_req, reply) => renderEdgeError(reply, new AuthError("not_found"), settings));
  setup?.(app);
  await app.register(portcullis, { ...given, prefix });
  return app;
}
