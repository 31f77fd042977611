// Portcullis extension paths (not Djoser's): the caller's sessions under /auth/sessions/.
import { listSessions, revokeSession, revokeSessions } from "../core/sessions/list.ts";
import type { Authed, Call, Reply, RouteSpec, View } from "./drf.ts";
import { sessionList } from "./openapi.ts";

const authed = (doc: View["doc"], run: (c: Authed) => Promise<Reply>): View => ({
  permission: "authenticated",
  doc,
  run: (c: Call) => run(c as Authed),
});
const noContent = { status: 204 };
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
];
