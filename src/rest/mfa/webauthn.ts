// Djoser 2.3's WebAuthn paths (signup_request/, signup/<ukey>/, login_request/, login/) with its
// bodies and answers, and the management of a signed-in user's passkeys (a Portcullis extension,
// under /auth/passkeys/).

import { z } from "zod";
import { idInPath } from "../../core/inputs.ts";
import { loginRequest, passkeyLogin } from "../../core/passkeys/login.ts";
import * as manage from "../../core/passkeys/manage.ts";
import { signup, signupRequest, signupRequestFields } from "../../core/passkeys/signup.ts";
import { AuthError } from "../../errors.ts";
import type { Authed, Call, Reply, RouteSpec, View } from "../drf.ts";
import { user } from "../openapi.ts";

const options = z.record(z.string(), z.unknown()).describe("PublicKeyCredential…OptionsJSON (the standard shape)");
const passkey = z.object({
  id: z.int(),
  name: z.string(),
  created: z.string(),
  last_used: z.string().nullable(),
  device_type: z.string(),
  backed_up: z.boolean(),
  transports: z.array(z.string()),
});
const FAILED = 'WebAuthn verification failed ({"non_field_errors": "WebAuthn verification failed."})';

/** Djoser's words for a credential that does not verify: a string, not DRF's usual list. */
async function djoser(run: () => Promise<Reply>): Promise<Reply> {
  try {
    return await run();
  } catch (e) {
    if (e instanceof AuthError && e.code === "webauthn_failed")
      return { status: 400, body: { non_field_errors: e.message } };
    throw e;
  }
}

const spec = (path: string, name: string, methods: RouteSpec["methods"], open = true): RouteSpec => ({
  path,
  slash: "append",
  otherwise: open ? "any" : "authenticated",
  tag: "webauthn",
  metadata: { name },
  methods,
});
const view = (permission: View["permission"], doc: View["doc"], run: (c: Authed) => Promise<Reply>): View => ({
  permission,
  doc,
  run: (c: Call) => djoser(() => run(c as Authed)),
});
const passkeyId = (c: Call) => {
  const id = idInPath(c.params.id);
  if (id === null) throw new AuthError("not_found");
  return id;
};

export const webauthnRoutes: RouteSpec[] = [
  spec("/webauthn/signup_request/", "Signup Request", {
    POST: view(
      "any",
      {
        summary: "Passkey sign-up, first step: creation options for {username, display_name} (and its ukey)",
        body: () => signupRequestFields,
        ok: { status: 200, description: "The options; user.id is the ukey", body: options },
        errors: { 400: "The username is taken, or invalid input" },
      },
      async (c) => ({ status: 200, body: await signupRequest(c.deps, await c.data(), c.meta) }),
    ),
  }),
  spec("/webauthn/signup/:ukey/", "Signup", {
    POST: view(
      "any",
      {
        summary: "Passkey sign-up: the user fields next to the registration JSON → the new user",
        ok: { status: 201, description: "Signed up", body: user },
        errors: { 400: FAILED, 404: "Unknown or used ukey" },
      },
      async (c) => ({ status: 201, body: await signup(c.deps, String(c.params.ukey), await c.data(), c.meta) }),
    ),
  }),
  spec("/webauthn/login_request/", "Login Request", {
    POST: view(
      "any",
      {
        summary: "Passkey login, first step: request options for {username} (none: a discoverable passkey)",
        ok: { status: 200, description: "The options", body: options },
      },
      async (c) => ({ status: 200, body: await loginRequest(c.deps, await c.data(), c.meta) }),
    ),
  }),
  spec("/webauthn/login/", "Login", {
    POST: view(
      "any",
      {
        summary: "Passkey login: {username, …assertion JSON} → Djoser's {auth_token} (or the JWT pair)",
        ok: { status: 201, description: "Logged in", body: z.record(z.string(), z.string()) },
        errors: { 400: FAILED },
      },
      async (c) => ({ status: 201, body: await passkeyLogin(c.deps, await c.data(), c.meta) }),
    ),
  }),
  spec(
    "/passkeys/",
    "Passkey List",
    {
      GET: view(
        "authenticated",
        {
          summary: "Extension: the caller's passkeys",
          ok: { status: 200, description: "The passkeys", body: z.array(passkey) },
        },
        async (c) => ({
          status: 200,
          body: await manage.listPasskeys(c.deps, c.principal),
        }),
      ),
    },
    false,
  ),
  spec(
    "/passkeys/register_request/",
    "Passkey Register Request",
    {
      POST: view(
        "authenticated",
        {
          summary: "Extension: creation options for one more passkey (a recent sign-in needed)",
          ok: { status: 200, description: "The options", body: options },
          errors: { 403: "No recent sign-in (reauthentication_required)" },
        },
        async (c) => ({ status: 200, body: await manage.registerOptions(c.deps, c.principal) }),
      ),
    },
    false,
  ),
  spec(
    "/passkeys/register/",
    "Passkey Register",
    {
      POST: view(
        "authenticated",
        {
          summary: "Extension: add a passkey ({name?, …registration JSON})",
          ok: { status: 201, description: "Added", body: passkey },
          errors: { 400: FAILED, 403: "No recent sign-in (reauthentication_required)" },
        },
        async (c) => ({ status: 201, body: await manage.registerPasskey(c.deps, c.principal, await c.data(), c.meta) }),
      ),
    },
    false,
  ),
  spec(
    "/passkeys/:id/",
    "Passkey Instance",
    {
      PATCH: view(
        "authenticated",
        {
          summary: "Extension: rename a passkey ({name})",
          body: () => manage.renameFields,
          ok: { status: 200, description: "Renamed", body: passkey },
          errors: { 403: "No recent sign-in", 404: "No such passkey of yours" },
        },
        async (c) => ({
          status: 200,
          body: await manage.renamePasskey(c.deps, c.principal, passkeyId(c), await c.data(), c.meta),
        }),
      ),
      DELETE: view(
        "authenticated",
        {
          summary: "Extension: remove a passkey (the last one turns the webauthn second factor off)",
          ok: { status: 204, description: "Removed" },
          errors: { 403: "No recent sign-in", 404: "No such passkey of yours" },
        },
        async (c) => {
          await manage.removePasskey(c.deps, c.principal, passkeyId(c), c.meta);
          return { status: 204 };
        },
      ),
    },
    false,
  ),
];
