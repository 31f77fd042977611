// Djoser's social paths (o/<provider>/), stateless: GET answers {authorization_url}, POST with the
// code and state (in the query string, as Djoser's clients send them, or in the body) answers the
// credential of SOCIAL_AUTH_TOKEN_STRATEGY and the username, or {ephemeral_token, method} for a
// user with MFA on (then login/code/). Linking, listing and unlinking providers are Portcullis
// extensions under /auth/social/.
import { z } from "zod";
import { idInPath } from "../core/inputs.ts";
import * as social from "../core/social/flows.ts";
import { AuthError } from "../errors.ts";
import type { Authed, Call, Reply, RouteSpec, View } from "./drf.ts";

const url = z.object({ authorization_url: z.string() });
const identity = z.object({
  id: z.int(),
  provider: z.string(),
  uid: z.string(),
  email: z.string(),
  created: z.string(),
  last_used: z.string().nullable(),
});
const signedIn = z.union([
  z.object({ access: z.string(), refresh: z.string(), user: z.string() }),
  z.object({ auth_token: z.string(), user: z.string() }),
  z.object({ ephemeral_token: z.string(), method: z.string() }).describe("MFA on: send a code to login/code/"),
]);
const BAD_STATE = "Missing, invalid, expired or used state; a refused code or ID token ({non_field_errors: [...]})";
const BAD_URI = "redirect_uri is not in SOCIAL_AUTH_ALLOWED_REDIRECT_URIS (a JSON string, as Djoser answers)";

const spec = (path: string, name: string, methods: RouteSpec["methods"], open: boolean): RouteSpec => ({
  path,
  slash: "append",
  otherwise: open ? "any" : "authenticated",
  tag: "social",
  metadata: { name },
  methods,
});
const view = (permission: View["permission"], doc: View["doc"], run: (c: Authed) => Promise<Reply>): View => ({
  permission,
  doc,
  run: (c: Call) => run(c as Authed),
});

/** python-social-auth reads the response from the query string and the body alike (the body wins). */
async function responseParams(c: Call): Promise<Record<string, unknown>> {
  const body = await c.data();
  return { ...c.query, ...(typeof body === "object" && body && !Array.isArray(body) ? body : {}) };
}

function identityId(c: Call): number {
  const id = idInPath(c.params.id);
  if (id === null) throw new AuthError("not_found", "No such identity.");
  return id;
}

export const socialRoutes: RouteSpec[] = [
  spec(
    "/o/:provider/",
    "Provider Auth",
    {
      GET: view(
        "any",
        {
          summary: "Social sign-in, first step: ?redirect_uri=… → the provider's authorization URL",
          ok: { status: 200, description: "Send the user there", body: url },
          errors: { 400: BAD_URI, 404: "No such provider configured" },
        },
        async (c) => ({
          status: 200,
          body: await social.signInUrl(c.deps, c.params.provider!, c.query.redirect_uri, c.meta),
        }),
      ),
      POST: view(
        "any",
        {
          summary: "Social sign-in: the code and state the provider returned → the credential and username",
          ok: {
            status: 201,
            description: "Signed in (or, with MFA on, a 200 with the ephemeral token)",
            body: signedIn,
          },
          errors: { 400: BAD_STATE, 404: "No such provider configured" },
        },
        async (c) => {
          const step = await social.completeSignIn(c.deps, c.params.provider!, await responseParams(c), c.meta);
          if (step.status === "mfa_required")
            return { status: 200, body: { ephemeral_token: step.ephemeralToken, method: step.method } };
          return { status: 201, body: { ...step.credential, user: step.user } };
        },
      ),
    },
    true,
  ),
  spec(
    "/social/link/:provider/",
    "Social Link",
    {
      GET: view(
        "authenticated",
        {
          summary: "Extension: the authorization URL to link a provider to the caller (a recent sign-in needed)",
          ok: { status: 200, description: "Send the user there", body: url },
          errors: { 400: BAD_URI, 403: "No recent sign-in (reauthentication_required)", 404: "No such provider" },
        },
        async (c) => ({
          status: 200,
          body: await social.linkUrl(c.deps, c.principal, c.params.provider!, c.query.redirect_uri, c.meta),
        }),
      ),
      POST: view(
        "authenticated",
        {
          summary: "Extension: the code and state of a link → the linked identity",
          ok: { status: 201, description: "Linked", body: identity },
          errors: { 400: `${BAD_STATE}; or the account is another user's`, 404: "No such provider" },
        },
        async (c) => ({
          status: 201,
          body: await social.link(c.deps, c.principal, c.params.provider!, await responseParams(c), c.meta),
        }),
      ),
    },
    false,
  ),
  spec(
    "/social/identities/",
    "Social Identity List",
    {
      GET: view(
        "authenticated",
        {
          summary: "Extension: the providers' accounts linked to the caller",
          ok: { status: 200, description: "The identities", body: z.array(identity) },
        },
        async (c) => ({ status: 200, body: await social.identities(c.deps, c.principal) }),
      ),
    },
    false,
  ),
  spec(
    "/social/identities/:id/",
    "Social Identity Instance",
    {
      DELETE: view(
        "authenticated",
        {
          summary: "Extension: unlink an identity (never the account's last way to sign in)",
          ok: { status: 204, description: "Unlinked" },
          errors: {
            400: "The account's last way to sign in",
            403: "No recent sign-in",
            404: "No such identity of yours",
          },
        },
        async (c) => {
          await social.unlink(c.deps, c.principal, identityId(c), c.meta);
          return { status: 204 };
        },
      ),
    },
    false,
  ),
];
