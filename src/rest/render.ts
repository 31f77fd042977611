// The REST adapter's one renderer: DRF's JSON, and every error as its status, its body and the
// headers built from its data (Retry-After, WWW-Authenticate).
import type { FastifyReply } from "fastify";
import type { Settings } from "../config/schema.ts";
import type { AuthError } from "../errors.ts";
import { errorHeaders } from "../http/error-headers.ts";

export function json(reply: FastifyReply, status: number, body: unknown) {
  if (body === undefined) return reply.code(status).send();
  // A Buffer, so Fastify does not append "; charset=utf-8": DRF sends plain "application/json".
  return reply
    .code(status)
    .header("content-type", "application/json")
    .send(Buffer.from(JSON.stringify(body)));
}

/** DRF's rendering of an error in a view: field errors as they are, everything else as {"detail": …}. */
export function renderError(reply: FastifyReply, err: AuthError, settings: Settings) {
  reply.headers(errorHeaders([err], settings));
  if (err.code === "activation_not_sent") return json(reply, 400, undefined); // Djoser's empty 400
  if (err.code === "email_not_found") return json(reply, 400, [err.message]);
  if (err.code === "redirect_uri_not_allowed") return json(reply, 400, err.message); // Djoser's bare string
  return json(reply, err.status, err.fields ?? { detail: err.message, ...err.data });
}

/**
 * An error outside the views (a refused Host, a path no route serves, a body too large before
 * tRPC's or the views' parsing): {"detail", "code"}, which no view of Djoser's would answer for.
 */
export function renderEdgeError(reply: FastifyReply, err: AuthError, settings: Settings) {
  reply.headers(errorHeaders([err], settings));
  return reply.code(err.status).send({ detail: err.message, code: err.code });
}
