// Whether a request came over HTTPS, as Django's request.is_secure() decides it: for HSTS and for
// the device cookie's Secure attribute alike.
import type { FastifyRequest } from "fastify";
import type { Settings } from "../config/schema.ts";

/**
 * Django's request.is_secure(): SECURE_PROXY_SSL_HEADER decides when the request carries that
 * header (its first value, as Django 4 reads it); otherwise the connection's own scheme, which
 * Fastify takes from a trusted proxy's X-Forwarded-Proto (NUM_PROXIES / TRUSTED_PROXIES) or TLS.
 */
export function isSecure(req: FastifyRequest, settings: Settings): boolean {
  const proxy = settings.SECURE_PROXY_SSL_HEADER;
  if (proxy) {
    const sent = req.headers[proxy[0].slice("HTTP_".length).toLowerCase().replaceAll("_", "-")];
    const value = Array.isArray(sent) ? sent[0] : sent;
    if (value !== undefined) return value.split(",")[0]!.trim() === proxy[1];
  }
  return req.protocol === "https";
}
