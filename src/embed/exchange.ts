// Between the fetch API and Fastify's app.inject: a Request as inject's options (its body read up
// to the limit and no further), and inject's answer as a Response (each Set-Cookie its own header).
import { isIP } from "node:net";
import type { InjectOptions, LightMyRequestResponse } from "fastify";

/**
 * Set by toInject on a request whose URL is https (the platform terminated TLS), read and removed
 * by the app's first hook (fetch.ts). One the client sent is dropped here, so it cannot claim TLS.
 */
export const HTTPS_MARK = "x-portcullis-fetch-https";

// They describe one connection (and a body inject is handed whole); the platform writes its own.
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding"]);
// Statuses a Response may not carry a body with.
const NULL_BODY = new Set([204, 205, 304]);

/**
 * The body, read until it ends or passes `limit` (the stream is then cancelled: the rest is never
 * read). Past the limit, what is handed on is `limit + 1` bytes: the app refuses it with its own
 * 413, in the shape of the route's adapter, as the server refuses a longer body. A declared
 * Content-Length past the limit is refused on the length alone, as the server does: nothing is read.
 */
export async function readBounded(body: ReadableStream<Uint8Array>, declared: number | null, limit: number) {
  if (declared !== null && declared > limit) {
    await body.cancel().catch(() => {});
    return Buffer.alloc(limit + 1);
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      break;
    }
  }
  return Buffer.concat(chunks, Math.min(size, limit + 1));
}

/** inject's options for `request`; `clientIp` is the peer's address (inject's default: 127.0.0.1). */
export async function toInject(request: Request, clientIp: string | undefined, limit: number): Promise<InjectOptions> {
  if (clientIp !== undefined && !isIP(clientIp)) throw new TypeError(`clientIp is not an IP address: ${clientIp}`);
  const url = new URL(request.url);
  // The body is handed over whole: its length is counted again (inject sets Content-Length).
  const headers: Record<string, string | undefined> = { "user-agent": undefined }; // none sent: none seen
  request.headers.forEach((value, name) => {
    if (name !== "content-length" && name !== HTTPS_MARK && !HOP_BY_HOP.has(name)) headers[name] = value;
  });
  if (url.protocol === "https:") headers[HTTPS_MARK] = "1";
  const length = request.headers.get("content-length");
  const declared = length !== null && /^\d+$/.test(length.trim()) ? Number(length) : null;
  return {
    method: request.method as InjectOptions["method"],
    url: url.pathname + url.search,
    authority: url.host, // when the request has no Host header
    headers,
    payload: request.body ? await readBounded(request.body, declared, limit) : undefined,
    remoteAddress: clientIp,
  };
}

/** inject's answer as a Response: every value of a repeated header (Set-Cookie) appended on its own. */
export function toResponse(res: LightMyRequestResponse, method: string): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, String(v));
  }
  const bodyless = method === "HEAD" || NULL_BODY.has(res.statusCode);
  return new Response(bodyless ? null : new Uint8Array(res.rawPayload), {
    status: res.statusCode,
    statusText: res.statusMessage,
    headers,
  });
}
