// The audit test's flows: every request that records an event, driven through the real endpoints
// (REST and tRPC), with what each step should record and every secret seen along the way.
import { expect } from "vitest";
import type { AuditKind } from "../../../src/core/audit.ts";
import { uidToken } from "../../helpers/mail.ts";
import { createStaff, type TestServer } from "../../helpers/server.ts";
import { failure, trpcClient } from "../../helpers/trpc.ts";

// Every password the test types, right or wrong: none may be recorded anywhere.
export const PW = {
  ann: "Kq7!vLp2#Zx9",
  annTypo: "Kq7!vLp2#Zx8", // a near miss, the kind a log must not keep either
  annChanged: "Wb3$nTr8@Hy5",
  annReset: "Zm6^cQe1&Uo4",
  bob: "Fj4%sDg7*Kl2x",
  boss: "B0ss-Passw0rd!",
};

const BLACKLISTED = { detail: "Token is blacklisted", code: "token_not_valid" };

type Pair = { refresh: string; access: string };
type Expected = { kind: AuditKind; userId: number | null; data: Record<string, unknown> };
type Step = { label: string; ua: string; t0: number; t1: number; expected: Expected[] };

export const tokenAuth = (key: string) => ({ authorization: `Token ${key}` });
const bearer = (access: string) => ({ authorization: `Bearer ${access}` });
const sidOf = (jwt: string): string => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString("utf8")).sid;
/** How sessions are named everywhere (sessions.list ids and audit data): "j" + the JWT's sid. */
const sessionIdOf = (jwt: string) => `j${sidOf(jwt)}`;

/**
 * Drives every flow that records an event, each request with a User-Agent of its own step, and
 * keeps every secret it sees along the way (passwords, keys, JWTs, mailed links, hashes, seeds).
 */
export async function drive(s: TestServer) {
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
