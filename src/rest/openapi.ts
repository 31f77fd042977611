// The OpenAPI side of the REST views: the success bodies they answer, DRF's error shapes (shared
// by every view), and the responses each operation lists. Each view states its own summary, body,
// success answer and extra errors in its `doc`; what every view can answer is added here.
import { z } from "zod";
import type { Deps } from "../core/deps.ts";

/** A body schema, or one that depends on the settings (the login field's name, say). */
export type Shape = z.ZodType | ((deps: Deps) => z.ZodType);

/** An operation's success answer: its status, its body (none for a 204) and what it means. */
export type Answer = { status: number; description: string; body?: Shape };

/** The errors a view answers of its own (beyond those every view can), with why. */
export type Errors = Partial<Record<400 | 401 | 403 | 404, string>>;

// ── Bodies ───────────────────────────────────────────────────────────────────────────────────

/** Djoser's user serializer: id, email and the login field. */
export const user = (deps: Deps) =>
  deps.settings.USERNAME_FIELD === "email"
    ? z.object({ id: z.int(), email: z.string() })
    : z.object({ email: z.string(), id: z.int(), username: z.string() });
export const userList = (deps: Deps) => z.array(user(deps));
export const authToken = z.object({ auth_token: z.string().describe("The key to send as `Token <key>`") });
export const jwtPair = z.object({ refresh: z.string(), access: z.string() });
export const jwtRefreshed = z.object({
  access: z.string(),
  refresh: z.string().optional().describe("A new refresh token, under ROTATE_REFRESH_TOKENS"),
});
export const empty = z.object({}).describe("Empty: the token is valid");
export const sessionList = z.array(
  z.object({
    id: z.string().describe('"t<id>" for an opaque token, "j<sid>" for a JWT session'),
    kind: z.enum(["token", "jwt"]),
    created: z.string(),
    lastUsedAt: z.string().nullable(),
    userAgent: z.string(),
    ip: z.string(),
    current: z.boolean().describe("The session this request came in with"),
    factors: z.array(z.string()).describe('How it was signed in (RFC 8176 amr: "pwd", "otp", "hwk"…)'),
    authenticatedAt: z.string().describe("When those factors were last proved (the login or a re-authentication)"),
    provider: z.string().nullable().describe('The social provider of a "fed" sign-in; null for the others'),
  }),
);
export const apiRoot = z.object({ users: z.string().describe("The absolute URL of /auth/users/") });
/** DRF's SimpleMetadata: what an OPTIONS request answers. */
export const metadata = z.object({
  name: z.string(),
  description: z.string(),
  renders: z.array(z.string()),
  parses: z.array(z.string()),
  actions: z.record(z.string(), z.record(z.string(), z.looseObject({}))).optional(),
});

// ── DRF's error shapes ───────────────────────────────────────────────────────────────────────

/** Every error but a form's: {"detail": …}, with SimpleJWT's and the schemes' extra members. */
export const detail = z.looseObject({
  detail: z.string(),
  code: z.string().optional(),
  messages: z.array(z.looseObject({})).optional().describe("SimpleJWT: why each token class refused the token"),
  scheme_received: z.string().optional(),
  schemes_accepted: z.array(z.string()).optional(),
});
/** A form's errors: each field's messages; "non_field_errors" for the form as a whole. */
export const fieldErrors = z
  .record(z.string(), z.array(z.string()))
  .describe('{field: [messages]}; "non_field_errors" for the form as a whole');
/** A bare ValidationError (the *_SHOW_EMAIL_NOT_FOUND answers): a list of messages. */
export const messages = z.array(z.string());
export const badRequest = z.union([fieldErrors, detail, messages]);

const JSON_TYPE = "application/json";
export const BODY_TYPES = [JSON_TYPE, "application/x-www-form-urlencoded", "multipart/form-data"];

// ── Responses ────────────────────────────────────────────────────────────────────────────────

const toJson = (schema: z.ZodType) => {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { io: "output", target: "openapi-3.0" });
  return json;
};
/** One response as @fastify/swagger reads it: a JSON body, or none (a 204). */
export function response(description: string, body?: z.ZodType, headers?: Record<string, unknown>, media = JSON_TYPE) {
  return {
    description,
    ...(headers ? { headers } : {}),
    ...(body ? { content: { [media]: { schema: toJson(body) } } } : { type: "null" }),
  };
}

const retryAfter = { "Retry-After": { type: "integer", description: "Seconds to wait before trying again" } };
const challenge = { "WWW-Authenticate": { type: "string", description: "The schemes accepted" } };

/** What a view can answer: its success, its own errors, and those of every view of its kind. */
export function responses(
  answer: Answer,
  deps: Deps,
  opts: { errors?: Errors; reads: boolean; authenticates: boolean; authenticated: boolean },
) {
  const own = opts.errors ?? {};
  const body = answer.body && (typeof answer.body === "function" ? answer.body(deps) : answer.body);
  const out: Record<string, unknown> = { [answer.status]: response(answer.description, body) };
  const unparsed = "a body that does not parse";
  if (opts.reads || own[400])
    out[400] = response(own[400] ? `${own[400]}; ${unparsed}` : `Invalid input, or ${unparsed}`, badRequest);
  const unauthorized = [
    ...(opts.authenticated ? ["No credentials"] : []),
    ...(opts.authenticates ? ["Wrong credentials (even on a public view)"] : []),
    ...(own[401] ? [own[401]] : []),
  ];
  if (unauthorized.length) out[401] = response(unauthorized.join("; "), detail, challenge);
  if (own[403]) out[403] = response(own[403], detail);
  if (own[404]) out[404] = response(own[404], detail);
  if (opts.reads) {
    out[413] = response("A body over 64 KiB", detail);
    out[415] = response("A body that is not JSON, a urlencoded or a multipart form", detail);
  }
  out[429] = response("Throttled (DEFAULT_THROTTLE_RATES)", detail, retryAfter);
  out[503] = response("The database does not answer", detail, retryAfter);
  return out;
}
