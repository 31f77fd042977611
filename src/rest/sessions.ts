// Portcullis extension paths (not Djoser's): the caller's sessions under /auth/sessions/.

import { z } from "zod";
import { reauthenticate, reauthenticateFields } from "../core/login/reauthenticate.ts";
import { listSessions, revokeSession, revokeSessions } from "../core/sessions/list.ts";
import type { Authed, Call, Reply, RouteSpec, View } from "./drf.ts";
import { sessionList } from "./openapi.ts";

const authed = (doc: View["doc"], run: (c: Authed) => Promise<Reply>): View => ({
  permission: "authenticated",
  doc,
  run: (c: Call) => run(c as Authed),
});
const noContent = { status: 204 };
const reauthenticated = z.object({
  factors: z.array(z.string()),
  authenticatedAt: z.string(),
  validUntil: z.string().describe("Until when sensitive actions need no new proof (REAUTHENTICATION_TIMEOUT)"),
});
const ended = { status: 204, description: "Ended" };

export const sessionRoutes: RouteSpec[] = [
  {
    path: "/sessions/",
    slash: "append",
    otherwise: "authenticated",
    tag: "sessions",
    metadata: {
      name: "Session List",
      description: "Portcullis extension: the caller's sessions (opaque tokens and JWT sessions).",
    },
    methods: {
      GET: authed(
        {
          summary: "Extension: list your sessions; `current` marks this one",
          ok: { status: 200, description: "Your sessions, newest first", body: sessionList },
        },
        async (c) => ({
          status: 200,
          body: await listSessions(c.deps, c.principal.user.id, c.principal),
        }),
      ),
    },
  },
  {
    path: "/sessions/revoke_others/",
    slash: "append",
    otherwise: "authenticated",
    tag: "sessions",
    metadata: {
      name: "Session Revoke Others",
      description: "Portcullis extension: ends every session of the caller but this one.",
    },
    methods: {
      POST: authed({ summary: "Extension: end every other session", ok: ended }, async (c) => {
        await revokeSessions(c.deps, c.principal.user.id, c.meta, { keep: c.principal });
        return noContent;
      }),
    },
  },
  {
    path: "/sessions/revoke_all/",
    slash: "append",
    otherwise: "authenticated",
    tag: "sessions",
    metadata: {
      name: "Session Revoke All",
      description: "Portcullis extension: ends every session of the caller, this one included.",
    },
    methods: {
      POST: authed({ summary: "Extension: end every session, this one included", ok: ended }, async (c) => {
        await revokeSessions(c.deps, c.principal.user.id, c.meta);
        return noContent;
      }),
    },
  },
  {
    path: "/sessions/:id/",
    slash: "append",
    otherwise: "authenticated",
    tag: "sessions",
    metadata: { name: "Session Instance", description: "Portcullis extension: one of the caller's sessions." },
    methods: {
      DELETE: authed(
        { summary: "Extension: end one session by its id", ok: ended, errors: { 404: "No such session of yours" } },
        async (c) => {
          await revokeSession(c.deps, c.principal.user.id, String(c.params.id), c.meta);
          return noContent;
        },
      ),
    },
  },
  {
    path: "/reauthenticate/",
    slash: "append",
    otherwise: "authenticated",
    tag: "sessions",
    metadata: {
      name: "Reauthenticate",
      description: "Portcullis extension: prove a factor again, so the session counts as freshly signed in.",
    },
    methods: {
      POST: authed(
        {
          summary: "Extension: re-authenticate ({password}, or {code} with MFA on) for sensitive actions",
          body: () => reauthenticateFields,
          ok: { status: 200, description: "Renewed", body: reauthenticated },
          errors: { 400: "Wrong password or code, or a password where a second factor is needed" },
        },
        async (c) => ({ status: 200, body: await reauthenticate(c.deps, c.principal, await c.data(), c.meta) }),
      ),
    },
  },
];
