// The OpenAPI document at /docs/json against what the server does: a valid OpenAPI document, every
// answer the golden Djoser transcripts record fits the schema documented for its operation and
// status, and every route of the app appears in it (the UI and tRPC aside).
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { RouteSpec } from "../../../src/rest/drf.ts";
import { jwtRoutes } from "../../../src/rest/jwt.ts";
import { detail } from "../../../src/rest/openapi.ts";
import { sessionRoutes } from "../../../src/rest/sessions.ts";
import { tokenRoutes } from "../../../src/rest/token.ts";
import { userRoutes } from "../../../src/rest/users.ts";
import { createStaff, startTestServer, type TestServer } from "../../helpers/server.ts";
import { DEVIATIONS } from "./transcripts/deviations.ts";
import { REFERENCE_ENV, TRANSCRIPTS, type Transcript } from "./transcripts/reference.ts";

type Response = { description: string; content?: Record<string, { schema: object }> };
type Operation = { responses: Record<string, Response> };
type Document = { paths: Record<string, Record<string, Operation>> };

const ajv = new Ajv({ strict: false, allErrors: true });
const fits = (schema: object, body: unknown): string | undefined => {
  const validate = ajv.compile(schema);
  return validate(body) ? undefined : ajv.errorsText(validate.errors);
};

/** Each documented REST path and the request paths it answers (Djoser's slash rules). */
function servedPaths(specs: RouteSpec[]): { path: string; serves: RegExp }[] {
  const served = specs.map((spec) => {
    const path = `/auth${spec.path.replace(/:(\w+)/g, "{$1}")}`;
    const pattern = `/auth${spec.path.replace(/:\w+/g, "[^/]+")}`.replace(/[.]/g, "\\.");
    const bare = pattern.replace(/\/$/, "");
    const re = { append: `${pattern}`, optional: `${bare}/?`, prefix: `${bare}.*` }[spec.slash];
    return { path, serves: new RegExp(`^${re}$`) };
  });
  return [{ path: "/auth/", serves: /^\/auth\/$/ }, ...served];
}

describe("the OpenAPI document (/docs/json)", () => {
  let server: TestServer;
  let doc: Document;

  beforeAll(async () => {
    server = await startTestServer("pglite", REFERENCE_ENV);
    doc = (await server.request("GET", "/docs/json")).json;
  });
  afterAll(() => server?.stop());

  it("is a valid OpenAPI document, each operation listed once with its answers and their bodies", async () => {
    // On a copy: the tests below read the document as served.
    const result = await new Validator().validate(structuredClone(doc) as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    const problems: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method.toUpperCase()} ${path}`;
        if (method === "head") problems.push(`${where}: HEAD is GET's, listed again`);
        for (const [status, r] of Object.entries(op.responses)) {
          if (r.description === "Default Response") problems.push(`${where} ${status}: undescribed`);
          if (status === "204" && r.content) problems.push(`${where} 204: a body`);
          if (status !== "204" && !r.content) problems.push(`${where} ${status}: no body schema`);
        }
      }
    expect(problems).toEqual([]);
  });

  it("describes every answer the Djoser transcripts record: its status, with a body that fits", () => {
    const served = servedPaths([...userRoutes(server.settings), ...tokenRoutes, ...jwtRoutes, ...sessionRoutes]);
    const detailSchema = z.toJSONSchema(detail, { target: "openapi-3.0" });
    const problems: string[] = [];
    const unchecked: Transcript[] = [];
    let checked = 0;
    for (const t of TRANSCRIPTS) {
      // Where Portcullis answers otherwise on purpose, the transcript replay checks our answer.
      if (DEVIATIONS[t.seq]) continue;
      const { method } = t.request;
      const { status, json, text } = t.response;
      const requested = t.request.path.split("?")[0]!;
      const path = served.find((p) => p.serves.test(requested))?.path;
      if (!path) {
        unchecked.push(t);
        continue;
      }
      checked++;
      const where = `#${t.seq} ${method} ${t.request.path} → ${status}`;
      const op = doc.paths[path]?.[method === "HEAD" ? "get" : method.toLowerCase()];
      if (!op) {
        // A method the view does not map: DRF's 405, or the 401 that comes first on a private view.
        if (![401, 405].includes(status)) problems.push(`${where}: ${path} documents no ${method}`);
        const wrong = fits(detailSchema, json);
        if (wrong) problems.push(`${where}: ${wrong}`);
        continue;
      }
      const documented = op.responses[String(status)];
      if (!documented) {
        problems.push(`${where}: ${path} documents no ${status} for ${method}`);
        continue;
      }
      if (json === undefined) {
        // Nothing to fit: a 204, or Djoser's empty 400 of resend_activation.
        if (text) problems.push(`${where}: a text body`);
        continue;
      }
      const schema = documented.content?.["application/json"]?.schema;
      if (!schema) problems.push(`${where}: a JSON body, none documented`);
      else {
        const wrong = fits(schema, json);
        if (wrong) problems.push(`${where}: ${wrong} in ${JSON.stringify(json)}`);
      }
    }
    expect(problems).toEqual([]);
    // The rest: Django's APPEND_SLASH redirects of bare paths, and its 404 page for paths no view serves.
    expect(unchecked.filter((t) => t.response.status !== 301 && t.response.status !== 404)).toEqual([]);
    expect(checked).toBeGreaterThan(300);
  });

  it("lists every route of the app (the UI and tRPC aside), each REST path with the methods of its Allow", async () => {
    // Fastify's route tree, one node a line: its depth in the indentation, its segment, its methods
    // (none: a node routes pass through). The full tree: the compact one (commonPrefix: false) drops
    // the segments before a wildcard, printing tRPC's /trpc/* as a bare "*".
    const paths: string[] = [];
    const stack: string[] = [];
    for (const line of server.app.printRoutes().split("\n")) {
      const m = /^([│ ]*)(?:├── |└── )?(\S+)( \(|$)/.exec(line);
      if (!m) continue;
      const depth = line.indexOf(m[2]!) / 4;
      stack.length = depth;
      stack[depth] = m[2]!;
      if (m[3]) paths.push(stack.join("").replace(/:(\w+)/g, "{$1}"));
    }
    const documented = new Set(Object.keys(doc.paths));
    const missing = paths.filter(
      (p) =>
        !documented.has(p) &&
        !p.startsWith("/docs") && // the UI of this document
        !p.startsWith("/trpc/") && // described by the AppRouter type
        !documented.has(`${p}/`) && // a bare path: Django's APPEND_SLASH redirect, or Djoser's optional slash
        !(p.endsWith("*") && documented.has(`${p.slice(0, -1)}/`)), // SimpleJWT's unanchored jwt/ paths
    );
    expect(missing).toEqual([]);
    expect(paths.length).toBeGreaterThan(documented.size);

    await createStaff(server); // OPTIONS goes as staff: a private view answers it only to a user
    const token = (
      await server.request("POST", "/auth/token/login/", {
        json: { username: "admin", password: "Adm1n-Passw0rd!" },
      })
    ).json.auth_token;
    const wrongAllow: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!path.startsWith("/auth/")) continue;
      const r = await server.request("OPTIONS", path.replace("{id}", "1"), {
        headers: { authorization: `Token ${token}` },
      });
      const allow = (r.headers.get("allow") ?? "").split(", ").sort();
      const listed = Object.keys(ops).map((m) => m.toUpperCase());
      const want = [...listed, ...(listed.includes("GET") ? ["HEAD"] : [])].sort();
      if (JSON.stringify(allow) !== JSON.stringify(want)) wrongAllow.push(`${path}: Allow ${allow}, listed ${want}`);
    }
    expect(wrongAllow).toEqual([]);
  });
});
