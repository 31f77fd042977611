// Races: one credential or one name, many requests at once over real HTTP. The database decides
// (unique indexes, conditional updates inside transactions), so each outcome is exact: one winner,
// every other request refused with the answer a late-comer gets. Over PGlite (one session, so it
// serialises; the outcomes must hold all the same) and PostgreSQL (where the races are real).
//
// Two servers per database (a PGlite start is slow on a busy machine), each with settings that do
// not touch the other cases in it.
import { describe, expect, it } from "vitest";
import { PW, useServer } from "../../helpers/fixture.ts";
import { uidToken } from "../../helpers/mail.ts";
import { createStaff, DATABASES, type DatabaseKind, type TestServer } from "../../helpers/server.ts";
import { trpcClient } from "../../helpers/trpc.ts";

// Cheap hashing and room for the whole burst in the hash queue (a queue that refuses part of a
// burst with a 503 is password-checks.test.ts's subject): a burst of registrations must measure
// the race, not argon2.
const FAST = {
  ARGON2: JSON.stringify({ MEMORY_COST: 1024, TIME_COST: 1, PARALLELISM: 1 }),
  PASSWORD_HASH_QUEUE: "1000",
};
const TAKEN = { username: ["A user with that username already exists."] };
const INVALID_TOKEN = { detail: "Invalid token." };
const BLACKLISTED = { detail: "Token is blacklisted", code: "token_not_valid" };
const STALE = { detail: "Stale token for given user." };
const REGISTRATIONS = 100;
const BURST = 20;

type Res = Awaited<ReturnType<TestServer["request"]>>;

/**
 * n calls fired together: every one is started (its fetch dispatched) in this same tick, before
 * the event loop can deliver any answer; then all are awaited.
 */
function burst<T>(n: number, fire: (i: number) => Promise<T>): Promise<T[]> {
  const inFlight: Promise<T>[] = [];
  for (let i = 0; i < n; i++) inFlight.push(fire(i));
  return Promise.all(inFlight);
}

/** "1 × 201, 99 × 400": the statuses seen, in ascending order. */
function tally(statuses: (number | string)[]): string {
  const counts = new Map<number | string, number>();
  for (const s of statuses) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts]
    .sort(([a], [b]) => String(a).localeCompare(String(b)))
    .map(([s, n]) => `${n} × ${s}`)
    .join(", ");
}

function report(kind: DatabaseKind, name: string, sent: number, statuses: (number | string)[], extra = "") {
  console.log(`races[${kind}] ${name}: ${sent} sent, ${tally(statuses)}${extra ? `, ${extra}` : ""}`);
}

/** Splits a burst into the responses with the winner's status and the rest. */
function split(results: Res[], won: number) {
  return { winners: results.filter((r) => r.status === won), losers: results.filter((r) => r.status !== won) };
}

/** Exactly one answer is `won`; every other is `lost` with `body`. Returns the winner. */
function expectOneWinner(results: Res[], won: number, lost: number, body: unknown): Res {
  const { winners, losers } = split(results, won);
  expect(winners).toHaveLength(1);
  for (const r of losers) {
    expect(r.status, r.text).toBe(lost);
    expect(r.json).toEqual(body);
  }
  return winners[0]!;
}

const auditCount = (s: TestServer, kind: string, userId: number) =>
  s.deps.prisma.auditEvent.count({ where: { kind, userId } });
const logoutToken = (s: TestServer, key: string) =>
  s.request("POST", "/auth/token/logout/", { headers: { authorization: `Token ${key}` } });
const refresh = (s: TestServer, token: string) => s.request("POST", "/auth/jwt/refresh/", { json: { refresh: token } });
describe.each(DATABASES)("races on %s", (kind) => {
  describe("shared tokens; rotation with BLACKLIST_AFTER_ROTATION, reuse detection off", () => {
    const s = useServer(kind, {
      ...FAST,
      SIMPLE_JWT_ROTATE_REFRESH_TOKENS: "true",
      SIMPLE_JWT_BLACKLIST_AFTER_ROTATION: "true",
      SIMPLE_JWT_REFRESH_TOKEN_REUSE_DETECTION: "false",
    });

    it(`${REGISTRATIONS} registrations of one username (REST): one 201, the rest Django's 400, one row`, async () => {
      const results = await burst(REGISTRATIONS, () =>
        s.request("POST", "/auth/users/", { json: { username: "racer", password: PW } }),
      );
      const rows = await s.deps.prisma.user.count({ where: { username: "racer" } });
      report(
        kind,
        "registrations (REST)",
        REGISTRATIONS,
        results.map((r) => r.status),
        `rows ${rows}`,
      );
      expect(expectOneWinner(results, 201, 400, TAKEN).json).toEqual({
        email: "",
        username: "racer",
        id: expect.any(Number),
      });
      expect(rows).toBe(1);
    });

    it(
      // biome-ignore lint/style/useTemplate: one template would not fit in 120 characters
      `${REGISTRATIONS} registrations of one username (tRPC): ` + "one success, the rest the field error, one row",
      async () => {
        const anon = trpcClient(s);
        const results = await burst(REGISTRATIONS, () =>
          anon.users.create.mutate({ username: "trpcracer", password: PW }).then(
            (user) => ({ ok: true as const, user }),
            (error: any) => ({ ok: false as const, error }),
          ),
        );
        const rows = await s.deps.prisma.user.count({ where: { username: "trpcracer" } });
        const outcome = (r: (typeof results)[number]) =>
          r.ok ? "ok" : `${r.error.data?.httpStatus} ${r.error.data?.code}`;
        report(kind, "registrations (tRPC)", REGISTRATIONS, results.map(outcome), `rows ${rows}`);
        const won = results.filter((r) => r.ok);
        expect(won).toHaveLength(1);
        expect(won[0]!.user).toEqual({ email: "", username: "trpcracer", id: expect.any(Number) });
        for (const r of results.filter((r) => !r.ok)) {
          expect(outcome(r)).toBe("400 invalid_input");
          expect(r.error.data?.fields).toEqual(TAKEN);
        }
        expect(rows).toBe(1);
      },
    );

    it(`${BURST} logouts with one shared token: one 204, the rest 401 Invalid token.`, async () => {
      const id = await s.signUp("leaver");
      const key = await s.tokenLogin("leaver");
      const results = await burst(BURST, () => logoutToken(s, key));
      const left = await s.deps.prisma.authToken.count({ where: { userId: id } });
      const logouts = await auditCount(s, "logout", id);
      report(
        kind,
        "token logouts (shared)",
        BURST,
        results.map((r) => r.status),
        `tokens left ${left}, logouts audited ${logouts}`,
      );
      expectOneWinner(results, 204, 401, INVALID_TOKEN);
      expect(left).toBe(0);
      expect(logouts).toBe(1);
      expect((await s.me({ authorization: `Token ${key}` })).status).toBe(401);
    });

    it(`${BURST} JWT logouts with one refresh token: one 204, the rest 401 Token is blacklisted`, async () => {
      const id = await s.signUp("jwtleaver");
      const pair = await s.jwtLogin("jwtleaver");
      const results = await burst(BURST, () =>
        s.request("POST", "/auth/jwt/logout/", { json: { refresh: pair.refresh } }),
      );
      const logouts = await auditCount(s, "logout", id);
      report(
        kind,
        "jwt logouts",
        BURST,
        results.map((r) => r.status),
        `logouts audited ${logouts}`,
      );
      expectOneWinner(results, 204, 401, BLACKLISTED);
      expect(logouts).toBe(1);
      expect((await refresh(s, pair.refresh)).json).toEqual(BLACKLISTED);
      expect((await s.me({ authorization: `Bearer ${pair.access}` })).status).toBe(401);
    });

    it(
      `${BURST} refreshes of one token, no reuse detection: ` +
        "one 200, the rest 401 Token is blacklisted; the new pair lives",
      async () => {
        const id = await s.signUp("rotor");
        const pair = await s.jwtLogin("rotor");
        const results = await burst(BURST, () => refresh(s, pair.refresh));
        const refreshed = await auditCount(s, "token_refreshed", id);
        const { winners, losers } = split(results, 200);
        const fresh = winners[0]?.json as { access: string; refresh: string } | undefined;
        const after = fresh ? (await refresh(s, fresh.refresh)).status : "none";
        report(
          kind,
          "jwt refreshes (rotation, no reuse detection)",
          BURST,
          results.map((r) => r.status),
          `refreshes audited ${refreshed}, new refresh token then ${after}`,
        );
        expect(winners).toHaveLength(1);
        expect(Object.keys(fresh!)).toEqual(["access", "refresh"]);
        for (const r of losers) {
          expect(r.status, r.text).toBe(401);
          expect(r.json).toEqual(BLACKLISTED);
        }
        // One rotation happened (the second refresh, just above, is the next one).
        expect(refreshed).toBe(1);
        expect(after).toBe(200);
        expect((await s.me({ authorization: `Bearer ${fresh!.access}` })).status).toBe(200);
      },
    );
  });

  describe(
    "per-device tokens; rotation with BLACKLIST_AFTER_ROTATION and reuse detection " +
      "(default, no grace window); activation mails",
    () => {
      const env = {
        ...FAST,
        DJOSER_TOKEN_MODE: "per_device",
        SIMPLE_JWT_ROTATE_REFRESH_TOKENS: "true",
        SIMPLE_JWT_BLACKLIST_AFTER_ROTATION: "true",
      };
      const s = useServer(kind, {
        ...env,
        DJOSER_SEND_ACTIVATION_EMAIL: "true",
        SIMPLE_JWT_REFRESH_TOKEN_REUSE_INTERVAL: "0",
      });
      const graced = useServer(kind, env); // the same with REFRESH_TOKEN_REUSE_INTERVAL's default 10 s

      /** An active user (registration here leaves users inactive until they follow the mailed link). */
      const activeUser = async (username: string) => (await createStaff(s, username, PW, `${username}@example.com`)).id;

      it(`${BURST} logouts with one device's token: one 204, the rest 401, the other device stays`, async () => {
        const id = await activeUser("devices");
        const [phone, laptop] = [await s.tokenLogin("devices"), await s.tokenLogin("devices")];
        expect(phone).not.toBe(laptop);
        const results = await burst(BURST, () => logoutToken(s, phone));
        const left = await s.deps.prisma.authToken.count({ where: { userId: id } });
        const logouts = await auditCount(s, "logout", id);
        report(
          kind,
          "token logouts (per_device)",
          BURST,
          results.map((r) => r.status),
          `tokens left ${left}, logouts audited ${logouts}`,
        );
        expectOneWinner(results, 204, 401, INVALID_TOKEN);
        expect(left).toBe(1);
        expect(logouts).toBe(1);
        expect((await s.me({ authorization: `Token ${phone}` })).status).toBe(401);
        expect((await s.me({ authorization: `Token ${laptop}` })).status).toBe(200);
      });

      it(
        `${BURST} refreshes of one token, reuse detection on: ` +
          "one 200 with a new pair, the rest 401; the losers' reuse ends the session, the new pair dies",
        async () => {
          const id = await activeUser("rotor");
          const pair = await s.jwtLogin("rotor");
          const results = await burst(BURST, () => refresh(s, pair.refresh));
          const sessions = await s.deps.prisma.jwtSession.findMany({ where: { userId: id } });
          const refreshed = await auditCount(s, "token_refreshed", id);
          const reuses = await auditCount(s, "refresh_reuse_detected", id);
          const { winners, losers } = split(results, 200);
          const fresh = winners[0]?.json as { access: string; refresh: string } | undefined;
          const after = fresh ? (await refresh(s, fresh.refresh)).status : "none";
          report(
            kind,
            "jwt refreshes (rotation, reuse detection)",
            BURST,
            results.map((r) => r.status),
            `refreshes audited ${refreshed}, reuses audited ${reuses}, new refresh token then ${after}`,
          );
          expect(winners).toHaveLength(1);
          expect(Object.keys(fresh!)).toEqual(["access", "refresh"]);
          expect(fresh!.refresh).not.toBe(pair.refresh);
          for (const r of losers) {
            expect(r.status, r.text).toBe(401);
            expect(r.json).toEqual(BLACKLISTED);
            expect(r.headers.get("www-authenticate")).toBe('Bearer realm="api"');
          }
          expect(refreshed).toBe(1);
          // The policy (REFRESH_TOKEN_REUSE_DETECTION): a rotated token presented again means a copy
          // exists, and the whole session ends — the winner's new pair with it. A loser of the race is
          // such a presentation, so the session always ends here.
          expect(reuses).toBeGreaterThanOrEqual(1);
          expect(sessions).toHaveLength(1);
          expect(sessions[0]!.revokedReason).toBe("reuse");
          expect(after).toBe(401);
          expect((await refresh(s, fresh!.refresh)).json).toEqual(BLACKLISTED);
          expect((await s.me({ authorization: `Bearer ${fresh!.access}` })).status).toBe(401);
          const verified = await s.request("POST", "/auth/jwt/verify/", { json: { token: fresh!.refresh } });
          expect(verified.status).toBe(400);
          expect(verified.json).toEqual({ non_field_errors: ["Token is blacklisted"] });
        },
      );

      it(
        `${BURST} refreshes of one token within REFRESH_TOKEN_REUSE_INTERVAL: ` +
          "one rotation, every answer 200 with its refresh token; the session lives",
        async () => {
          const id = (await createStaff(graced, "tabs", PW, "tabs@example.com")).id;
          const pair = await graced.jwtLogin("tabs");
          const results = await burst(BURST, () => refresh(graced, pair.refresh));
          const rows = await graced.deps.prisma.jwtRefreshToken.count({ where: { session: { userId: id } } });
          const reuses = await auditCount(graced, "refresh_reuse_detected", id);
          report(
            kind,
            "jwt refreshes (rotation, reuse interval)",
            BURST,
            results.map((r) => r.status),
            `refresh tokens ${rows}, reuses audited ${reuses}`,
          );
          for (const r of results) expect(r.status, r.text).toBe(200);
          expect(new Set(results.map((r) => r.json.refresh)).size).toBe(1);
          expect([rows, reuses]).toEqual([2, 0]); // the login's token and the one rotation's
          const fresh = results[0]!.json as { access: string; refresh: string };
          expect((await graced.me({ authorization: `Bearer ${fresh.access}` })).status).toBe(200);
          expect((await refresh(graced, fresh.refresh)).status).toBe(200);
        },
      );

      it(`${BURST} activations with one link: one 204, the rest 403 Stale token`, async () => {
        const id = await s.signUp("waiter", "waiter@example.com");
        const mail = s
          .mails()
          .find((m) => m.to === "waiter@example.com" && m.subject === "Account activation on Portcullis");
        expect(mail).toBeDefined();
        const link = uidToken(mail!.links.find((l) => l.includes("/activate/"))!);
        const results = await burst(BURST, () => s.request("POST", "/auth/users/activation/", { json: link }));
        const activations = await auditCount(s, "activation", id);
        report(
          kind,
          "activations",
          BURST,
          results.map((r) => r.status),
          `activations audited ${activations}`,
        );
        expectOneWinner(results, 204, 403, STALE);
        expect(activations).toBe(1);
        expect((await s.deps.prisma.user.findUniqueOrThrow({ where: { id } })).isActive).toBe(true);
        await s.tokenLogin("waiter");
      });
    },
  );
});
