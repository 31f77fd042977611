// tRPC's building blocks: router, publicProcedure, protectedProcedure (ctx.principal non-null).
import { initTRPC } from "@trpc/server";
import type { Deps, RequestMeta } from "../core/deps.ts";
import { throttleCaller } from "../core/login/throttle.ts";
import { AuthError } from "../errors.ts";
import { authenticate, type RequestHeaders } from "../http/authenticate.ts";
import { classified, errorFormatter } from "./errors.ts";

/** `https`: whether the request came over TLS (the device cookie is then Secure). */
export type Context = { deps: Deps; headers: RequestHeaders; meta: RequestMeta; https: boolean };

const t = initTRPC.context<Context>().create({ errorFormatter });

/** Every procedure's errors leave as the TRPCError their AuthError maps to (see classified). */
const translateErrors = t.middleware(async ({ ctx, next }) => {
  const result = await next();
  const error = result.ok ? null : classified(result.error, ctx.deps);
  if (error) throw error;
  return result;
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
const procedure = t.procedure.use(translateErrors);
// A public procedure treats a credential that does not authenticate as none (REST answers it
// 401, as DRF): a client holding a stale token can still log in or sign up.
export const publicProcedure = procedure.use(async ({ ctx, next }) => {
  const principal = await authenticate(ctx.deps, ctx.headers).catch((e) => {
    if (e instanceof AuthError) return null;
    throw e;
  });
  await throttleCaller(ctx.deps.throttle, principal?.user.id ?? null, ctx.meta.ip);
  return next();
});
export const protectedProcedure = procedure.use(async ({ ctx, next }) => {
  const principal = await authenticate(ctx.deps, ctx.headers);
  if (!principal) throw new AuthError("not_authenticated");
  await throttleCaller(ctx.deps.throttle, principal.user.id, ctx.meta.ip);
  return next({ ctx: { ...ctx, principal } });
});
