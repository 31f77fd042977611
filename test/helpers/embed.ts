// Portcullis inside an app of the test's own: a host Fastify app (routes of its own beside
// Portcullis under a prefix) as a test server, and the fetch handler answered in-process.
import type { AddressInfo } from "node:net";
import { createTRPCClient, httpLink } from "@trpc/client";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import { portcullis } from "../../src/app.ts";
import { createDeps, createLogger } from "../../src/core/container.ts";
import type { FetchHandler } from "../../src/embed/fetch.ts";
import type { AppRouter } from "../../src/trpc/router.ts";
import { readResponse } from "./net.ts";
import type { Start } from "./server.ts";
import type { Client } from "./trpc.ts";

/**
 * A host app on a free port with Portcullis under `prefix` (its deps made here and handed over:
 * the app closes them). The host's own routes: POST /notes echoes its parsed body, GET /boom
 * throws; `setup` adds more before Portcullis is registered. The server's `url` is the prefix's.
 */
export const hostedUnder =
  (prefix = "/identity", options: FastifyServerOptions = {}, setup?: (app: FastifyInstance) => unknown): Start =>
  async (settings) => {
    const resources = await createDeps(settings, createLogger(settings));
    const app = Fastify(options);
    await setup?.(app);
    app.post("/notes", async (req) => ({ saved: req.body }));
    app.get("/boom", async () => {
      throw new Error("the host's own failure");
    });
    await app.register(portcullis, { prefix, ...resources });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = app.server.address() as AddressInfo;
    return {
      app,
      deps: resources.deps,
      settings,
      url: `http://127.0.0.1:${port}${prefix}`,
      close: async () => void (await app.close()),
    };
  };

/** The host's own origin, from a hosted server's url. */
export const origin = (s: { url: string }) => new URL(s.url).origin;

export type Answer = Awaited<ReturnType<typeof readResponse>>;

/** A request answered by `handler` (no HTTP in between); JSON bodies serialised for you. */
export async function handled(
  handler: FetchHandler,
  method: string,
  url: string,
  init: { json?: unknown; body?: BodyInit; headers?: Record<string, string>; clientIp?: string } = {},
): Promise<Answer> {
  const headers = new Headers(init.headers);
  let body = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  const request = new Request(url, { method, headers, body, duplex: "half" } as RequestInit);
  return readResponse(await handler.handle(request, { clientIp: init.clientIp ?? "192.0.2.10" }));
}

/** A typed client whose calls `handler` answers (`url`: where tRPC is, e.g. http://app.test/api/trpc). */
export const handledTrpc = (handler: FetchHandler, url: string, headers: Record<string, string> = {}): Client =>
  createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url,
        headers,
        fetch: (u, init) => handler.handle(new Request(u, init as RequestInit), { clientIp: "192.0.2.10" }),
      }),
    ],
  });
