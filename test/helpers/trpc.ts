// The typed client's side of the tests: a client of a test server, what a failed call rejects
// with, and the router called in-process for procedure logic the wire adds nothing to.
import { createTRPCClient, httpLink, TRPCClientError } from "@trpc/client";
import { expect } from "vitest";
import { createCallerFactory } from "../../src/trpc/init.ts";
import { type AppRouter, appRouter } from "../../src/trpc/router.ts";
import type { TestServer } from "./server.ts";

export type Client = ReturnType<typeof createTRPCClient<AppRouter>>;

/** A tRPC client of `s` sending `headers` with every call (one HTTP request per call). */
export const trpcClient = (s: TestServer, headers: Record<string, string> = {}): Client =>
  createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: `${s.url}/trpc`,
        headers,
        // Mails are queued by a call and sent just after it: wait, so a test can read them.
        fetch: async (url, init) => {
          const response = await fetch(url, init as RequestInit);
          await s.deps.outbox.idle();
          return response;
        },
      }),
    ],
  });

/** The TRPCClientError a call rejects with (fails the test if it resolves). */
export async function failure(call: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  try {
    await call;
  } catch (e) {
    expect(e).toBeInstanceOf(TRPCClientError);
    return e as TRPCClientError<AppRouter>;
  }
  throw new Error("expected the call to fail");
}

const createCaller = createCallerFactory(appRouter);

/**
 * appRouter.createCaller on the server's own deps, as if a request came with `headers`: no HTTP,
 * so no error formatter either (a failure is the TRPCError, its cause the service's AuthError).
 */
export const caller = (s: TestServer, headers: Record<string, string> = {}) =>
  createCaller({ deps: s.deps, headers, meta: { ip: "127.0.0.1", userAgent: "in-process caller" }, https: false });
