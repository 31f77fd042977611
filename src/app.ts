// The Fastify app: tRPC at /trpc, Djoser REST at /auth/, OpenAPI UI at /docs, /healthz.

import { METHODS, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import cors, { type FastifyCorsOptions } from "@fastify/cors";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { type FastifyTRPCPluginOptions, fastifyTRPCPlugin } from "@trpc/server/adapters/fastify";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import Fastify, { type FastifyReply, type FastifyRequest } from "fastify";
import type { Settings } from "./config/schema.ts";
import type { Deps } from "./core/deps.ts";
import type { Database } from "./db/index.ts";
import { AuthError, ERRORS } from "./errors.ts";
import { classifyError } from "./http/classify.ts";
import { deviceCookies } from "./http/device-cookie.ts";
import { requestMeta } from "./http/request-meta.ts";
import { isSecure } from "./http/secure.ts";
import { NOT_FOUND_HTML, restPlugin } from "./rest/index.ts";
import { type AppRouter, appRouter } from "./trpc/router.ts";

export type AppOptions = { deps: Deps; db: Database };

// Django's SecurityMiddleware and XFrameOptionsMiddleware defaults, which Djoser clients see.
const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  vary: "Accept",
};
const RAW_SECURITY_HEADERS = Object.entries(SECURITY_HEADERS)
  .map(([k, v]) => `${k}: ${v}\r\n`)
  .join("");

/**
 * The method of the request the parser failed on, when it is sure. An answer to HEAD has no
 * body, or the client reads the body as its next answer; and the packet Node hands over is only
 * the chunk being parsed, which may start mid-header (a long header comes in pieces) or with the
 * unread rest of an earlier request's body. Only a connection's first bytes surely start with
 * the failing request's line, so only there is a body written.
 */
function methodInView(err: NodeJS.ErrnoException, socket: Socket): string | undefined {
  const { rawPacket, bytesParsed } = err as { rawPacket?: Buffer; bytesParsed?: number };
  if (!rawPacket || socket.bytesRead !== rawPacket.length) return undefined;
  if (rawPacket.subarray(0, bytesParsed ?? rawPacket.length).includes("\r\n\r\n")) return undefined; // a second request
  return /^([A-Z]+) /.exec(rawPacket.subarray(0, 32).toString("latin1"))?.[1];
}

/** What Node's HTTP parser refuses (a made-up method, a broken request line): {"detail": …}, as everywhere else. */
function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket) {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, detail] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? [431, "Request header fields too large."]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "Request timeout."]
        : err.code === "HPE_INVALID_METHOD"
          ? [400, "Malformed request: unknown HTTP method."]
          : [400, "Malformed request."];
  const method = methodInView(err, socket);
  const body = method === undefined || method === "HEAD" ? "" : JSON.stringify({ detail });
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\n${RAW_SECURITY_HEADERS}Connection: close\r\n\r\n${body}`,
    );
  socket.destroy(err);
}

// A path Fastify cannot decode (a bad %-escape) never reaches a route: answer it in our shape.
// (Path segments of any length reach the routes, as in Django: a long id is just a 404.)
const frameworkErrors = (_err: Error, _req: FastifyRequest, reply: FastifyReply) =>
  reply
    .code(400)
    .header("content-type", "application/json")
    .send(JSON.stringify({ detail: "Malformed request path: a %-escape is not valid.", code: "parse_error" }));

/** Fastify's trustProxy from NUM_PROXIES / TRUSTED_PROXIES: whose X-Forwarded-For sets req.ip. */
function trustProxy(settings: Settings): string[] | ((address: string, hop: number) => boolean) | false {
  if (settings.TRUSTED_PROXIES.length) return settings.TRUSTED_PROXIES;
  const hops = settings.NUM_PROXIES;
  return hops === null ? false : (_address, hop) => hop < hops; // the peer and the next hops-1 addresses are proxies
}

// Django's host_validation_re: a host name or a bracketed IPv6 address, and an optional port.
const HOST_SYNTAX = /^([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(:\d+)?$/i;

/** Django's host validation: "example.com", ".example.com" (and its subdomains), "*". */
export function hostAllowed(allowed: string[] | null, host: string): boolean {
  if (allowed === null) return true;
  if (!HOST_SYNTAX.test(host)) return false; // "evil.com/.example.org" must not pass as a subdomain
  if (allowed.includes("*")) return true;
  const name = host.toLowerCase().replace(/:\d+$/, "").replace(/\.$/, "");
  return allowed.some((a) => {
    const pattern = a.toLowerCase();
    return pattern.startsWith(".") ? name === pattern.slice(1) || name.endsWith(pattern) : name === pattern;
  });
}

/** Django's SecurityMiddleware: the Strict-Transport-Security value, or null when SECURE_HSTS_SECONDS is 0. */
function hstsValue(settings: Settings): string | null {
  if (!settings.SECURE_HSTS_SECONDS) return null;
  const parts = [`max-age=${settings.SECURE_HSTS_SECONDS}`];
  if (settings.SECURE_HSTS_INCLUDE_SUBDOMAINS) parts.push("includeSubDomains");
  if (settings.SECURE_HSTS_PRELOAD) parts.push("preload");
  return parts.join("; ");
}

/** An error raised before a route's own handler ran, in the shape its adapter answers with. */
function sendError(req: FastifyRequest, reply: FastifyReply, err: AuthError) {
  for (const [k, v] of Object.entries(err.headers ?? {})) reply.header(k, v);
  reply.code(err.status);
  if (!req.url.startsWith("/trpc/")) return reply.send({ detail: err.message, code: err.code });
  const trpc = ERRORS[err.code].trpc;
  const path = req.url.slice("/trpc/".length).split("?")[0];
  return reply.send({
    error: {
      message: err.message,
      code: TRPC_ERROR_CODES_BY_KEY[trpc],
      data: { code: err.code, httpStatus: err.status, path, fields: null, details: null },
    },
  });
}

export async function buildApp({ deps, db }: AppOptions) {
  const { settings } = deps;
  const corsEnabled = settings.CORS_ALLOW_ALL_ORIGINS || settings.CORS_ALLOWED_ORIGINS.length > 0;
  const app = Fastify({
    loggerInstance: deps.log,
    bodyLimit: 64 * 1024,
    trustProxy: trustProxy(settings),
    routerOptions: { maxParamLength: 16_384 },
    clientErrorHandler,
    frameworkErrors,
  });
  const hsts = hstsValue(settings);
  app.addHook("onSend", async (req, reply) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) if (!reply.hasHeader(k)) reply.header(k, v);
    // Answers of both adapters carry credentials (keys, JWTs) or user data, errors included: no
    // browser or proxy may keep them. (/docs and the JWKS may be cached.)
    const api = req.url.startsWith("/auth/") || req.url.startsWith("/trpc/");
    if (api && !reply.hasHeader("cache-control")) reply.header("cache-control", "no-store");
    if (hsts && !reply.hasHeader("strict-transport-security") && isSecure(req, settings)) {
      reply.header("strict-transport-security", hsts);
    }
    // tRPC sets its own Vary; keep Accept (and CORS's Origin) in it rather than lose them.
    const vary = String(reply.getHeader("vary") ?? "")
      .split(",")
      .map((v) => v.trim())
      .filter(Boolean);
    const want = ["Accept", ...(reply.hasHeader("access-control-allow-origin") ? ["Origin"] : [])];
    for (const name of want) if (!vary.some((v) => v.toLowerCase() === name.toLowerCase())) vary.push(name);
    reply.header("vary", vary.join(", "));
  });
  // ALLOWED_HOSTS, before anything else looks at the request (health checks by address included
  // only if listed: a load balancer's probe sends the Host it is configured with).
  app.addHook("onRequest", async (req, reply) => {
    const host = req.headers.host ?? "";
    // A Host that is sent must be well formed whatever ALLOWED_HOSTS says (Django refuses it too):
    // tRPC builds a URL from it, and "a b", "a@b", "x:99999", ".0" or "" make that throw (a 500).
    const malformed = req.headers.host !== undefined && (!HOST_SYNTAX.test(host) || !URL.canParse(`http://${host}/`));
    if (!malformed && hostAllowed(settings.ALLOWED_HOSTS, host)) return;
    const shown = host.slice(0, 255);
    return sendError(
      req,
      reply,
      new AuthError(
        "disallowed_host",
        `Invalid HTTP_HOST header: '${shown}'. You may need to add '${shown}' to ALLOWED_HOSTS.`,
      ),
    );
  });
  // Outside /auth/ (e.g. a 413 before tRPC sees the body): the same codes, in tRPC's error
  // shape under /trpc/ and as {detail, code} elsewhere.
  app.setErrorHandler((err, req, reply) => sendError(req, reply, classifyError(err, req.log, settings.DEBUG)));
  // A path no route serves. Set before cors: its catch-all OPTIONS route keeps the handlers in
  // force when it is added, and calls the not-found handler for a plain OPTIONS.
  app.setNotFoundHandler((req, reply) =>
    req.url.startsWith("/auth/")
      ? reply.code(404).header("content-type", "text/html").send(NOT_FOUND_HTML)
      : sendError(req, reply, new AuthError("not_found")),
  );
  // django-cors-headers' settings: only listed origins may call from a browser. Decided per
  // request so that a plain OPTIONS (no Access-Control-Request-Method) still gets DRF's metadata;
  // not registered at all (no cost per request) while no origin is allowed.
  if (corsEnabled)
    await app.register(
      cors,
      () => (req: FastifyRequest, done: (err: Error | null, opts: FastifyCorsOptions) => void) => {
        const origin = req.headers.origin;
        if (!origin || !(settings.CORS_ALLOW_ALL_ORIGINS || settings.CORS_ALLOWED_ORIGINS.includes(origin)))
          return done(null, { origin: false });
        const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
        done(null, {
          origin,
          credentials: settings.CORS_ALLOW_CREDENTIALS,
          methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
          preflight,
          maxAge: 86_400,
        });
      },
    );

  // API_DOCS=false: no /docs at all (a 404 like any unknown path), and no OpenAPI document.
  if (settings.API_DOCS) {
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

  // The public keys that verify our JWTs (RFC 7517), for resource servers that check tokens
  // themselves. Nothing to publish when the keys are HMAC secrets.
  app.get("/.well-known/jwks.json", { schema: { hide: true } }, async (_req, reply) => {
    if (!deps.keys.jwks.keys.length) {
      return reply
        .code(404)
        .send({
          detail: `No public keys: SIMPLE_JWT.ALGORITHM is ${deps.settings.SIMPLE_JWT.ALGORITHM}, a shared secret. Use RS256 or ES256 keys to publish a JWKS.`,
          code: "not_found",
        });
    }
    return reply
      .header("cache-control", "public, max-age=300")
      .header("content-type", "application/jwk-set+json")
      .send(deps.keys.jwks);
  });

  app.get("/healthz", { schema: { hide: true } }, async (_req, reply) => {
    try {
      const pending = await db.pending();
      if (pending.length) return reply.code(503).send({ status: "migrations pending", pending });
      return { status: "ok", database: db.kind };
    } catch {
      return reply.code(503).header("Retry-After", "5").send({ status: "database unavailable" });
    }
  });

  // tRPC speaks GET and POST; a WHATWG Request cannot even carry TRACE (a TypeError, a 500).
  app.addHook("onRequest", async (req, reply) => {
    if (req.url.startsWith("/trpc/") && !["GET", "HEAD", "POST", "OPTIONS"].includes(req.method))
      return sendError(req, reply, new AuthError("method_not_allowed", `Method "${req.method}" not allowed.`));
  });
  // tRPC's own early refusals (a missing Content-Type, a GET with a form…) label their JSON text/plain.
  app.addHook("onSend", async (req, _reply, payload) => {
    if (
      req.url.startsWith("/trpc/") &&
      payload instanceof Response &&
      payload.headers.get("content-type")?.startsWith("text/plain")
    )
      payload.headers.set("content-type", "application/json");
    return payload;
  });
  await app.register(fastifyTRPCPlugin, {
    prefix: "/trpc",
    trpcOptions: {
      router: appRouter,
      createContext: ({ req }) => ({
        deps,
        headers: req.headers,
        meta: requestMeta(req, settings),
        https: isSecure(req, settings),
      }),
      // A batch holds at most this many calls (each may still check one password per request).
      maxBatchSize: settings.TRPC_MAX_BATCH_SIZE,
      // The headers REST answers carry too: a 401 names the accepted schemes, a 429 or 503 says
      // when to retry; a login sets the device cookie, as REST logins do.
      responseMeta: ({ ctx, errors }) => {
        const causes = errors.map((e) => e.cause).filter((c): c is AuthError => c instanceof AuthError);
        const headers: Record<string, string | string[]> = {};
        const cookies = ctx ? deviceCookies(ctx.meta.issuedDevice, settings, ctx.https) : [];
        if (cookies.length) headers["set-cookie"] = cookies;
        for (const c of causes) Object.assign(headers, c.headers);
        if (causes.some((c) => c.status === 401)) headers["WWW-Authenticate"] ??= settings.TOKEN_AUTH_HEADER_TYPES[0]!;
        // tRPC writes its own Vary straight to the socket: CORS's Origin is added here (appended).
        if (corsEnabled) headers.vary = ["Origin"];
        return { headers };
      },
      onError: ({ error, path }) => {
        if (error.code === "INTERNAL_SERVER_ERROR")
          deps.log.error({ path, err: error.cause ?? error }, "tRPC procedure failed");
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"],
  });

  // Every method Node parses (CONNECT aside) reaches the REST routes, registered after this, so
  // a view answers PROPFIND or TRACE with DRF's 405 rather than a 404.
  for (const m of METHODS)
    if (m !== "CONNECT" && !app.supportedMethods.includes(m)) app.addHttpMethod(m, { hasBody: true });
  await app.register(restPlugin, { prefix: "/auth", deps });
  return app;
}
