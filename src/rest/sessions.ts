// Portcullis extension paths (not Djoser's): the caller's sessions under /auth/sessions/.
import { listSessions, revokeSession, revokeSessions } from "../core/sessions/list.ts";
import type { Authed, Call, Reply, RouteSpec, View } from "./drf.ts";

const authed = (summary: string, run: (c: Authed) => Promise<Reply>): View => ({
  permission: "authenticated",
  doc: { summary },
  run: (c: Call) => run(c as Authed),
});
const noContent = { status: 204 };

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
      GET: authed("Extension: list your sessions; `current` marks this one", async (c) => ({
        status: 200,
        body: await listSessions(c.deps, c.principal.user.id, c.principal),
      })),
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
      POST: authed("Extension: end every other session", async (c) => {
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
      POST: authed("Extension: end every session, this one included", async (c) => {
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
      DELETE: authed("Extension: end one session by its id", async (c) => {
        await revokeSession(c.deps, c.principal.user.id, String(c.params.id), c.meta);
        return noContent;
      }),
    },
  },
];
