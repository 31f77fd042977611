// The fuzz suite's wire: a request spec encoded and built into bytes, and a keep-alive sender.

import http from "node:http";
import type { RestEndpoint, TrpcEndpoint } from "./endpoints.ts";
import { type Common, type Encoding, pct, type RestSpec, type TrpcSpec, variantPath } from "./requests.ts";
import { type Body, mangle, Ref, type Resolver } from "./values.ts";

const serialize = (value: unknown, r: Resolver) => JSON.stringify(value, (_k, v) => (v instanceof Ref ? r(v) : v));
const formText = (v: unknown, r: Resolver) =>
  typeof v === "string" ? v : v instanceof Ref ? String(r(v)) : (serialize(v, r) ?? "");

/** The JSON text of a body; entries keep duplicates and "__proto__" as sent. */
export function bodyJson(body: Body, r: Resolver): string {
  if ("value" in body) return serialize(body.value, r) ?? "";
  return `{${body.entries.map(([k, v]) => `${JSON.stringify(k)}:${serialize(v, r) ?? "null"}`).join(",")}}`;
}

const flatEntries = (body: Body, r: Resolver): [string, string][] =>
  "entries" in body
    ? body.entries.flatMap(([k, v]) =>
        Array.isArray(v) ? v.map((x): [string, string] => [k, formText(x, r)]) : [[k, formText(v, r)]],
      )
    : [["value", formText(body.value, r)]];

export function encode(
  body: Body | undefined,
  encoding: Encoding,
  r: Resolver,
  seed: number,
): { type?: string; bytes?: Buffer } {
  if (!body) return encoding === "none" ? {} : { type: "application/json" };
  switch (encoding) {
    case "json":
      return { type: "application/json", bytes: Buffer.from(bodyJson(body, r)) };
    case "json-malformed": {
      const text = bodyJson(body, r);
      return {
        type: "application/json",
        bytes: Buffer.from(seed % 2 ? text.slice(0, seed % Math.max(1, text.length)) : `${text}${'}]",:'[seed % 5]}`),
      };
    }
    case "form":
      return {
        type: "application/x-www-form-urlencoded",
        bytes: Buffer.from(new URLSearchParams(flatEntries(body, r)).toString()),
      };
    case "multipart":
    case "multipart-broken": {
      const boundary = `fz${seed}`;
      const parts = flatEntries(body, r).map(
        ([k, v], i) =>
          `--${boundary}\r\nContent-Disposition: form-data; name="${k.replace(/["\r\n]/g, "")}"` +
          `${i % 3 === 2 ? `; filename="f${i}.txt"\r\nContent-Type: text/plain` : ""}\r\n\r\n${v}\r\n`,
      );
      const text = parts.join("") + (encoding === "multipart" ? `--${boundary}--\r\n` : `--${boundary}`);
      return {
        type: `multipart/form-data; boundary=${encoding === "multipart" || seed % 2 ? boundary : "other"}`,
        bytes: Buffer.from(text),
      };
    }
    case "text":
      return { type: "text/plain", bytes: Buffer.from(bodyJson(body, r)) };
    case "bytes":
      return {
        type: ["application/json", "application/x-www-form-urlencoded", "application/octet-stream"][seed % 3],
        bytes: Buffer.from(Array.from({ length: 1 + (seed % 64) }, (_, i) => (seed * 31 + i * 7919) & 0xff)),
      };
    case "none":
      return { bytes: Buffer.from(bodyJson(body, r)) };
  }
}

// ── Sending ───────────────────────────────────────────────────────────────────────────────────

export type Wire = { method: string; path: string; headers: Record<string, string | string[]>; body?: Buffer };
export type Answer = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };

/** One request over the keep-alive agent; rejects only when no response arrives at all. */
export function send(agent: http.Agent, base: URL, w: Wire, timeoutMs = 60_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...w.headers, ...(w.body ? { "content-length": String(w.body.length) } : {}) };
    const req = http.request(
      { host: base.hostname, port: base.port, method: w.method, path: w.path, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(w.body);
  });
}

/** The headers every request shares: its own, Authorization, and a Content-Type for a body. */
function headersOf(spec: Common, r: Resolver, type: string | undefined): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = { ...spec.headers };
  if (spec.auth)
    h.authorization = spec.auth.pieces.map((p) => (p instanceof Ref ? mangle(String(r(p)), p.mangle) : p)).join("");
  const contentType = spec.contentType ?? type;
  if (contentType !== undefined) h["content-type"] = contentType;
  return h;
}

export function buildRest(ep: RestEndpoint, spec: RestSpec, r: Resolver): Wire {
  const segment = spec.segment instanceof Ref ? pct(String(r(spec.segment))) : spec.segment;
  const path = variantPath(ep.template.replace(/\{[^}]+\}/g, segment), spec.variant, spec.suffix) + spec.query;
  const { type, bytes } = encode(spec.body, spec.encoding, r, spec.seed);
  return { method: spec.method, path, headers: headersOf(spec, r, type), body: bytes };
}

/** The number of calls in a batched tRPC request (0 when it is not batched); "/trpc/?batch=1" is one call, to "". */
export const batchSize = (spec: TrpcSpec) =>
  spec.variant === "empty-batch" ? 1 : spec.partners ? 1 + spec.partners.length : 0;

/** tRPC's HTTP protocol: queries by GET with ?input=, mutations by POST with a JSON body, ?batch=1 with {"0": …}. */
export function buildTrpc(ep: TrpcEndpoint, spec: TrpcSpec, r: Resolver): Wire {
  const names = [ep.name, ...(spec.partners ?? []).map(([n]) => n)];
  let name = names.join(",");
  if (spec.variant === "unknown") name += "Nope";
  if (spec.variant === "upper") name = name.toUpperCase();
  if (spec.variant === "escaped") name = name.replace(".", "%2E");
  const batched = spec.partners !== null || spec.variant === "empty-batch";
  const inputs = [spec.input, ...(spec.partners ?? []).map(([, b]) => b)];
  const json = (b: Body | undefined) => (b === undefined ? undefined : bodyJson(b, r));
  let text: string | undefined;
  if (batched) {
    const parts = names.map((_, i) => (inputs[i] === undefined ? null : `"${i}":${json(inputs[i])}`)).filter(Boolean);
    text =
      spec.seed % 17 === 0 ? `[${parts.map((p) => p!.slice(p!.indexOf(":") + 1)).join(",")}]` : `{${parts.join(",")}}`;
  } else text = json(spec.input);
  if (spec.rawInput !== null) text = spec.rawInput;
  const inQuery = spec.via === "query" || spec.via === "both" || (spec.via === "auto" && spec.method !== "POST");
  const inBody = spec.via === "body" || spec.via === "both" || (spec.via === "auto" && spec.method === "POST");
  const query = [batched ? "batch=1" : "", inQuery && text !== undefined ? `input=${pct(text)}` : ""]
    .filter(Boolean)
    .join("&");
  const path =
    `/trpc/${spec.variant === "empty-batch" ? "" : name}` +
    `${spec.variant === "slash" ? "/" : ""}${query ? `?${query}` : ""}`;
  let type: string | undefined;
  let bytes: Buffer | undefined;
  if (inBody && text !== undefined) {
    if (spec.encoding === "json") [type, bytes] = ["application/json", Buffer.from(text)];
    else ({ type, bytes } = encode(spec.input, spec.encoding, r, spec.seed));
  }
  const headers = headersOf(spec, r, type);
  if (spec.stream) headers["trpc-accept"] = "application/jsonl";
  return { method: spec.method, path, headers, body: bytes };
}
