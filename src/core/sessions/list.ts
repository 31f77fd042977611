// Sessions: what Djoser lacks — a user's sessions (opaque tokens and JWT sessions) listed, ended
// one by one or all at once.
import { AuthError } from "../../errors.ts";
import { audit } from "../audit.ts";
import type { Deps, Principal, RequestMeta } from "../deps.ts";
import type { AuthToken, SessionView } from "../dto.ts";
import { idInPath } from "../inputs.ts";
import { mayManage } from "../users/profile.ts";
import { endJwtSession, endSessions } from "./end.ts";

export type { SessionView };

const iso = (d: Date | null) => (d ? d.toISOString() : null);

type SessionRow = {
  id: number | string;
  created: Date;
  lastUsedAt: Date | null;
  userAgent: string;
  ip: string;
  amr: string;
  authAt: Date;
  provider: string | null;
};

/** Opaque tokens are "t<id>", JWT sessions "j<sid>": one list, told apart by the id's first letter. */
const view = (kind: SessionView["kind"], row: SessionRow, current: boolean): SessionView => ({
  id: `${kind === "token" ? "t" : "j"}${row.id}`,
  kind,
  created: row.created.toISOString(),
  lastUsedAt: iso(row.lastUsedAt),
  userAgent: row.userAgent,
  ip: row.ip,
  current,
  factors: row.amr.split(" ").filter(Boolean),
  authenticatedAt: row.authAt.toISOString(),
  provider: row.provider,
});

/** The user's live sessions, newest first; `current` marks the one the request came in with. */
export async function listSessions(deps: Deps, userId: number, caller?: Principal): Promise<SessionView[]> {
  const [tokens, jwts] = await Promise.all([deps.store.tokens.listOf(userId), deps.store.jwtSessions.live(userId)]);
  const sid = caller?.via === "jwt" ? caller.claims.sid : undefined;
  const views: SessionView[] = [
    ...tokens.map((t) => view("token", t, caller?.via === "token" && caller.tokenId === t.id)),
    ...jwts.map((s) => view("jwt", s, s.id === sid)),
  ];
  return views.sort((a, b) => b.created.localeCompare(a.created));
}

/** Ends one session of the user by its id from listSessions; a session of someone else is "not found". */
export async function revokeSession(
  deps: Deps,
  userId: number,
  id: string,
  meta: RequestMeta,
  by = userId,
): Promise<void> {
  let ended = 0;
  const tokenId = id.startsWith("t") ? idInPath(id.slice(1)) : null;
  if (tokenId !== null) {
    ended = await deps.store.tokens.revoke(userId, tokenId);
  } else if (/^j[0-9a-f]{32}$/.test(id)) {
    ended = await endJwtSession(deps, id.slice(1), "revoked", userId, true);
  }
  if (!ended) throw new AuthError("not_found", "No such session.");
  await audit(deps, "session_revoked", meta, userId, { session: id, by });
}

/**
 * Ends the user's sessions (all, or all but the caller's) and records who did it. A caller on the
 * shared key gets a new one back (every device held the old one); null otherwise.
 */
export async function revokeSessions(
  deps: Deps,
  userId: number,
  meta: RequestMeta,
  opts: { keep?: Principal; by?: number } = {},
): Promise<AuthToken | null> {
  if (!(await deps.store.users.exists(userId))) throw new AuthError("not_found", "No such user.");
  const { key } = await endSessions(deps, userId, "revoked", { keep: opts.keep });
  await audit(deps, "session_revoked", meta, userId, {
    session: opts.keep ? "all others" : "all",
    by: opts.by ?? userId,
  });
  return key ? { auth_token: key } : null;
}

/**
 * Staff acting on another user's sessions: only a user they may manage (users.ts mayManage), so a
 * staff member cannot see where a superuser is signed in, nor sign a superuser out. Null: no such user.
 */
async function managedUser(deps: Deps, actor: Principal, userId: number): Promise<{ id: number } | null> {
  if (!actor.user.isStaff) throw new AuthError("permission_denied");
  const target = await deps.store.users.rank(userId);
  if (target && !mayManage(actor.user, target)) throw new AuthError("permission_denied");
  return target;
}

/** Staff: a user's live sessions (none is "current"); no such user has none. */
export async function listSessionsFor(deps: Deps, actor: Principal, userId: number): Promise<SessionView[]> {
  return (await managedUser(deps, actor, userId)) ? listSessions(deps, userId) : [];
}

/** Staff: ends every session of a user. */
export async function revokeSessionsFor(deps: Deps, actor: Principal, userId: number, meta: RequestMeta) {
  if (!(await managedUser(deps, actor, userId))) throw new AuthError("not_found", "No such user.");
  await revokeSessions(deps, userId, meta, { by: actor.user.id });
}
