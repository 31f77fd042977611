// The lean path: tRPC's HTTP RPC protocol (https://trpc.io/docs/rpc) answered straight from the
// Fastify request for plain calls (queries over GET, mutations over POST, batched or not), through
// each procedure's own middlewares (run as tRPC runs them: callChain), tRPC's error shape, status
// rules and transformer. The stock adapter builds a WHATWG Request, abort signals and a web stream
// for every call, and spends most of a call there.
// Whatever this path does not answer exactly as the stock adapter would (a streaming or
// subscription request, a form, a malformed path or input, an unknown procedure, a wrong method,
// an oversize batch…) it leaves to the stock adapter: `answerLean` then returns false having done
// nothing, so the stock adapter sees the request untouched.
import type { AnyProcedure, AnyRouter, ProcedureType } from "@trpc/server";
import {
  defaultTransformer,
  getErrorShape,
  getHTTPStatusCode,
  getProcedureAtPath,
  getTRPCErrorFromUnknown,
  isAsyncIterable,
  isObject,
  isPromise,
  middlewareMarker,
  TRPCError,
  transformTRPCResponse,
  urlPathToProcedurePath,
} from "@trpc/server/unstable-core-do-not-import";
import type { FastifyReply, FastifyRequest } from "fastify";

/** The stock adapter's options this path honours (the same object is given to both). */
export type LeanOptions = {
  router: AnyRouter;
  createContext?: (opts: { req: FastifyRequest; res: FastifyReply; info: unknown }) => unknown;
  maxBatchSize?: number;
  allowBatching?: boolean;
  allowMethodOverride?: boolean;
  responseMeta?(opts: {
    ctx: unknown;
    info: unknown;
    paths: string[];
    data: unknown[];
    errors: TRPCError[];
    eagerGeneration: boolean;
    type: ProcedureType;
  }): { status?: number; headers?: unknown } | undefined;
  onError?(opts: {
    error: TRPCError;
    path: string;
    input: unknown;
    ctx: unknown;
    type: ProcedureType;
    req: unknown;
  }): void;
};

type Call = { path: string; procedure: AnyProcedure; input: unknown; read: boolean };
type Plan = { batch: boolean; type: "query" | "mutation"; calls: Call[] };

const METHOD: Record<string, "query" | "mutation"> = { GET: "query", POST: "mutation" };

/** Media types are case-insensitive; parameters do not count (tRPC's own test). */
const isJson = (type: string) => (type.split(";", 1)[0] ?? "").trim().toLowerCase() === "application/json";

function parse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

// The procedures found so far, by path: a router's procedures do not change once it is built, and
// only found ones are kept (as many as the router has), so no request can grow this.
const found = new WeakMap<AnyRouter, Map<string, AnyProcedure>>();
function knownProcedures(router: AnyRouter): Map<string, AnyProcedure> {
  let known = found.get(router);
  if (!known) {
    known = new Map();
    found.set(router, known);
  }
  return known;
}
async function lookUp(router: AnyRouter, path: string): Promise<AnyProcedure | null> {
  const procedure = await getProcedureAtPath(router, path);
  if (procedure) knownProcedures(router).set(path, procedure);
  return procedure;
}

/** The calls of a request this path answers as the stock adapter would, or null. */
async function planOf(req: FastifyRequest, rawPath: string, opts: LeanOptions): Promise<Plan | null> {
  const type = METHOD[req.method];
  if (!type || opts.allowMethodOverride) return null;
  const headers = req.headers;
  if (headers["trpc-accept"] !== undefined || headers.accept?.includes("application/jsonl")) return null;
  const contentType = headers["content-type"];
  if (contentType === undefined ? type === "mutation" : !isJson(contentType)) return null;
  const q = req.url.indexOf("?");
  const search = new URLSearchParams(q < 0 ? "" : req.url.slice(q + 1));
  if (search.has("connectionParams")) return null;
  const batch = search.get("batch") === "1";
  if (batch && opts.allowBatching === false) return null;
  let path: string;
  try {
    path = urlPathToProcedurePath(decodeURIComponent(rawPath), opts.router._def._config.pathSeparator);
  } catch {
    return null;
  }
  const paths = batch ? path.split(",") : [path];
  if (batch && typeof opts.maxBatchSize === "number" && paths.length > opts.maxBatchSize) return null;
  const text = type === "query" ? search.get("input") : req.body;
  if (type === "mutation" && typeof text !== "string") return null;
  const parsed = text ? parse(text as string) : { ok: true as const, value: undefined };
  if (!parsed.ok) return null;
  if (batch && parsed.value !== undefined && !isObject(parsed.value)) return null;
  const deserialize = opts.router._def._config.transformer.input.deserialize;
  const inputs = parsed.value as Record<number, unknown> | undefined;
  const calls: Call[] = [];
  const known = knownProcedures(opts.router);
  for (const [index, p] of paths.entries()) {
    const procedure = known.get(p) ?? (await lookUp(opts.router, p));
    if (!procedure || procedure._def.type !== type) return null;
    const raw = batch ? inputs?.[index] : inputs;
    calls.push({ path: p, procedure, input: raw === undefined ? undefined : deserialize(raw), read: false });
  }
  return { batch, type, calls };
}

type ChainOptions = Parameters<AnyProcedure>[0] & { input?: unknown };
type ChainResult = { ok: true; data: unknown } | { ok: false; error: TRPCError };
type Middleware = (opts: object) => Promise<ChainResult>;
type NextOptions = { ctx?: object; input?: unknown; getRawInput?: () => Promise<unknown> } | undefined;

/**
 * A procedure's middleware chain, as tRPC's own `callRecursive` runs it (the same options to each
 * middleware, the same merge of `next({ ctx, input })`, a throw turned into a failed result), with
 * each options object written out: tRPC's published build copies them through a spread helper that
 * defines one property at a time, and that was a third of what a call cost here beyond REST's (CPU
 * profile); a native spread of them still cost 4 µs a call, an object literal next to nothing.
 */
async function callChain(procedure: AnyProcedure, opts: ChainOptions, index = 0): Promise<ChainResult> {
  const def = procedure._def as unknown as { middlewares: Middleware[]; meta: unknown };
  const { path, type, signal, batchIndex, ctx, input, getRawInput } = opts; // every key tRPC's caller passes
  try {
    const middleware = def.middlewares[index] as Middleware;
    return await middleware({
      path,
      type,
      signal,
      batchIndex,
      ctx,
      input,
      getRawInput,
      meta: def.meta,
      next: (next: NextOptions) =>
        callChain(
          procedure,
          {
            path,
            type,
            signal,
            batchIndex,
            ctx: next?.ctx ? Object.assign({}, ctx, next.ctx) : ctx, // a spread costs more here
            input: next && "input" in next ? next.input : input,
            getRawInput: next?.getRawInput ?? getRawInput,
          },
          index + 1,
        ),
    });
  } catch (cause) {
    return { ok: false, error: getTRPCErrorFromUnknown(cause), marker: middlewareMarker } as ChainResult;
  }
}

/** What calling `procedure(opts)` returns, through callChain (a procedure with its own caller: itself). */
async function callProcedure(procedure: AnyProcedure, opts: ChainOptions): Promise<unknown> {
  if ((procedure._def as { experimental_caller?: boolean }).experimental_caller) return procedure(opts);
  const result = await callChain(procedure, opts);
  if (!result) {
    const message = "No result from middlewares - did you forget to `return next()`?";
    throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message });
  }
  if (!result.ok) throw result.error;
  return result.data;
}

const asIs = (text: string) => text;

/** tRPC's test for an answer only its streaming links can carry. */
function isDataStream(v: unknown): boolean {
  if (!isObject(v)) return false;
  if (isAsyncIterable(v)) return true;
  return Object.values(v).some((x) => isPromise(x) || isAsyncIterable(x));
}

/**
 * Answers a plain tRPC call as the stock adapter would (body, status, headers); false when it
 * leaves the request to the stock adapter, untouched.
 */
export async function answerLean(
  req: FastifyRequest,
  reply: FastifyReply,
  rawPath: string,
  opts: LeanOptions,
): Promise<boolean> {
  const plan = await planOf(req, rawPath, opts);
  if (!plan) return false;
  const { batch, type, calls } = plan;
  const config = opts.router._def._config;
  const info = {
    isBatchCall: batch,
    accept: null,
    type,
    calls: calls.map((c, batchIndex) => ({ batchIndex, path: c.path, procedure: c.procedure })),
    connectionParams: null,
    signal: undefined,
    url: null,
  };
  let ctx: unknown;
  try {
    ctx = await opts.createContext?.({ req, res: reply, info });
  } catch {
    return false; // the stock adapter makes the same context fail, and answers it its way
  }
  const errors: (TRPCError | undefined)[] = [];
  const answer = async (call: Call, batchIndex: number) => {
    const input = () => (call.read ? call.input : undefined);
    try {
      const data = await callProcedure(call.procedure, {
        path: call.path,
        getRawInput: async () => {
          call.read = true;
          return call.input;
        },
        ctx,
        type,
        signal: undefined,
        batchIndex,
      });
      if (!isDataStream(data)) return { result: { data } };
      const message = "Cannot use stream-like response in non-streaming request - use httpBatchStreamLink";
      errors[batchIndex] = new TRPCError({ code: "UNSUPPORTED_MEDIA_TYPE", message });
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      errors[batchIndex] = error;
      opts.onError?.({ error, path: call.path, input: input(), ctx, type, req });
    }
    const error = errors[batchIndex] as TRPCError;
    return { error: getErrorShape({ config, error, type, path: call.path, input: input(), ctx }) };
  };
  const responses = calls.length === 1 ? [await answer(calls[0] as Call, 0)] : await Promise.all(calls.map(answer));
  let status = getHTTPStatusCode(responses as never, errors);
  const defined = errors.filter((e): e is TRPCError => e !== undefined);
  const paths = calls.map((c) => c.path);
  const meta = opts.responseMeta?.({
    ctx,
    info,
    paths,
    data: responses,
    errors: defined,
    eagerGeneration: false,
    type,
  });
  const headers: Record<string, string | string[]> = {
    vary: "trpc-accept, accept",
    "content-type": "application/json",
  };
  for (const [key, value] of Object.entries((meta?.headers ?? {}) as Record<string, unknown>)) {
    const name = key.toLowerCase();
    if (Array.isArray(value)) {
      // Appended, as a Headers object does: repeated for set-cookie, joined with ", " otherwise.
      const before = headers[name];
      if (name === "set-cookie") headers[name] = [...((before as string[] | undefined) ?? []), ...value];
      else headers[name] = [before, ...value].filter((v) => v !== undefined).join(", ");
    } else if (typeof value === "string") headers[name] = value;
  }
  if (meta?.status) status = meta.status;
  const out = batch ? responses : responses[0];
  // tRPC's default transformer is the identity: its object copies would change nothing.
  const body = JSON.stringify(
    config.transformer === defaultTransformer ? out : transformTRPCResponse(config, out as never),
  );
  // In the order a Headers object iterates them (sorted), as Fastify copies a Response's.
  for (const name of Object.keys(headers).sort()) reply.header(name, headers[name]);
  // Through a serializer that keeps the text as it is, so that Fastify keeps tRPC's bare
  // "application/json" (it gives a plain string a charset); a string goes out in one write with the
  // headers, a Buffer in two. Not awaited: that would wait for the socket to drain, for nothing.
  reply.code(status).serializer(asIs).send(body);
  return true;
}
