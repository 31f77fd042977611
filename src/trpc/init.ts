// tRPC's building blocks: router, publicProcedure, protectedProcedure (ctx.principal non-null).
import { initTRPC, TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import type { Deps, RequestMeta } from "../core/deps.ts";
import { toFieldErrors } from "../core/inputs.ts";
import { AuthError, ERRORS } from "../errors.ts";
import { authenticate, type RequestHeaders } from "../http/authenticate.ts";
import { classifyError } from "../http/classify.ts";

/** `https`: whether the request came over TLS (the device cookie is then Secure). */
export type Context = { deps: Deps; headers: RequestHeaders; meta: RequestMeta; https: boolean };

const t = initTRPC.context<Context>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    // tRPC's own refusal of a batch over maxBatchSize (TRPC_MAX_BATCH_SIZE), in our words. It comes
    // before any context exists, so the limit is named rather than given.
    if (error.code === "BAD_REQUEST" && error.message === "Batch call exceeds maximum size") {
      const data = { ...shape.data, code: "batch_too_large", fields: null, details: null, stack: undefined };
      return { ...shape, message: ERRORS.batch_too_large.message, data };
    }
    if (cause instanceof AuthError) {
      const retryAfter = cause.headers?.["Retry-After"];
      return {
        ...shape,
        message: cause.message,
        data: {
          ...shape.data,
          code: cause.code,
          fields: cause.fields ?? null,
          details: cause.data ?? null,
          ...(retryAfter ? { retryAfter: Number(retryAfter) } : {}),
          stack: undefined,
        },
      };
    }
    if (cause instanceof ZodError) {
      return {
        ...shape,
        message: "Invalid input.",
        data: { ...shape.data, code: "invalid_input", fields: toFieldErrors(cause), details: null, stack: undefined },
      };
    }
    return {
      ...shape,
      data: {
        ...shape.data,
        code: shape.data.code === "INTERNAL_SERVER_ERROR" ? "internal_error" : shape.data.code.toLowerCase(),
        fields: null,
        details: null,
        stack: undefined,
      },
    };
  },
});

/**
 * Service errors become TRPCErrors with the status family the REST adapter uses too; a database
 * that does not answer is a retryable SERVICE_UNAVAILABLE, not an internal error.
 */
const translateErrors = t.middleware(async ({ ctx, next }) => {
  const result = await next();
  if (result.ok) return result;
  const { cause } = result.error;
  // tRPC's own refusals (BAD_REQUEST for a malformed body, METHOD_NOT_SUPPORTED…) keep their code;
  // whatever a procedure threw arrives as INTERNAL_SERVER_ERROR and is classified here.
  if (cause instanceof ZodError || result.error.code !== "INTERNAL_SERVER_ERROR") return result;
  const known = classifyError(cause ?? result.error, ctx.deps.log, ctx.deps.settings.DEBUG);
  throw new TRPCError({ code: ERRORS[known.code].trpc, message: known.message, cause: known });
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
