// The fuzz suite's endpoints, read from the running app (its OpenAPI document) and from the tRPC
// router, so a new route or procedure is fuzzed without touching the suite.

import { z } from "zod";
import { appRouter } from "../../../src/trpc/router.ts";

// ── Endpoints ────────────────────────────────────────────────────────────────────────────────

/** A JSON Schema property, as OpenAPI (REST) and z.toJSONSchema (tRPC) describe inputs. */
export type FieldSchema = { type?: string | string[]; format?: string; enum?: unknown[] };
export type Fields = Record<string, FieldSchema>;
export type RestEndpoint = { adapter: "rest"; name: string; template: string; methods: string[]; fields: Fields };
export type TrpcEndpoint = { adapter: "trpc"; name: string; type: "query" | "mutation"; fields: Fields };
export type Endpoint = RestEndpoint | TrpcEndpoint;

/** Every REST path the OpenAPI document lists (the API root included). */
export async function restEndpoints(baseUrl: string): Promise<RestEndpoint[]> {
  const doc = (await (await fetch(`${baseUrl}/docs/json`)).json()) as {
    paths: Record<
      string,
      Record<string, { requestBody?: { content?: Record<string, { schema?: { properties?: Fields } }> } }>
    >;
  };
  return Object.entries(doc.paths)
    .filter(([path]) => path.startsWith("/auth/"))
    .map(([path, ops]): RestEndpoint => {
      const fields: Fields = {};
      for (const op of Object.values(ops))
        Object.assign(fields, op.requestBody?.content?.["application/json"]?.schema?.properties);
      return {
        adapter: "rest",
        name: path,
        template: path,
        methods: Object.keys(ops).map((m) => m.toUpperCase()),
        fields,
      };
    });
}

/** Every procedure of the router, with the fields of its input schema. */
export function trpcEndpoints(): TrpcEndpoint[] {
  const procedures = (
    appRouter as unknown as {
      _def: { procedures: Record<string, { _def: { type: "query" | "mutation"; inputs: z.ZodType[] } }> };
    }
  )._def.procedures;
  return Object.entries(procedures).map(([name, p]) => {
    const fields: Fields = {};
    for (const input of p._def.inputs)
      Object.assign(
        fields,
        (z.toJSONSchema(input, { io: "input", unrepresentable: "any" }) as { properties?: Fields }).properties,
      );
    return { adapter: "trpc", name, type: p._def.type, fields };
  });
}
