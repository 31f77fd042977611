// tRPC at /trpc: the adapter's mount, the refusals it needs before tRPC runs, and the headers its
// answers carry (the ones REST answers carry too).
import { type FastifyTRPCPluginOptions, fastifyRequestHandler } from "@trpc/server/adapters/fastify";
import type { FastifyInstance } from "fastify";
import type { Deps } from "../core/deps.ts";
import { AuthError } from "../errors.ts";
import { deviceCookies } from "../http/device-cookie.ts";
import { corsEnabled } from "../http/guards.ts";
import { requestMeta } from "../http/request-meta.ts";
import { isSecure } from "../http/secure.ts";
import { sendTrpcError, trpcErrorHeaders } from "./errors.ts";
import { answerLean, type LeanOptions } from "./fast.ts";
import { type AppRouter, appRouter } from "./router.ts";

/**
 * Mounts tRPC on `app` itself (at `/trpc` under its prefix), not in a plugin of its own: its two
 * hooks must also run for a /trpc/ request no route serves (a TRACE is refused with a 405, not
 * answered with a 404).
 */
export async function mountTrpc(app: FastifyInstance, deps: Deps) {
  const { settings } = deps;
  const cors = corsEnabled(settings);
  const base = app.prefix;
  const trpcUrl = `${base}/trpc/`;
  // tRPC speaks GET and POST; a WHATWG Request cannot even carry TRACE (a TypeError, a 500).
  app.addHook("onRequest", async (req, reply) => {
    if (req.url.startsWith(trpcUrl) && !["GET", "HEAD", "POST", "OPTIONS"].includes(req.method)) {
      const err = new AuthError("method_not_allowed", `Method "${req.method}" not allowed.`);
      return sendTrpcError(req, reply, err, settings, base);
    }
  });
  // tRPC's own early refusals (a missing Content-Type, a GET with a form…) label their JSON text/plain.
  app.addHook("onSend", async (req, _reply, payload) => {
    const plain = payload instanceof Response && payload.headers.get("content-type")?.startsWith("text/plain");
    if (req.url.startsWith(trpcUrl) && plain) payload.headers.set("content-type", "application/json");
    return payload;
  });
  const trpcOptions = {
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
      const headers: Record<string, string | string[]> = {};
      const cookies = ctx ? deviceCookies(ctx.meta.issuedDevice, settings, ctx.https) : [];
      if (cookies.length) headers["set-cookie"] = cookies;
      Object.assign(headers, trpcErrorHeaders(errors, settings));
      // tRPC writes its own Vary straight to the socket: CORS's Origin is added here (appended).
      if (cors) headers.vary = ["Origin"];
      return { headers };
    },
    onError: ({ error, path }) => {
      if (error.code === "INTERNAL_SERVER_ERROR")
        deps.log.error({ path, err: error.cause ?? error }, "tRPC procedure failed");
    },
  } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"];
  const lean = settings.TRPC_FAST_PATH;
  // What fastifyTRPCPlugin registers (JSON and forms kept as text for tRPC to parse, one route for
  // every procedure), with the lean path in front of the stock handler (see fast.ts).
  await app.register(
    async (scope) => {
      scope.removeContentTypeParser("application/json");
      scope.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => done(null, body));
      scope.removeContentTypeParser("multipart/form-data");
      scope.addContentTypeParser("multipart/form-data", {}, (_req, body, done) => done(null, body));
      // A wildcard, not "/:path": a batch's path ("a,b,c…") may be longer than the router's
      // maxParamLength, which a host sets for its own routes (Fastify's default: 100). Only one
      // segment names procedures: a raw "/" after /trpc/ is a path no route serves, as with "/:path".
      scope.all<{ Params: { "*": string } }>("/*", async (req, reply) => {
        if (/^[^?#]*\//.test(req.url.slice(trpcUrl.length))) return reply.callNotFound();
        const path = req.params["*"];
        if (lean && (await answerLean(req, reply, path, trpcOptions as LeanOptions))) return reply;
        await fastifyRequestHandler({ ...trpcOptions, req, res: reply, path });
      });
    },
    { prefix: "/trpc" },
  );
}
