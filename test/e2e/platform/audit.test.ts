// The audit log end to end: every kind of event produced by driving the real endpoints (REST and
// tRPC), each with the right user, IP, User-Agent and time; audit.list for staff with its filters
// and cursor pagination; and no secret — password, key, JWT, mailed link, hash — reaching either
// the audit log or the server's log. Over PGlite and PostgreSQL.
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIT_KINDS, type AuditKind } from "../../../src/core/audit.ts";
import { uidToken } from "../../helpers/mail.ts";
import { createStaff, DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";
import { type Client, failure, trpcClient } from "../../helpers/trpc.ts";

// Every password the test types, right or wrong: none may be recorded anywhere.
const PW = {
  ann: "Kq7!vLp2#Zx9",
  annTypo: "Kq7!vLp2#Zx8", // a near miss, the kind a log must not keep either
  annChanged: "Wb3$nTr8@Hy5",
  annReset: "Zm6^cQe1&Uo4",
  bob: "Fj4%sDg7*Kl2x",
  boss: "B0ss-Passw0rd!",
};
const IP = /^(127\.0\.0\.1|::ffff:127\.0\.0\.1)$/;
const BLACKLISTED = { detail: "Token is blacklisted", code: "token_not_valid" };
const SLACK_MS = 1500; // between the test's clock and the database's

type Pair = { refresh: string; access: string };
type Expected = { kind: AuditKind; userId: number | null; data: Record<string, unknown> };
type Step = { label: string; ua: string; t0: number; t1: number; expected: Expected[] };
type Listed = Awaited<ReturnType<Client["audit"]["list"]["query"]>>["events"][number];

const tokenAuth = (key: string) => ({ authorization: `Token ${key}` });
const bearer = (access: string) => ({ authorization: `Bearer ${access}` });
const sidOf = (jwt: string): string => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8")).sid;
/** How sessions are named everywhere (sessions.list ids and audit data): "j" + the JWT's sid. */
const sessionIdOf = (jwt: string) => `j${sidOf(jwt)}`;

/**
 * Drives every flow that records an event, each request with a User-Agent of its own step, and
 * keeps every secret it sees along the way (passwords, keys, JWTs, mailed links, hashes, seeds).
 */
async function drive(s: TestServer) {
  const steps: Step[] = [];
  const secrets = new Map<string, string>(); // value → what it is
  const keep = (what: string, value: string | null | undefined) => {
    if (value) secrets.set(value, what);
  };
  const keepJwt = (what: string, token: string) => {
    const [, payload, signature] = token.split(".");
    keep(`${what} (whole JWT)`, token);
    keep(`${what} (payload segment)`, payload);
    keep(`${what} (signature segment)`, signature);
  };
  const keepPair = (what: string, pair: { access: string; refresh?: string }) => {
    keepJwt(`${what} access`, pair.access);
    if (pair.refresh) keepJwt(`${what} refresh`, pair.refresh);
  };
  // Hashes and seeds change as the flows run: snapshot them after every step.
  const snapshot = async () => {
    for (const u of await s.deps.prisma.user.findMany({
      select: { username: true, password: true, tokenSeed: true },
    })) {
      keep(`password hash of ${u.username}`, u.password);
      for (const part of u.password.split("$").filter((p) => p.length >= 16))
        keep(`password hash part of ${u.username}`, part);
      keep(`token seed of ${u.username}`, u.tokenSeed);
    }
  };
  for (const [name, value] of Object.entries(PW)) keep(`password ${name}`, value);
  keep("SECRET_KEY", s.settings.SECRET_KEY);

  async function step<T>(
    label: string,
    run: (ua: string) => Promise<T>,
    expected: (result: T) => Expected[],
  ): Promise<T> {
    const ua = `PortcullisAuditTest/1.0 (step ${String(steps.length + 1).padStart(2, "0")}: ${label})`;
    const t0 = Date.now();
    const result = await run(ua);
    steps.push({ label, ua, t0, t1: Date.now(), expected: expected(result) });
    await snapshot();
    return result;
  }
  const req = async (
    ua: string,
    method: string,
    path: string,
    init: { json?: unknown; auth?: Record<string, string> } = {},
  ) => s.request(method, path, { json: init.json, headers: { "user-agent": ua, ...init.auth } });
  const as = (ua: string, auth: Record<string, string> = {}) => trpcClient(s, { "user-agent": ua, ...auth });
  const status = async (expected: number, res: Promise<{ status: number; text: string; json: any }>) => {
    const r = await res;
    expect(r.status, r.text).toBe(expected);
    return r.json;
  };
  const latestLink = (to: string, part: string) => {
    const link = s
      .mails()
      .filter((m) => m.to === to)
      .flatMap((m) => m.links)
      .filter((l) => l.includes(part))
      .at(-1);
    expect(link, `${part} link mailed to ${to}`).toBeDefined();
    return uidToken(link!);
  };
  const tokenLogin = (username: string, password: string) => (ua: string) =>
    status(200, req(ua, "POST", "/auth/token/login/", { json: { username, password } })).then(
      (b) => b.auth_token as string,
    );
  const jwtLogin = (username: string, password: string) => (ua: string) =>
    status(200, req(ua, "POST", "/auth/jwt/create/", { json: { username, password } })) as Promise<Pair>;
  const ok = (method: "token" | "jwt", login: string, userId: number): Expected[] => [
    { kind: "login_succeeded", userId, data: { method, login } },
  ];

  // Registration and activation (SEND_ACTIVATION_EMAIL): REST for ann, tRPC for bob.
  const annId = (
    await step(
      "register ann",
      (ua) =>
        status(
          201,
          req(ua, "POST", "/auth/users/", { json: { username: "ann", email: "ann@example.com", password: PW.ann } }),
        ),
      () => [],
    )
  ).id as number;
  await step(
    "activate ann (REST)",
    (ua) =>
      status(204, req(ua, "POST", "/auth/users/activation/", { json: latestLink("ann@example.com", "/activate/") })),
    () => [{ kind: "activation", userId: annId, data: {} }],
  );
  const bobId = (
    await step(
      "register bob (tRPC)",
      (ua) => as(ua).users.create.mutate({ username: "bob", email: "bob@example.com", password: PW.bob }),
      () => [],
    )
  ).id;
  await step(
    "activate bob (tRPC)",
    (ua) => as(ua).users.activate.mutate(latestLink("bob@example.com", "/activate/")),
    () => [{ kind: "activation", userId: bobId, data: {} }],
  );
  const bossId = (await createStaff(s, "boss", PW.boss, "boss@example.com")).id;
  await snapshot();
  const bossKey = await step("boss logs in", tokenLogin("boss", PW.boss), () => ok("token", "boss", bossId));
  keep("boss's key", bossKey);

  // Logins, right and wrong, with both kinds of credentials.
  const annKey = await step("ann token login (REST)", tokenLogin("ann", PW.ann), () => ok("token", "ann", annId));
  keep("ann's key", annKey);
  const typo = await step(
    "ann token login, wrong password (tRPC)",
    (ua) => failure(as(ua).token.login.mutate({ username: "ann", password: PW.annTypo })),
    () => [{ kind: "login_failed", userId: annId, data: { method: "token", login: "ann" } }],
  );
  expect(typo.data?.code).toBe("invalid_credentials");
  const a = await step("ann jwt login (REST)", jwtLogin("ann", PW.ann), () => ok("jwt", "ann", annId));
  keepPair("session A", a);
  await step(
    "ann jwt login, wrong password (REST)",
    (ua) => status(401, req(ua, "POST", "/auth/jwt/create/", { json: { username: "ann", password: PW.annTypo } })),
    () => [{ kind: "login_failed", userId: annId, data: { method: "jwt", login: "ann" } }],
  );
  await step(
    "an unknown user's jwt login (tRPC)",
    (ua) => failure(as(ua).jwt.create.mutate({ username: "nobody", password: PW.annTypo })),
    () => [{ kind: "login_failed", userId: null, data: { method: "jwt" } }],
  );

  // Refresh with rotation, then the rotated token again: reuse detected, the session ends.
  const a2 = await step(
    "refresh session A (tRPC)",
    (ua) => as(ua).jwt.refresh.mutate({ refresh: a.refresh }),
    () => [{ kind: "token_refreshed", userId: annId, data: { method: "jwt", session: sessionIdOf(a.refresh) } }],
  );
  keepPair("session A, rotated", a2);
  expect(
    await step(
      "present A's first refresh token again (REST)",
      (ua) => status(401, req(ua, "POST", "/auth/jwt/refresh/", { json: { refresh: a.refresh } })),
      () => [
        { kind: "refresh_reuse_detected", userId: annId, data: { method: "jwt", session: sessionIdOf(a.refresh) } },
      ],
    ),
  ).toEqual(BLACKLISTED);

  // Logouts: token, jwt, and everywhere (jwt and token).
  await step(
    "ann token logout (REST)",
    (ua) => status(204, req(ua, "POST", "/auth/token/logout/", { auth: tokenAuth(annKey) })),
    () => [{ kind: "logout", userId: annId, data: { method: "token" } }],
  );
  const b = await step(
    "ann jwt login (tRPC)",
    (ua) => as(ua).jwt.create.mutate({ username: "ann", password: PW.ann }),
    () => ok("jwt", "ann", annId),
  );
  keepPair("session B", b);
  await step(
    "ann jwt logout (REST)",
    (ua) => status(204, req(ua, "POST", "/auth/jwt/logout/", { json: { refresh: b.refresh } })),
    () => [{ kind: "logout", userId: annId, data: { method: "jwt", session: sessionIdOf(b.refresh) } }],
  );
  const c = await step("ann jwt login C (REST)", jwtLogin("ann", PW.ann), () => ok("jwt", "ann", annId));
  const d = await step("ann jwt login D (REST)", jwtLogin("ann", PW.ann), () => ok("jwt", "ann", annId));
  keepPair("session C", c);
  keepPair("session D", d);
  await step(
    "ann jwt logout_all (REST)",
    (ua) => status(204, req(ua, "POST", "/auth/jwt/logout_all/", { auth: bearer(c.access) })),
    () => [{ kind: "logout_all", userId: annId, data: { method: "jwt", sessions: 2 } }],
  );
  const k2 = (
    await step(
      "ann token login (tRPC)",
      (ua) => as(ua).token.login.mutate({ username: "ann", password: PW.ann }),
      () => ok("token", "ann", annId),
    )
  ).auth_token;
  keep("ann's second key", k2);
  expect(
    await step(
      "ann token.logoutAll (tRPC)",
      (ua) => as(ua, tokenAuth(k2)).token.logoutAll.mutate(),
      () => [{ kind: "logout_all", userId: annId, data: { method: "token", sessions: 1 } }],
    ),
  ).toEqual({ revoked: 1 });

  // Password: changed, then reset by mail.
  const k3 = await step("ann token login before set_password", tokenLogin("ann", PW.ann), () =>
    ok("token", "ann", annId),
  );
  keep("ann's third key", k3);
  const wrong = await step(
    "ann set_password, wrong current_password (tRPC)",
    (ua) =>
      failure(
        as(ua, tokenAuth(k3)).users.setPassword.mutate({ new_password: PW.annChanged, current_password: PW.annTypo }),
      ),
    () => [{ kind: "password_check_failed", userId: annId, data: { failures: 1 } }],
  );
  expect(wrong.data?.fields).toEqual({ current_password: ["Invalid password."] });
  await step(
    "ann set_password (REST)",
    (ua) =>
      status(
        204,
        req(ua, "POST", "/auth/users/set_password/", {
          auth: tokenAuth(k3),
          json: { new_password: PW.annChanged, current_password: PW.ann },
        }),
      ),
    () => [{ kind: "password_changed", userId: annId, data: { reason: expect.any(String) } }],
  );
  await step(
    "reset_password for ann (tRPC)",
    (ua) => as(ua).users.resetPassword.mutate({ email: "ann@example.com" }),
    () => [{ kind: "password_reset_requested", userId: annId, data: { login: "ann@example.com" } }],
  );
  await step(
    "reset_password for an unknown email (REST)",
    (ua) => status(204, req(ua, "POST", "/auth/users/reset_password/", { json: { email: "nobody@example.com" } })),
    () => [
      {
        kind: "password_reset_requested",
        userId: null,
        data: { login: "nobody@example.com", reason: expect.any(String) },
      },
    ],
  );
  const resetLink = latestLink("ann@example.com", "/password/reset/confirm/");
  await step(
    "reset_password_confirm (REST)",
    (ua) =>
      status(
        204,
        req(ua, "POST", "/auth/users/reset_password_confirm/", { json: { ...resetLink, new_password: PW.annReset } }),
      ),
    () => [{ kind: "password_reset_confirmed", userId: annId, data: { reason: expect.any(String) } }],
  );

  // Username: changed, then reset by mail.
  const k4 = await step("ann token login after the reset", tokenLogin("ann", PW.annReset), () =>
    ok("token", "ann", annId),
  );
  keep("ann's fourth key", k4);
  await step(
    "ann set_username (REST)",
    (ua) =>
      status(
        204,
        req(ua, "POST", "/auth/users/set_username/", {
          auth: tokenAuth(k4),
          json: { new_username: "ann2", current_password: PW.annReset },
        }),
      ),
    () => [{ kind: "username_changed", userId: annId, data: {} }],
  );
  await step(
    "reset_username for ann (REST)",
    (ua) => status(204, req(ua, "POST", "/auth/users/reset_username/", { json: { email: "ann@example.com" } })),
    () => [{ kind: "username_reset_requested", userId: annId, data: { login: "ann@example.com" } }],
  );
  const usernameLink = latestLink("ann@example.com", "/username/reset/confirm/");
  await step(
    "reset_username_confirm (tRPC)",
    (ua) => as(ua).users.resetUsernameConfirm.mutate({ ...usernameLink, new_username: "ann3" }),
    () => [{ kind: "username_reset_confirmed", userId: annId, data: {} }],
  );

  // Sessions ended by their owner (one by id through each adapter, all others, all) and by staff.
  const k5 = await step("ann3 token login", tokenLogin("ann3", PW.annReset), () => ok("token", "ann3", annId));
  keep("ann's fifth key", k5);
  const e = await step("ann3 jwt login E", jwtLogin("ann3", PW.annReset), () => ok("jwt", "ann3", annId));
  keepPair("session E", e);
  await step(
    "revoke session E by id (REST)",
    (ua) => status(204, req(ua, "DELETE", `/auth/sessions/j${sidOf(e.refresh)}/`, { auth: tokenAuth(k5) })),
    () => [{ kind: "session_revoked", userId: annId, data: { session: `j${sidOf(e.refresh)}`, by: annId } }],
  );
  const f = await step("ann3 jwt login F", jwtLogin("ann3", PW.annReset), () => ok("jwt", "ann3", annId));
  keepPair("session F", f);
  const tokenSession = (await trpcClient(s, tokenAuth(k5)).sessions.list.query()).find((v) => v.kind === "token")!.id;
  await step(
    "revoke the token session by id (tRPC)",
    (ua) => as(ua, bearer(f.access)).sessions.revoke.mutate({ id: tokenSession }),
    () => [{ kind: "session_revoked", userId: annId, data: { session: tokenSession, by: annId } }],
  );
  keep(
    "ann's sixth key",
    await step("ann3 token login again", tokenLogin("ann3", PW.annReset), () => ok("token", "ann3", annId)),
  );
  await step(
    "revoke_others (tRPC)",
    (ua) => as(ua, bearer(f.access)).sessions.revokeOthers.mutate(),
    () => [{ kind: "session_revoked", userId: annId, data: { session: "all others", by: annId } }],
  );
  await step(
    "revoke_all (REST)",
    (ua) => status(204, req(ua, "POST", "/auth/sessions/revoke_all/", { auth: bearer(f.access) })),
    () => [{ kind: "session_revoked", userId: annId, data: { session: "all", by: annId } }],
  );
  keep("bob's key", await step("bob token login", tokenLogin("bob", PW.bob), () => ok("token", "bob", bobId)));
  await step(
    "staff revokeAllFor bob (tRPC)",
    (ua) => as(ua, tokenAuth(bossKey)).sessions.revokeAllFor.mutate({ userId: bobId }),
    () => [{ kind: "session_revoked", userId: bobId, data: { session: "all", by: bossId } }],
  );
  keepPair("bob's session", await step("bob jwt login", jwtLogin("bob", PW.bob), () => ok("jwt", "bob", bobId)));
  await step(
    "staff deactivates bob (tRPC)",
    (ua) => as(ua, tokenAuth(bossKey)).users.setActive.mutate({ id: bobId, active: false }),
    () => [{ kind: "session_revoked", userId: bobId, data: { session: "all", reason: "deactivated", by: bossId } }],
  );

  // Ann, signed in, to show that a non-staff caller cannot read the log.
  const annFinal = await step("ann3 logs in to read the audit log", tokenLogin("ann3", PW.annReset), () =>
    ok("token", "ann3", annId),
  );
  keep("ann's last key", annFinal);

  // An email change: asked for (nothing recorded yet), confirmed by the link mailed to the new address.
  const newEmail = { email: "ann@new.example", current_password: PW.annReset };
  await step(
    "ann asks to change her email (REST)",
    (ua) => status(200, req(ua, "PATCH", "/auth/users/me/", { auth: tokenAuth(annFinal), json: newEmail })),
    () => [],
  );
  const emailLink = latestLink("ann@new.example", "/activate/");
  await step(
    "the new address confirms (tRPC)",
    (ua) => as(ua).users.activate.mutate(emailLink),
    () => [{ kind: "email_changed", userId: annId, data: { reason: expect.any(String) } }],
  );

  // Every mailed link's uid/token (activation ×2, password reset, username reset, email change).
  let links = 0;
  for (const mail of s.mails()) {
    for (const link of mail.links.filter((l) => /\/(activate|confirm)\//.test(l))) {
      const { uid, token } = uidToken(link);
      keep(`mailed token (${mail.subject})`, token);
      keep(`mailed uid/token (${mail.subject})`, `${uid}/${token}`);
      links++;
    }
  }
  expect(links).toBe(5);
  return { steps, secrets, ids: { ann: annId, bob: bobId, boss: bossId }, keys: { boss: bossKey, ann: annFinal } };
}

describe.each(DATABASES)("audit log on %s", (kind) => {
  let s: TestServer;
  let run: Awaited<ReturnType<typeof drive>>;
  let boss: Client;
  const logLines: string[] = [];

  beforeAll(async () => {
    // No grace window (REFRESH_TOKEN_REUSE_INTERVAL=0): presenting a rotated token again is reuse at once.
    s = await startTestServer(kind, {
      DJOSER_SEND_ACTIVATION_EMAIL: "true",
      SIMPLE_JWT_ROTATE_REFRESH_TOKENS: "true",
      SIMPLE_JWT_REFRESH_TOKEN_REUSE_INTERVAL: "0",
      LOG_LEVEL: "trace",
    });
    // test/helpers/server.ts has no log hook; the logger's destination is swapped for an array
    // (pino.symbols.streamSym; request loggers are children and inherit it). Only the start-up
    // lines, logged before this point, go to stdout.
    (s.deps.log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = {
      write: (line: string) => void logLines.push(line),
    };
    run = await drive(s);
    boss = trpcClient(s, tokenAuth(run.keys.boss));
  });
  afterAll(async () => s?.stop());

  it("every kind but lockout is produced by the real endpoints, each with its user, IP, User-Agent, data and time", async () => {
    const rows = await s.deps.prisma.auditEvent.findMany({ orderBy: { id: "asc" } });
    const byUa = new Map(run.steps.map((st) => [st.ua, st]));
    // Every event comes from a step of ours (nothing recorded twice or out of place)…
    for (const row of rows)
      expect(byUa.has(row.userAgent), `${row.kind} from ${JSON.stringify(row.userAgent)}`).toBe(true);
    // …and each step recorded exactly what it should have.
    for (const st of run.steps) {
      const got = rows.filter((r) => r.userAgent === st.ua);
      expect(
        got.map((r) => ({ kind: r.kind, userId: r.userId, data: r.data })),
        st.label,
      ).toEqual(st.expected);
      for (const r of got) {
        expect(r.ip, st.label).toMatch(IP);
        expect(r.at.getTime(), st.label).toBeGreaterThanOrEqual(st.t0 - SLACK_MS);
        expect(r.at.getTime(), st.label).toBeLessThanOrEqual(st.t1 + SLACK_MS);
      }
    }
    const produced = new Set(rows.map((r) => r.kind));
    expect([...produced].filter((k) => !(AUDIT_KINDS as readonly string[]).includes(k))).toEqual([]);
    // "lockout" arrives with the throttling work; any other kind left unproduced is a gap in this test.
    expect(AUDIT_KINDS.filter((k) => !produced.has(k))).toEqual(["lockout"]);
    for (const k of ["login_succeeded", "login_failed", "logout", "logout_all"] as const) {
      for (const method of ["token", "jwt"]) {
        expect(
          rows.some((r) => r.kind === k && (r.data as { method?: string }).method === method),
          `${k} by ${method}`,
        ).toBe(true);
      }
    }
  });

  it("audit.list: staff only; anonymous is UNAUTHORIZED, a regular user FORBIDDEN; bad input is invalid_input", async () => {
    const anon = await failure(trpcClient(s).audit.list.query({}));
    expect(anon.data?.code).toBe("not_authenticated");
    expect(anon.data?.httpStatus).toBe(401);
    const ann = await failure(trpcClient(s, tokenAuth(run.keys.ann)).audit.list.query({ userId: run.ids.ann }));
    expect(ann.data?.code).toBe("permission_denied");
    expect(ann.data?.httpStatus).toBe(403);
    expect(ann.shape?.code).toBe(-32003); // FORBIDDEN
    expect(ann.message).toBe("You do not have permission to perform this action.");
    const bad = [
      { limit: 0 },
      { limit: 501 },
      { cursor: 0 },
      { userId: 0 },
      { kind: "nope" as AuditKind },
      { from: "yesterday" },
      { to: "2026-01-01" },
      { from: "2026-01-01T00:00:00" },
    ];
    for (const input of bad) {
      const err = await failure(boss.audit.list.query(input));
      expect(err.data?.code, JSON.stringify(input)).toBe("invalid_input");
      expect(err.data?.httpStatus).toBe(400);
    }
  });

  it("audit.list: everything newest first; pages of any size cover every event exactly once", async () => {
    const rows = await s.deps.prisma.auditEvent.findMany({ orderBy: { id: "desc" } });
    const expected: Listed[] = rows.map((r) => ({
      id: r.id,
      at: r.at.toISOString(),
      kind: r.kind as AuditKind,
      userId: r.userId,
      ip: r.ip,
      userAgent: r.userAgent,
      data: r.data as Listed["data"],
    }));
    expect(expected.length).toBeGreaterThan(30);
    const all = await boss.audit.list.query({ limit: 500 });
    expect(all).toEqual({ events: expected, nextCursor: null });
    // Newest first: ids strictly descending, times never increasing.
    for (let i = 1; i < all.events.length; i++) {
      expect(all.events[i]!.id).toBeLessThan(all.events[i - 1]!.id);
      expect(Date.parse(all.events[i]!.at)).toBeLessThanOrEqual(Date.parse(all.events[i - 1]!.at));
    }
    // The default page is 50.
    expect((await boss.audit.list.query({})).events).toEqual(expected.slice(0, 50));

    for (const limit of [1, 3, 7, expected.length - 1, expected.length]) {
      const { events, pages } = await paginate(boss, {}, limit);
      expect(events, `limit ${limit}`).toEqual(expected);
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
      expect(pages, `limit ${limit}`).toBe(Math.ceil(expected.length / limit));
    }
    // A cursor in the middle starts just below it.
    const middle = expected[10]!.id;
    expect((await boss.audit.list.query({ cursor: middle, limit: 5 })).events).toEqual(expected.slice(11, 16));
  });

  it("audit.list filters by user, by kind, and both, with pagination", async () => {
    const everything = (await boss.audit.list.query({ limit: 500 })).events;
    for (const userId of [run.ids.ann, run.ids.bob, run.ids.boss]) {
      const mine = everything.filter((e) => e.userId === userId);
      expect(mine.length).toBeGreaterThan(0);
      expect((await boss.audit.list.query({ userId, limit: 500 })).events).toEqual(mine);
      expect((await paginate(boss, { userId }, 4)).events).toEqual(mine);
    }
    expect((await boss.audit.list.query({ userId: 2_000_000_000 })).events).toEqual([]);
    for (const kind of AUDIT_KINDS) {
      const ofKind = everything.filter((e) => e.kind === kind);
      expect((await boss.audit.list.query({ kind, limit: 500 })).events, kind).toEqual(ofKind);
    }
    const annLogins = everything.filter((e) => e.userId === run.ids.ann && e.kind === "login_succeeded");
    expect(annLogins.length).toBeGreaterThan(5);
    expect((await paginate(boss, { userId: run.ids.ann, kind: "login_succeeded" }, 2)).events).toEqual(annLogins);
    // A failed login names the account aimed at (for lockout and for staff), and keeps the login
    // name only then: a name that matches no account may be a password typed in the wrong field.
    expect((await boss.audit.list.query({ kind: "login_failed" })).events.map((e) => [e.userId, e.data.login])).toEqual(
      [
        [null, undefined],
        [run.ids.ann, "ann"],
        [run.ids.ann, "ann"],
      ],
    );
    expect((await boss.audit.list.query({ kind: "login_failed", userId: run.ids.ann })).events).toHaveLength(2);
  });

  it("audit.list filters by a time window: from inclusive, to exclusive, any UTC offset", async () => {
    const everything = (await boss.audit.list.query({ limit: 500 })).events;
    const times = [...new Set(everything.map((e) => e.at))].sort();
    expect(times.length).toBeGreaterThan(10);
    const from = times[Math.floor(times.length / 3)]!;
    const to = times[Math.floor((2 * times.length) / 3)]!;
    const inWindow = everything.filter((e) => e.at >= from && e.at < to);
    expect(inWindow.length).toBeGreaterThan(0);
    expect(inWindow.length).toBeLessThan(everything.length);
    expect(inWindow.some((e) => e.at === from)).toBe(true);
    expect((await boss.audit.list.query({ from, to, limit: 500 })).events).toEqual(inWindow);
    expect((await paginate(boss, { from, to }, 3)).events).toEqual(inWindow);
    expect((await boss.audit.list.query({ from, limit: 500 })).events).toEqual(everything.filter((e) => e.at >= from));
    expect((await boss.audit.list.query({ to, limit: 500 })).events).toEqual(everything.filter((e) => e.at < to));
    // The same instants written at +02:00.
    const plus2 = (iso: string) => new Date(Date.parse(iso) + 2 * 3600_000).toISOString().replace("Z", "+02:00");
    expect((await boss.audit.list.query({ from: plus2(from), to: plus2(to), limit: 500 })).events).toEqual(inWindow);
    // Combined with the other filters.
    const annIn = inWindow.filter((e) => e.userId === run.ids.ann);
    expect((await boss.audit.list.query({ from, to, userId: run.ids.ann, limit: 500 })).events).toEqual(annIn);
    // An empty window, and one wholly in the future.
    expect((await boss.audit.list.query({ from: to, to: from })).events).toEqual([]);
    expect((await boss.audit.list.query({ from: new Date(Date.now() + 3600_000).toISOString() })).events).toEqual([]);
  });

  it("no secret reaches the audit log or the server's log: passwords, keys, JWTs and their segments, mailed links, hashes, seeds", async () => {
    const kinds = (what: string) => [...run.secrets.values()].filter((w) => w.includes(what)).length;
    // The test saw what it meant to look for.
    expect(kinds("password ")).toBeGreaterThanOrEqual(Object.keys(PW).length);
    expect(kinds("key")).toBeGreaterThanOrEqual(6);
    expect(kinds("signature segment")).toBeGreaterThanOrEqual(16);
    expect(kinds("whole JWT")).toBeGreaterThanOrEqual(16);
    expect(kinds("mailed token")).toBe(5);
    expect(kinds("password hash of ann")).toBeGreaterThanOrEqual(3); // registration, set_password, reset
    expect(kinds("token seed")).toBeGreaterThanOrEqual(3);
    for (const secret of run.secrets.keys()) expect(secret.length, run.secrets.get(secret)).toBeGreaterThanOrEqual(12);

    const rows = await s.deps.prisma.auditEvent.findMany();
    expect(rows.length).toBeGreaterThan(30);
    const leaks = (text: string) =>
      [...run.secrets].filter(([secret]) => text.includes(secret)).map(([, what]) => what);
    const inAudit = rows.flatMap((row) =>
      leaks(JSON.stringify(row)).map((what) => `audit event ${row.id} (${row.kind}): ${what}`),
    );
    expect(inAudit).toEqual([]);

    // The server's log, at trace level, for everything above.
    const log = logLines.join("");
    expect(logLines.length).toBeGreaterThanOrEqual(2 * run.steps.length); // at least "incoming request" and "request completed" per step
    expect(log).toContain('"msg":"incoming request"');
    expect(log).toContain('"msg":"email sent"');
    expect(log).toContain("a rotated refresh token was presented again");
    expect(leaks(log).map((what) => `server log: ${what}`)).toEqual([]);
  });
});

async function paginate(
  c: Client,
  q: Omit<Parameters<Client["audit"]["list"]["query"]>[0], "cursor" | "limit">,
  limit: number,
) {
  const events: Listed[] = [];
  let cursor: number | undefined;
  let pages = 0;
  do {
    const page = await c.audit.list.query({ ...q, limit, cursor });
    pages++;
    expect(page.events.length).toBeLessThanOrEqual(limit);
    if (page.nextCursor !== null) {
      expect(page.events).toHaveLength(limit);
      expect(page.nextCursor).toBe(page.events.at(-1)!.id);
    }
    events.push(...page.events);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined && pages < 1000);
  return { events, pages };
}
