// Turns anything thrown below an adapter into an AuthError the adapter can render: framework
// 4xx keep their meaning, a value too long for its column is a 400 field error, a database that
// does not answer is a 503 the client may retry, and only a genuine bug is a 500 (logged with
// its stack, never with request secrets).
import type { FastifyBaseLogger } from "fastify";
import { AuthError, invalid } from "../errors.ts";

const DB_DOWN = new RegExp(
  [
    "ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE",
    "terminating connection|Connection terminated|server closed the connection",
    "Client has encountered a connection error|Can't reach database|P1001|P1002|P1017",
    "the database system is (starting up|shutting down|not yet accepting connections|in recovery mode)",
  ].join("|"),
  "i",
);
// Prisma's codes for a database that is away or overwhelmed, not for a wrong query: P1xxx
// (connection, timeouts, server closed), P2024 (no pooled connection in time), P2028 (the
// transaction's connection went away), P2034 (a write conflict to retry), P2037 (too many connections).
const PRISMA_RETRYABLE = /^(P1\d{3}|P2024|P2028|P2034|P2037)$/;
// SQLSTATE classes that mean "the database is not there right now": connection exceptions (08…)
// and operator intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now).
const DB_DOWN_STATE = /^(08[0-9A-Z]{3}|57P0[123])$/;

// The columns a client's value reaches, by model and VARCHAR length, under the field name the
// client knows. Postgres's "value too long" (Prisma's P2000) names the length, not the column.
const CLIENT_COLUMNS: Record<string, Record<number, string>> = { User: { 150: "username", 254: "email" } };

type AdapterCause = { originalCode?: string; originalMessage?: string };
type PrismaMeta = { modelName?: string; driverAdapterError?: { cause?: AdapterCause } };

/**
 * A value longer than its column: the inputs check lengths after normalising, so this is a gap
 * in them, but still the client's value, so a 400 in DRF's words naming the field and its limit.
 */
function tooLong(meta: PrismaMeta = {}): AuthError {
  const limit = Number(/varying\((\d+)\)/.exec(meta.driverAdapterError?.cause?.originalMessage ?? "")?.[1]) || null;
  const field = (limit && CLIENT_COLUMNS[meta.modelName ?? ""]?.[limit]) || "non_field_errors";
  const message = limit ? `Ensure this field has no more than ${limit} characters.` : "A value is too long.";
  return invalid({ [field]: [message] });
}

/** `debug` (the DEBUG setting) puts an unexpected error's message in the answer, as Django's debug page does. */
export function classifyError(err: unknown, log: FastifyBaseLogger, debug = false): AuthError {
  if (err instanceof AuthError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string; meta?: PrismaMeta };
  if (e.statusCode === 413) return new AuthError("payload_too_large");
  if (e.statusCode === 415) return new AuthError("unsupported_media_type");
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new AuthError("parse_error", e.message);
  if (e.code === "P2000") return tooLong(e.meta);
  const state = e.meta?.driverAdapterError?.cause?.originalCode ?? e.code ?? "";
  const retryable = PRISMA_RETRYABLE.test(e.code ?? "") || DB_DOWN_STATE.test(state);
  if (retryable || DB_DOWN.test(`${e.code ?? ""} ${e.message ?? ""}`)) {
    log.error({ err: e.message }, "database unavailable");
    return new AuthError("service_unavailable", undefined, { retryAfter: 5 });
  }
  log.error({ err }, "unhandled error");
  return new AuthError("internal_error", debug ? `A server error occurred: ${String(e.message ?? err)}` : undefined);
}
