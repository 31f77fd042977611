// Portcullis as a fetch handler (Request → Response), for Next.js route handlers, Hono, Bun and
// Deno: the standalone server's own Fastify app under `basePath`, driven by app.inject (the real
// routes, hooks and error shapes, without a socket).
import type { FastifyRequest } from "fastify";
import { BODY_LIMIT, buildApp, openPortcullis, type PortcullisOptions } from "../app.ts";
import { HTTPS_MARK, toInject, toResponse } from "./exchange.ts";

/** Portcullis's options, and the path it is mounted at ("/api": it answers /api/auth/…, /api/trpc/…). */
export type FetchHandlerOptions = PortcullisOptions & { basePath?: string };

/** What the platform knows of the connection, which a Request does not carry. */
export type ClientInfo = {
  /**
   * The peer's address (Node's socket.remoteAddress, Bun's server.requestIP(request)): throttles,
   * the login lockout, sessions and the audit count by it. Without it every request comes from
   * 127.0.0.1, unless NUM_PROXIES / TRUSTED_PROXIES let X-Forwarded-For name the client.
   */
  clientIp?: string;
};

export type FetchHandler = {
  /** Answers `request` (its URL's path starts with basePath); its body is read up to 64 KiB. */
  handle(request: Request, client?: ClientInfo): Promise<Response>;
  /** Stops the survey and housekeeping and closes what Portcullis opened (its database). */
  close(): Promise<void>;
};

// The app's first hook: a request toInject marked (its URL was https) is one that came over TLS.
async function markedHttps(req: FastifyRequest) {
  if (req.headers[HTTPS_MARK] === undefined) return;
  delete req.raw.headers[HTTPS_MARK];
  (req.raw.socket as { encrypted?: boolean }).encrypted = true; // what req.protocol reads
}

export async function createFetchHandler(opts: FetchHandlerOptions = {}): Promise<FetchHandler> {
  const { basePath = "", ...rest } = opts;
  const prefix = basePath.replace(/\/+$/, "");
  if (prefix && !prefix.startsWith("/")) throw new TypeError(`basePath must start with "/": ${basePath}`);
  const given = await openPortcullis(rest);
  const { settings, log } = given.deps;
  const app = await buildApp({ ...given, prefix }, (server) => server.addHook("onRequest", markedHttps));
  try {
    await app.ready();
  } catch (e) {
    await app.close().catch(() => {});
    throw e;
  }
  const forwarded = settings.NUM_PROXIES !== null || settings.TRUSTED_PROXIES.length > 0;
  let warned = false;
  let closing: Promise<void> | undefined;
  return {
    async handle(request, client = {}) {
      if (client.clientIp === undefined && !forwarded && !warned) {
        warned = true;
        log.warn(
          "portcullis.handle() was called without clientIp and neither NUM_PROXIES nor TRUSTED_PROXIES is set: " +
            "every such request counts as one client (127.0.0.1) in the throttles and the login lockout; " +
            "pass handle(request, { clientIp }) with the peer's address",
        );
      }
      const res = await app.inject(await toInject(request, client.clientIp, BODY_LIMIT));
      return toResponse(res, request.method);
    },
    close: () => (closing ??= app.close()),
  };
}
