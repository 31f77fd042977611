// What the session tests check after each step: which credentials still work, how an ended one
// is refused, and the session list's shape; and a user signed in four times, two of each kind.
import { expect } from "vitest";
import type { SessionView } from "../../../src/core/sessions/list.ts";
import type { Adapter } from "../../helpers/adapters.ts";
import { type Auth, bearer, type Pair, type Server, tokenAuth } from "../../helpers/fixture.ts";

export const INVALID_TOKEN = { detail: "Invalid token." };
export const BLACKLISTED = { detail: "Token is blacklisted", code: "token_not_valid" };
export const ACCESS_BLACKLISTED = {
  detail: "Given token not valid for any token type",
  code: "token_not_valid",
  messages: [{ token_class: "AccessToken", token_type: "access", message: "Token is blacklisted" }],
};
export const VIEW_KEYS = [
  "authenticatedAt",
  "created",
  "current",
  "factors",
  "id",
  "ip",
  "kind",
  "lastUsedAt",
  "provider",
  "userAgent",
];
const IP = /^(127\.0\.0\.1|::ffff:127\.0\.0\.1)$/;

export const refresh = (s: Server, token: string) =>
  s.request("POST", "/auth/jwt/refresh/", { json: { refresh: token } });

export async function expectTokenWorks(s: Server, key: string) {
  const res = await s.me(tokenAuth(key));
  expect(res.status, res.text).toBe(200);
}

/** An opaque token that no longer exists: DRF's 401 "Invalid token.". */
export async function expectTokenRefused(s: Server, key: string) {
  const res = await s.me(tokenAuth(key));
  expect(res.status).toBe(401);
  expect(res.json).toEqual(INVALID_TOKEN);
  expect(res.headers.get("www-authenticate")).toBe("Token");
}

export async function expectJwtWorks(s: Server, pair: Pair) {
  const res = await s.me(bearer(pair.access));
  expect(res.status, res.text).toBe(200);
  const refreshed = await refresh(s, pair.refresh);
  expect(refreshed.status, refreshed.text).toBe(200);
}

/** An ended JWT session: its refresh token is blacklisted and its access token refused. */
export async function expectJwtEnded(s: Server, pair: Pair) {
  const refreshed = await refresh(s, pair.refresh);
  expect(refreshed.status).toBe(401);
  expect(refreshed.json).toEqual(BLACKLISTED);
  const access = await s.me(bearer(pair.access));
  expect(access.status).toBe(401);
  expect(access.json).toEqual(ACCESS_BLACKLISTED);
}

/** The session list as it comes, checked for shape. */
export async function listOf(a: Adapter, auth: Auth): Promise<SessionView[]> {
  const res = await a.listSessions(auth);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const views = res.body as SessionView[];
  for (const v of views) {
    expect(Object.keys(v).sort()).toEqual(VIEW_KEYS);
    expect(v.id).toMatch(v.kind === "token" ? /^t\d+$/ : /^j[0-9a-f]{32}$/);
    expect(v.ip).toMatch(IP);
    // A password login's session, signed in no later than it was created (a shared key's row
    // takes each login's time).
    expect(v.factors).toEqual(["pwd"]);
    expect(Date.parse(v.authenticatedAt)).toBeGreaterThanOrEqual(Date.parse(v.created));
  }
  // Newest first.
  const created = views.map((v) => v.created);
  expect(created).toEqual([...created].sort().reverse());
  return views;
}

export const byAgent = (views: SessionView[], ua: string): SessionView => {
  const found = views.filter((v) => v.userAgent === ua);
  expect(found, ua).toHaveLength(1);
  return found[0]!;
};

/** A user with two opaque tokens (per-device mode) and two JWT sessions, each logged in with its own User-Agent. */
export async function fourSessions(s: Server, a: Adapter, username: string) {
  const id = await s.signUp(username);
  const ua = {
    t1: `Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0 ${username}-laptop`,
    t2: `curl/8.5.0 ${username}-script`,
    j1: `MyApp/2.3 (iPhone; iOS 17.4) ${username}-phone`,
    j2: `MyApp/2.3 (Android 14) ${username}-tablet`,
  };
  const k1 = await a.tokenLogin(username, ua.t1);
  const k2 = await a.tokenLogin(username, ua.t2);
  expect(k2).not.toBe(k1);
  const j1 = await a.jwtLogin(username, ua.j1);
  const j2 = await a.jwtLogin(username, ua.j2);
  return { id, ua, k1, k2, j1, j2 };
}
