// Turns anything thrown below an adapter into an AuthError the adapter can render: framework
// 4xx keep their meaning, a database that does not answer is a 503 the client may retry, and
// only a genuine bug is a 500 (logged with its stack, never with request secrets).
import type { FastifyBaseLogger } from "fastify";
import { AuthError } from "../errors.ts";

const DB_DOWN = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|terminating connection|Connection terminated|Client has encountered a connection error|Can't reach database|P1001|P1002|P1017|the database system is (starting up|shutting down|not yet accepting connections)/i;
// SQLSTATE classes that mean "the database is not there right now": connection exceptions (08…)
// and operator intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now).
const DB_DOWN_STATE = /^(08[0-9A-Z]{3}|57P0[123])$/;

/** `debug` (the DEBUG setting) puts an unexpected error's message in the answer, as Django's debug page does. */
export function classifyError(err: unknown, log: FastifyBaseLogger, debug = false): AuthError {
  if (err instanceof AuthError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string; meta?: { driverAdapterError?: { cause?: { originalCode?: string } } } };
  if (e.statusCode === 413) return new AuthError("payload_too_large");
  if (e.statusCode === 415) return new AuthError("unsupported_media_type");
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new AuthError("parse_error", e.message);
  const state = e.meta?.driverAdapterError?.cause?.originalCode ?? e.code ?? "";
  if (DB_DOWN_STATE.test(state) || DB_DOWN.test(`${e.code ?? ""} ${e.message ?? ""}`)) {
    log.error({ err: e.message }, "database unavailable");
    return new AuthError("service_unavailable", undefined, { headers: { "Retry-After": "5" } });
  }
  log.error({ err }, "unhandled error");
  return new AuthError("internal_error", debug ? `A server error occurred: ${String(e.message ?? err)}` : undefined);
}
