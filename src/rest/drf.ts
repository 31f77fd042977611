// What makes a Fastify route answer like a DRF view: authentication first (a bad credential is a
// 401 even on public views), then permission, then the method (405 with Allow), lazy body parsing
// (a view that ignores its body never fails on it), and DRF's error shapes.
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from "fastify";
import { z } from "zod";
import type { Deps, Principal, RequestMeta } from "../core/deps.ts";
import { throttleCaller } from "../core/login/throttle.ts";
import { AuthError } from "../errors.ts";
import { authenticate } from "../http/authenticate.ts";
import { deviceCookies } from "../http/device-cookie.ts";
import { requestMeta } from "../http/request-meta.ts";
import { isSecure } from "../http/secure.ts";
import { parseBody } from "./body.ts";
import { type Answer, BODY_TYPES, type Errors, metadata, responses } from "./openapi.ts";
import { json } from "./render.ts";

const INPUT = { io: "input", unrepresentable: "any", target: "openapi-3.0" } as const;

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
export type Permission = "any" | "authenticated";
export type Reply = { status: number; body?: unknown };
export type Call = {
  deps: Deps;
  principal: Principal | null;
  params: Record<string, string>;
  /** The query string, each name's last value (Django's request.GET[name]). */
  query: Record<string, string>;
  meta: RequestMeta;
  /** The parsed body, read on first use: DRF's request.data. */
  data(): Promise<unknown>;
};
export type Authed = Call & { principal: Principal };

export type RouteSpec = {
  path: string; // with its trailing slash
  /**
   * "append": Django's APPEND_SLASH 301 from the bare path; "optional": both answer (Djoser's
   * regex routes); "prefix": anything that starts with the bare path answers (SimpleJWT's
   * unanchored `^jwt/create/?`, which also matches jwt/create/anything).
   */
  slash: "append" | "optional" | "prefix";
  /** Permission for OPTIONS and for methods the view does not map (a viewset's default). */
  otherwise: Permission;
  /** false for views with authentication_classes = () (SimpleJWT's), which ignore Authorization. */
  authenticates?: boolean;
  metadata: Metadata | ((deps: Deps) => Metadata);
  /** OpenAPI grouping. */
  tag: string;
  methods: Partial<Record<Method, View>>;
};

export type Metadata = { name: string; description?: string; actions?: Record<string, unknown> };

export type View = {
  permission: Permission;
  run: (call: Call) => Promise<Reply>;
  /**
   * For the OpenAPI document only (the view parses its body itself, with DRF's messages): its
   * body, its success answer and the errors of its own; openapi.ts adds those every view can answer.
   */
  doc: { summary: string; body?: (deps: Deps) => z.ZodType; ok: Answer; errors?: Errors };
};

export type RestOptions = { deps: Deps };

const ALL = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/**
 * Routes `url` for every method the server parses, so a view answers TRACE or PROPFIND with
 * DRF's 405 instead of a 404. Only the documented methods appear in the OpenAPI document.
 */
export function routeEveryMethod(
  app: FastifyInstance,
  url: string,
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
  docs: Partial<Record<Method | "OPTIONS", FastifySchema>> = {},
) {
  for (const [method, schema] of Object.entries(docs)) {
    app.route({ method, url, exposeHeadRoute: false, schema, handler });
    // HEAD answers as GET does, and is not listed again in the document.
    if (method === "GET") app.route({ method: "HEAD", url, schema: { hide: true }, handler });
  }
  const documented = new Set(Object.keys(docs).flatMap((m) => (m === "GET" ? ["GET", "HEAD"] : [m])));
  const rest = [...ALL, ...app.supportedMethods.filter((m) => !(ALL as readonly string[]).includes(m))].filter(
    (m) => !documented.has(m),
  );
  app.route({ method: rest, url, exposeHeadRoute: false, schema: { hide: true }, handler });
}

function openApi(spec: RouteSpec, deps: Deps): Partial<Record<Method | "OPTIONS", FastifySchema>> {
  const docs: Partial<Record<Method | "OPTIONS", FastifySchema>> = {};
  const authenticates = spec.authenticates !== false;
  const schemes: Record<string, string[]>[] = [{ token: [] }, { bearer: [] }];
  const security = (p: Permission) => (p === "authenticated" ? { security: schemes } : {});
  for (const [method, view] of Object.entries(spec.methods) as [Method, View][]) {
    const { summary, body, ok, errors } = view.doc;
    docs[method] = {
      tags: [spec.tag],
      summary,
      ...security(view.permission),
      ...(body ? { body: { ...z.toJSONSchema(body(deps), INPUT), $schema: undefined }, consumes: BODY_TYPES } : {}),
      response: responses(ok, deps, {
        errors,
        reads: !!body,
        authenticates,
        authenticated: view.permission === "authenticated",
      }),
    };
  }
  docs.OPTIONS = {
    tags: [spec.tag],
    summary: "DRF's metadata: the view's name, description, parsers, renderers and fields",
    ...security(spec.otherwise),
    response: responses({ status: 200, description: "The metadata", body: metadata }, deps, {
      reads: false,
      authenticates,
      authenticated: spec.otherwise === "authenticated",
    }),
  };
  return docs;
}

function allowOf(spec: RouteSpec): string {
  const mapped = Object.keys(spec.methods) as Method[];
  const order = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
  const allowed = [...mapped, ...(mapped.includes("GET") ? ["HEAD"] : []), "OPTIONS"];
  return order.filter((m) => allowed.includes(m)).join(", ");
}

/** DRF's SimpleMetadata answer to OPTIONS. */
export function metadataBody(meta: Metadata) {
  return {
    name: meta.name,
    description: meta.description ?? "",
    renders: ["application/json", "text/html"],
    parses: ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
    ...(meta.actions ? { actions: meta.actions } : {}),
  };
}

const lastValues = (query: Record<string, string | string[]>) =>
  Object.fromEntries(Object.entries(query ?? {}).map(([k, v]) => [k, Array.isArray(v) ? v.at(-1)! : v]));

export const methodNotAllowed = (method: string) =>
  new AuthError("method_not_allowed", `Method "${method}" not allowed.`);

export function mount(app: FastifyInstance, spec: RouteSpec, opts: RestOptions) {
  const allow = allowOf(spec);
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    // "o//" for "o/<provider>/": Django's patterns need a character per parameter, so nothing matches.
    if (Object.values((req.params ?? {}) as Record<string, string>).some((v) => v === "")) return reply.callNotFound();
    reply.header("Allow", allow);
    const { deps } = opts;
    const principal = spec.authenticates === false ? null : await authenticate(deps, req.headers);
    const method = (req.method === "HEAD" ? "GET" : req.method) as Method | "OPTIONS";
    const view = method === "OPTIONS" ? undefined : spec.methods[method];
    const permission = view?.permission ?? spec.otherwise;
    if (permission === "authenticated" && !principal) throw new AuthError("not_authenticated");
    // DRF's order: authentication, permissions, then the anon / user throttles.
    await throttleCaller(deps.throttle, principal?.user.id ?? null, req.ip);
    if (method === "OPTIONS") {
      return json(reply, 200, metadataBody(typeof spec.metadata === "function" ? spec.metadata(deps) : spec.metadata));
    }
    if (!view) throw methodNotAllowed(req.method);
    let body: unknown;
    const call: Call = {
      deps,
      principal,
      params: req.params as Record<string, string>,
      query: lastValues(req.query as Record<string, string | string[]>),
      meta: requestMeta(req, deps.settings),
      data: async () => (body ??= await parseBody(req)),
    };
    const result = await view.run(call);
    const cookies = deviceCookies(call.meta.issuedDevice, deps.settings, isSecure(req, deps.settings));
    if (cookies.length) reply.header("set-cookie", cookies);
    return json(reply, result.status, req.method === "HEAD" ? undefined : result.body);
  };
  routeEveryMethod(app, spec.path, handler, openApi(spec, opts.deps));
  const bare = spec.path.replace(/\/$/, "");
  if (spec.slash === "optional") routeEveryMethod(app, bare, handler);
  else if (spec.slash === "prefix") {
    routeEveryMethod(app, bare, handler);
    routeEveryMethod(app, `${bare}*`, handler);
  } else {
    // Django's APPEND_SLASH: a permanent redirect to the slash URL, query string kept.
    routeEveryMethod(app, bare, async (req, reply) => {
      // A path parameter left empty ("signup/" for "signup/:ukey/"): Django matches nothing either.
      if (req.url.split(/[?#]/)[0]!.endsWith("/")) return reply.callNotFound();
      // The router stops the path at "?" or "#" (a fragment a raw client sent): so does the redirect,
      // or "/users#x" would go to "/users#x/", which redirects again.
      const query = req.url.includes("?") ? req.url.slice(req.url.indexOf("?")).split("#")[0] : "";
      return reply
        .code(301)
        .header("content-type", "text/html; charset=utf-8")
        .header("location", `${req.url.split(/[?#]/)[0]}/${query}`)
        .send("");
    });
  }
}
