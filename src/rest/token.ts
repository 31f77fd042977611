// Djoser's authtoken views: /auth/token/login/ and /auth/token/logout/ (slash optional, as in Djoser's regex).
import { loginInput, tokenLogin } from "../core/login/verify.ts";
import { logout } from "../core/sessions/opaque.ts";
import type { Authed, RouteSpec } from "./drf.ts";
import { authToken } from "./openapi.ts";

export const tokenRoutes: RouteSpec[] = [
  {
    path: "/token/login/",
    slash: "optional",
    otherwise: "any",
    tag: "token",
    metadata: {
      name: "Token Create",
      description: "Use this endpoint to obtain user authentication token.",
      actions: {
        POST: {
          password: { type: "string", required: false, read_only: false, label: "Password" },
          username: { type: "string", required: false, read_only: false, label: "Username" },
        },
      },
    },
    methods: {
      POST: {
        permission: "any",
        doc: {
          summary: "Log in: {auth_token} (the same key until logout in shared mode)",
          body: loginInput,
          ok: { status: 200, description: "Logged in", body: authToken },
          errors: {
            400: 'Invalid input; wrong credentials or an inactive account ("non_field_errors")',
            403: "Too many failed logins for this account (LOGIN_LOCKOUT)",
          },
        },
        run: async (c) => ({ status: 200, body: await tokenLogin(c.deps, await c.data(), c.meta) }),
      },
    },
  },
  {
    path: "/token/logout/",
    slash: "optional",
    otherwise: "authenticated",
    tag: "token",
    metadata: {
      name: "Token Destroy",
      description: "Use this endpoint to logout user (remove user authentication token).",
    },
    methods: {
      POST: {
        permission: "authenticated",
        doc: {
          summary: "Log out: revoke the user's opaque tokens (per-device mode: the one presented)",
          ok: { status: 204, description: "Logged out" },
        },
        run: async (c) => {
          await logout(c.deps, (c as Authed).principal, c.meta);
          return { status: 204 };
        },
      },
    },
  },
];
