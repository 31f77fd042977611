// SimpleJWT's views at Djoser's jwt/ paths (create, refresh, verify), plus two extensions of those
// paths: jwt/logout/ (end the session of a refresh token) and jwt/logout_all/ (every JWT session).
// SimpleJWT's views ignore Authorization (authentication_classes = ()); logout_all needs it.
import type { Deps } from "../core/deps.ts";
import {
  createTokens,
  jwtCreateInput,
  logoutAllSessions,
  logoutRefresh,
  refreshInput,
  refreshTokens,
  verifyInput,
  verifyToken,
} from "../core/sessions/jwt.ts";
import type { Authed, RouteSpec } from "./drf.ts";
import { empty, jwtPair, jwtRefreshed } from "./openapi.ts";

const badToken = "The token is invalid, expired, of the wrong type, or its session ended";

const field = (label: string, extra: Record<string, unknown> = {}) => ({
  type: "string",
  required: true,
  read_only: false,
  label,
  ...extra,
});

export const jwtRoutes: RouteSpec[] = [
  {
    path: "/jwt/create/",
    slash: "prefix",
    otherwise: "any",
    authenticates: false,
    tag: "jwt",
    metadata: (deps: Deps) => ({
      name: "Token Obtain Pair",
      description:
        "Takes a set of user credentials and returns an access and refresh JSON web\n" +
        "token pair to prove the authentication of those credentials.",
      actions: {
        POST: {
          [deps.settings.USERNAME_FIELD]: field(
            deps.settings.USERNAME_FIELD === "email" ? "Email address" : "Username",
          ),
          password: field("Password"),
        },
      },
    }),
    methods: {
      POST: {
        permission: "any",
        doc: {
          summary: "Log in: {refresh, access} (a new JWT session)",
          body: jwtCreateInput,
          ok: { status: 200, description: "Logged in", body: jwtPair },
          errors: {
            401: "Wrong credentials, or an inactive account",
            403: "Too many failed logins for this account (LOGIN_LOCKOUT)",
          },
        },
        run: async (c) => ({ status: 200, body: await createTokens(c.deps, await c.data(), c.meta) }),
      },
    },
  },
  {
    path: "/jwt/refresh/",
    slash: "prefix",
    otherwise: "any",
    authenticates: false,
    tag: "jwt",
    metadata: {
      name: "Token Refresh",
      description:
        "Takes a refresh type JSON web token and returns an access type JSON web\ntoken if the refresh token is valid.",
      actions: {
        POST: {
          refresh: field("Refresh"),
          access: { type: "string", required: false, read_only: true, label: "Access" },
        },
      },
    },
    methods: {
      POST: {
        permission: "any",
        doc: {
          summary:
            "{access}, and a new {refresh} under ROTATE_REFRESH_TOKENS; " +
            "a rotated token presented again ends its session",
          body: refreshInput,
          ok: { status: 200, description: "Refreshed", body: jwtRefreshed },
          errors: { 401: badToken },
        },
        run: async (c) => ({ status: 200, body: await refreshTokens(c.deps, await c.data(), c.meta) }),
      },
    },
  },
  {
    path: "/jwt/verify/",
    slash: "prefix",
    otherwise: "any",
    authenticates: false,
    tag: "jwt",
    metadata: {
      name: "Token Verify",
      description:
        "Takes a token and indicates if it is valid.  This view provides no\n" +
        "information about a token's fitness for a particular use.",
      actions: { POST: { token: field("Token") } },
    },
    methods: {
      POST: {
        permission: "any",
        doc: {
          summary: "{} when the token is valid (any type)",
          body: verifyInput,
          ok: { status: 200, description: "The token is valid", body: empty },
          errors: { 400: "Invalid input; a blacklisted token", 401: badToken },
        },
        run: async (c) => ({ status: 200, body: await verifyToken(c.deps, await c.data()) }),
      },
    },
  },
  {
    path: "/jwt/logout/",
    slash: "optional",
    otherwise: "any",
    authenticates: false,
    tag: "jwt",
    metadata: {
      name: "Token Logout",
      description: "Portcullis extension: ends the session of the given refresh token (its refresh and access tokens).",
      actions: { POST: { refresh: field("Refresh") } },
    },
    methods: {
      POST: {
        permission: "any",
        doc: {
          summary: "Extension: log out one JWT session, given its refresh token",
          body: refreshInput,
          ok: { status: 204, description: "Logged out" },
          errors: { 401: badToken },
        },
        run: async (c) => {
          await logoutRefresh(c.deps, await c.data(), c.meta);
          return { status: 204 };
        },
      },
    },
  },
  {
    path: "/jwt/logout_all/",
    slash: "optional",
    otherwise: "authenticated",
    tag: "jwt",
    metadata: {
      name: "Token Logout All",
      description: "Portcullis extension: ends every JWT session of the authenticated user.",
    },
    methods: {
      POST: {
        permission: "authenticated",
        doc: {
          summary: "Extension: log out of every JWT session (every refresh and access token issued so far)",
          ok: { status: 204, description: "Logged out everywhere" },
        },
        run: async (c) => {
          await logoutAllSessions(c.deps, (c as Authed).principal.user.id, c.meta);
          return { status: 204 };
        },
      },
    },
  },
];
