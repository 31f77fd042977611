// What stands before both adapters: Django's security headers and HSTS on every answer, the
// answers to what Node's parser or Fastify's router refuse, whose X-Forwarded-For counts,
// ALLOWED_HOSTS, and django-cors-headers' origins.
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyCorsOptions } from "@fastify/cors";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Settings } from "../config/schema.ts";
import { AuthError } from "../errors.ts";
import { isSecure } from "./secure.ts";

/** Answers an error raised before a route ran, in the shape of the adapter its path belongs to. */
export type SendError = (req: FastifyRequest, reply: FastifyReply, err: AuthError) => unknown;

// Django's SecurityMiddleware and XFrameOptionsMiddleware defaults, which Djoser clients see.
const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "same-origin",
  vary: "Accept",
};
const RAW_SECURITY_HEADERS = Object.entries(SECURITY_HEADERS)
  .map(([k, v]) => `${k}: ${v}\r\n`)
  .join("");

/**
 * The method of the request the parser failed on, when it is sure. An answer to HEAD has no
 * body, or the client reads the body as its next answer; and the packet Node hands over is only
 * the chunk being parsed, which may start mid-header (a long header comes in pieces) or with the
 * unread rest of an earlier request's body. Only a connection's first bytes surely start with
 * the failing request's line, so only there is a body written.
 */
function methodInView(err: NodeJS.ErrnoException, socket: Socket): string | undefined {
  const { rawPacket, bytesParsed } = err as { rawPacket?: Buffer; bytesParsed?: number };
  if (!rawPacket || socket.bytesRead !== rawPacket.length) return undefined;
  const parsed = rawPacket.subarray(0, bytesParsed ?? rawPacket.length);
  if (parsed.includes("\r\n\r\n")) return undefined; // a second request
  return /^([A-Z]+) /.exec(rawPacket.subarray(0, 32).toString("latin1"))?.[1];
}

/** What Node's HTTP parser refuses (a made-up method, a broken request line): {"detail": …}, as everywhere else. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket) {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const [status, detail] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? [431, "Request header fields too large."]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "Request timeout."]
        : err.code === "HPE_INVALID_METHOD"
          ? [400, "Malformed request: unknown HTTP method."]
          : [400, "Malformed request."];
  const method = methodInView(err, socket);
  const body = method === undefined || method === "HEAD" ? "" : JSON.stringify({ detail });
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json\r\n${RAW_SECURITY_HEADERS}Connection: close\r\n\r\n${body}`,
    );
  socket.destroy(err);
}

// A path Fastify cannot decode (a bad %-escape) never reaches a route: answer it in our shape.
// (Path segments of any length reach the routes, as in Django: a long id is just a 404.)
export const frameworkErrors = (_err: Error, _req: FastifyRequest, reply: FastifyReply) =>
  reply
    .code(400)
    .header("content-type", "application/json")
    .send(JSON.stringify({ detail: "Malformed request path: a %-escape is not valid.", code: "parse_error" }));

/** Fastify's trustProxy from NUM_PROXIES / TRUSTED_PROXIES: whose X-Forwarded-For sets req.ip. */
export function trustProxy(settings: Settings): string[] | ((address: string, hop: number) => boolean) | false {
  if (settings.TRUSTED_PROXIES.length) return settings.TRUSTED_PROXIES;
  const hops = settings.NUM_PROXIES;
  return hops === null ? false : (_address, hop) => hop < hops; // the peer and the next hops-1 addresses are proxies
}

/** Django's SecurityMiddleware: the Strict-Transport-Security value, or null when SECURE_HSTS_SECONDS is 0. */
function hstsValue(settings: Settings): string | null {
  if (!settings.SECURE_HSTS_SECONDS) return null;
  const parts = [`max-age=${settings.SECURE_HSTS_SECONDS}`];
  if (settings.SECURE_HSTS_INCLUDE_SUBDOMAINS) parts.push("includeSubDomains");
  if (settings.SECURE_HSTS_PRELOAD) parts.push("preload");
  return parts.join("; ");
}

/**
 * The onSend hook: security headers, no caching of API answers, HSTS over TLS, and a Vary that
 * keeps Accept. `base`: the prefix the APIs are under ("" at the root).
 */
export function securityHeaders(settings: Settings, base = "") {
  const hsts = hstsValue(settings);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) if (!reply.hasHeader(k)) reply.header(k, v);
    // Answers of both adapters carry credentials (keys, JWTs) or user data, errors included: no
    // browser or proxy may keep them. (/docs and the JWKS may be cached.)
    const api = req.url.startsWith(`${base}/auth/`) || req.url.startsWith(`${base}/trpc/`);
    if (api && !reply.hasHeader("cache-control")) reply.header("cache-control", "no-store");
    if (hsts && !reply.hasHeader("strict-transport-security") && isSecure(req, settings)) {
      reply.header("strict-transport-security", hsts);
    }
    // tRPC sets its own Vary; keep Accept (and CORS's Origin) in it rather than lose them.
    const vary = String(reply.getHeader("vary") ?? "")
      .split(",")
      .map((v) => v.trim())
      .filter(Boolean);
    const want = ["Accept", ...(reply.hasHeader("access-control-allow-origin") ? ["Origin"] : [])];
    for (const name of want) if (!vary.some((v) => v.toLowerCase() === name.toLowerCase())) vary.push(name);
    reply.header("vary", vary.join(", "));
  };
}

// Django's host_validation_re: a host name or a bracketed IPv6 address, and an optional port.
const HOST_SYNTAX = /^([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(:\d+)?$/i;

/** Django's host validation: "example.com", ".example.com" (and its subdomains), "*". */
function hostAllowed(allowed: string[] | null, host: string): boolean {
  if (allowed === null) return true;
  if (!HOST_SYNTAX.test(host)) return false; // "evil.com/.example.org" must not pass as a subdomain
  if (allowed.includes("*")) return true;
  const name = host.toLowerCase().replace(/:\d+$/, "").replace(/\.$/, "");
  return allowed.some((a) => {
    const pattern = a.toLowerCase();
    return pattern.startsWith(".") ? name === pattern.slice(1) || name.endsWith(pattern) : name === pattern;
  });
}

/** The onRequest hook that applies ALLOWED_HOSTS (Django's DisallowedHost, as a 400). */
export function hostCheck(settings: Settings, sendError: SendError) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const host = req.headers.host ?? "";
    // A Host that is sent must be well formed whatever ALLOWED_HOSTS says (Django refuses it too):
    // tRPC builds a URL from it, and "a b", "a@b", "x:99999", ".0" or "" make that throw (a 500).
    const sent = req.headers.host !== undefined;
    const malformed = sent && (!HOST_SYNTAX.test(host) || !URL.canParse(`http://${host}/`));
    if (!malformed && hostAllowed(settings.ALLOWED_HOSTS, host)) return;
    const shown = host.slice(0, 255);
    const message = `Invalid HTTP_HOST header: '${shown}'. You may need to add '${shown}' to ALLOWED_HOSTS.`;
    return sendError(req, reply, new AuthError("disallowed_host", message));
  };
}

export const corsEnabled = (settings: Settings) =>
  settings.CORS_ALLOW_ALL_ORIGINS || settings.CORS_ALLOWED_ORIGINS.length > 0;

/**
 * django-cors-headers' settings: only listed origins may call from a browser. Decided per request
 * so that a plain OPTIONS (no Access-Control-Request-Method) still gets DRF's metadata.
 */
export function corsOptions(settings: Settings) {
  return () => (req: FastifyRequest, done: (err: Error | null, opts: FastifyCorsOptions) => void) => {
    const origin = req.headers.origin;
    if (!origin || !(settings.CORS_ALLOW_ALL_ORIGINS || settings.CORS_ALLOWED_ORIGINS.includes(origin)))
      return done(null, { origin: false });
    const preflight = req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined;
    done(null, {
      origin,
      credentials: settings.CORS_ALLOW_CREDENTIALS,
      methods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      preflight,
      maxAge: 86_400,
    });
  };
}
