// Turns anything thrown below an adapter into an AuthError the adapter can render: framework
// 4xx keep their meaning, a database that does not answer is a 503 the client may retry, and
// only a genuine bug is a 500 (logged with its stack, never with request secrets).
import type { FastifyBaseLogger } from "fastify";
import { AuthError } from "../errors.ts";

const DB_DOWN = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|terminating connection|Connection terminated|Can't reach database|P1001|P1002|P1017|the database system is (starting up|shutting down)/i;

export function classifyError(err: unknown, log: FastifyBaseLogger): AuthError {
  if (err instanceof AuthError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string };
  if (e.statusCode === 413) return new AuthError("payload_too_large");
  if (e.statusCode === 415) return new AuthError("unsupported_media_type");
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new AuthError("parse_error", e.message);
  if (DB_DOWN.test(`${e.code ?? ""} ${e.message ?? ""}`)) {
    log.error({ err: e.message }, "database unavailable");
    return new AuthError("service_unavailable", undefined, { headers: { "Retry-After": "5" } });
  }
  log.error({ err }, "unhandled error");
  return new AuthError("internal_error");
}
