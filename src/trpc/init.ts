// tRPC's building blocks: router, publicProcedure, protectedProcedure (ctx.principal non-null).
import { getTRPCErrorFromUnknown, initTRPC, type TRPCError } from "@trpc/server";
import type { Deps, Principal, RequestMeta } from "../core/deps.ts";
import { throttleCaller } from "../core/login/throttle.ts";
import { AuthError } from "../errors.ts";
import { authenticate, type RequestHeaders } from "../http/authenticate.ts";
import { classified, errorFormatter } from "./errors.ts";

/** `https`: whether the request came over TLS (the device cookie is then Secure). */
export type Context = { deps: Deps; headers: RequestHeaders; meta: RequestMeta; https: boolean };

const t = initTRPC.context<Context>().create({ errorFormatter });

/**
 * Every procedure's errors leave as the TRPCError their AuthError maps to (see classified): those
 * of the procedure (`result`) and those of the authentication and throttling before it (`cause`).
 * Done in the one middleware each procedure has rather than in one more: tRPC copies a call's
 * options at every middleware, a good part of what a call costs.
 */
function translated(deps: Deps, cause: unknown): TRPCError {
  const error = getTRPCErrorFromUnknown(cause);
  return classified(error, deps) ?? error;
}
function translateResult<R extends { ok: boolean }>(deps: Deps, result: R): R {
  const error = result.ok ? null : classified((result as unknown as { error: TRPCError }).error, deps);
  if (error) throw error;
  return result;
}

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
// A public procedure treats a credential that does not authenticate as none (REST answers it
// 401, as DRF): a client holding a stale token can still log in or sign up.
export const publicProcedure = t.procedure.use(async ({ ctx, next }) => {
  try {
    const principal = await authenticate(ctx.deps, ctx.headers).catch((e) => {
      if (e instanceof AuthError) return null;
      throw e;
    });
    await throttleCaller(ctx.deps.throttle, principal?.user.id ?? null, ctx.meta.ip);
  } catch (cause) {
    throw translated(ctx.deps, cause);
  }
  return translateResult(ctx.deps, await next());
});
export const protectedProcedure = t.procedure.use(async ({ ctx, next }) => {
  let principal: Principal;
  try {
    const found = await authenticate(ctx.deps, ctx.headers);
    if (!found) throw new AuthError("not_authenticated");
    await throttleCaller(ctx.deps.throttle, found.user.id, ctx.meta.ip);
    principal = found;
  } catch (cause) {
    throw translated(ctx.deps, cause);
  }
  return translateResult(ctx.deps, await next({ ctx: { principal } })); // tRPC merges it into ctx
});
