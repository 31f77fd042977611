// The tRPC adapter's errors, in one place: the code an AuthError becomes (from its status), the
// error formatter (data.code, data.fields, data.retryAfter), the classification of whatever a
// procedure threw, the envelope of an error raised before tRPC ran, and an answer's error headers.
import { type TRPC_ERROR_CODE_KEY, type TRPCDefaultErrorShape, TRPCError } from "@trpc/server";
import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import type { FastifyReply, FastifyRequest } from "fastify";
import { ZodError } from "zod";
import type { Settings } from "../config/schema.ts";
import type { Deps } from "../core/deps.ts";
import { toFieldErrors } from "../core/inputs.ts";
import { AuthError, ERRORS, type ErrorCode } from "../errors.ts";
import { classifyError } from "../http/classify.ts";
import { errorHeaders } from "../http/error-headers.ts";

// tRPC's own pairing of codes and statuses (400 is also PARSE_ERROR's: parse_error names it).
const BY_STATUS: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  402: "PAYMENT_REQUIRED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_SUPPORTED",
  408: "TIMEOUT",
  409: "CONFLICT",
  412: "PRECONDITION_FAILED",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  422: "UNPROCESSABLE_CONTENT",
  428: "PRECONDITION_REQUIRED",
  429: "TOO_MANY_REQUESTS",
  500: "INTERNAL_SERVER_ERROR",
  501: "NOT_IMPLEMENTED",
  502: "BAD_GATEWAY",
  503: "SERVICE_UNAVAILABLE",
  504: "GATEWAY_TIMEOUT",
};

/** The tRPC code of an error code: the entry's own `trpc`, else the one of its status. */
export function trpcCode(code: ErrorCode): TRPC_ERROR_CODE_KEY {
  const entry: { status: number; trpc?: TRPC_ERROR_CODE_KEY } = ERRORS[code];
  return entry.trpc ?? BY_STATUS[entry.status] ?? "INTERNAL_SERVER_ERROR";
}

/** What a client reads in `data` besides tRPC's own members: our code, field errors, details, when to retry. */
function dataOf(err: AuthError) {
  return {
    code: err.code,
    fields: err.fields ?? null,
    details: err.data ?? null,
    ...(err.retryAfter !== undefined ? { retryAfter: err.retryAfter } : {}),
  };
}

/** initTRPC's errorFormatter: our codes and DRF-style field errors in `data`, never a stack. */
export function errorFormatter({ shape, error }: { shape: TRPCDefaultErrorShape; error: TRPCError }) {
  const cause = error.cause;
  // tRPC's own refusal of a batch over maxBatchSize (TRPC_MAX_BATCH_SIZE), in our words. It comes
  // before any context exists, so the limit is named rather than given.
  if (error.code === "BAD_REQUEST" && error.message === "Batch call exceeds maximum size") {
    const data = { ...shape.data, code: "batch_too_large", fields: null, details: null, stack: undefined };
    return { ...shape, message: ERRORS.batch_too_large.message, data };
  }
  if (cause instanceof AuthError) {
    return { ...shape, message: cause.message, data: { ...shape.data, ...dataOf(cause), stack: undefined } };
  }
  if (cause instanceof ZodError) {
    return {
      ...shape,
      message: "Invalid input.",
      data: { ...shape.data, code: "invalid_input", fields: toFieldErrors(cause), details: null, stack: undefined },
    };
  }
  const code = shape.data.code === "INTERNAL_SERVER_ERROR" ? "internal_error" : shape.data.code.toLowerCase();
  return { ...shape, data: { ...shape.data, code, fields: null, details: null, stack: undefined } };
}

/**
 * What a procedure threw, as a TRPCError with the status family the REST adapter uses too (a
 * database that does not answer is a retryable SERVICE_UNAVAILABLE, not an internal error); null
 * for tRPC's own refusals (BAD_REQUEST for a malformed body, METHOD_NOT_SUPPORTED…) and input
 * errors, which keep their code. Whatever a procedure threw arrives as INTERNAL_SERVER_ERROR.
 */
export function classified(error: TRPCError, deps: Deps): TRPCError | null {
  if (error.cause instanceof ZodError || error.code !== "INTERNAL_SERVER_ERROR") return null;
  const known = classifyError(error.cause ?? error, deps.log, deps.settings.DEBUG);
  return new TRPCError({ code: trpcCode(known.code), message: known.message, cause: known });
}

/**
 * An error raised before tRPC ran (a refused Host or method, a path or body it never saw), in
 * tRPC's envelope. `base`: the prefix /trpc/ is under ("" at the root).
 */
export function sendTrpcError(req: FastifyRequest, reply: FastifyReply, err: AuthError, settings: Settings, base = "") {
  const path = req.url.slice(`${base}/trpc/`.length).split("?")[0];
  const { code, fields, details, ...retry } = dataOf(err);
  const data = { code, httpStatus: err.status, path, fields, details, ...retry };
  const error = { message: err.message, code: TRPC_ERROR_CODES_BY_KEY[trpcCode(err.code)], data };
  return reply
    .code(err.status)
    .headers(errorHeaders([err], settings))
    .send({ error });
}

/** The headers of an answer holding these errors: those REST would send for them. */
export function trpcErrorHeaders(errors: readonly TRPCError[], settings: Settings): Record<string, string> {
  const causes = errors.map((e) => e.cause).filter((c): c is AuthError => c instanceof AuthError);
  return errorHeaders(causes, settings);
}
