// tRPC's building blocks: router, publicProcedure, protectedProcedure (ctx.principal non-null).
import { initTRPC } from "@trpc/server";
import type { Deps, RequestMeta } from "../core/deps.ts";
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
// DRF's anon and user throttles: public procedures count by address, protected ones by user.
export const publicProcedure = procedure.use(async ({ ctx, next }) => {
  await ctx.deps.throttle("anon", [`ip:${ctx.meta.ip}`]);
  return next();
});
export const protectedProcedure = procedure.use(async ({ ctx, next }) => {
  const principal = await authenticate(ctx.deps, ctx.headers);
  if (!principal) throw new AuthError("not_authenticated");
  await ctx.deps.throttle("user", [`user:${principal.user.id}`]);
  return next({ ctx: { ...ctx, principal } });
});
