// The audit log end to end: every kind of event produced by driving the real endpoints (REST and
// tRPC), each with the right user, IP, User-Agent and time; audit.list for staff with its filters
// and cursor pagination; and no secret — password, key, JWT, mailed link, hash — reaching either
// the audit log or the server's log. Over PGlite and PostgreSQL.
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIT_KINDS, type AuditKind } from "../../../src/core/audit.ts";
import { DATABASES, startTestServer, type TestServer } from "../../helpers/server.ts";
import { type Client, failure, trpcClient } from "../../helpers/trpc.ts";
import { drive, PW, tokenAuth } from "./audit-flows.ts";

const IP = /^(127\.0\.0\.1|::ffff:127\.0\.0\.1)$/;
const SLACK_MS = 1500; // between the test's clock and the database's

type Listed = Awaited<ReturnType<Client["audit"]["list"]["query"]>>["events"][number];

/** The kinds test/e2e/mfa/audit.test.ts, test/e2e/passkeys/ and test/e2e/social/ produce and check. */
const OWN_TESTS_KINDS: readonly string[] = [
  "mfa_enabled",
  "mfa_disabled",
  "mfa_failed",
  "mfa_primary_changed",
  "mfa_reset",
  "backup_code_used",
  "backup_codes_regenerated",
  "passkey_added",
  "passkey_removed",
  "passkey_renamed",
  "reauthenticated",
  "social_linked",
  "social_unlinked",
];

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

  it(
    "every kind but lockout is produced by the real endpoints, " + "each with its user, IP, User-Agent, data and time",
    async () => {
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
      // "lockout" is produced by lockout.test.ts; the second factors', passkeys' and social
      // providers' kinds by their own tests (test/e2e/mfa/audit.test.ts, test/e2e/passkeys/,
      // test/e2e/social/linking.test.ts). Any other kind left unproduced is a gap in this test.
      expect(AUDIT_KINDS.filter((k) => !produced.has(k) && !OWN_TESTS_KINDS.includes(k))).toEqual(["lockout"]);
      for (const k of ["login_succeeded", "login_failed", "logout", "logout_all"] as const) {
        for (const method of ["token", "jwt"]) {
          expect(
            rows.some((r) => r.kind === k && (r.data as { method?: string }).method === method),
            `${k} by ${method}`,
          ).toBe(true);
        }
      }
    },
  );

  it(
    "audit.list: staff only; anonymous is UNAUTHORIZED, a regular user FORBIDDEN; " + "bad input is invalid_input",
    async () => {
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
    },
  );

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

  it(
    "no secret reaches the audit log or the server's log: " +
      "passwords, keys, JWTs and their segments, mailed links, hashes, seeds",
    async () => {
      const kinds = (what: string) => [...run.secrets.values()].filter((w) => w.includes(what)).length;
      // The test saw what it meant to look for.
      expect(kinds("password ")).toBeGreaterThanOrEqual(Object.keys(PW).length);
      expect(kinds("key")).toBeGreaterThanOrEqual(6);
      expect(kinds("signature segment")).toBeGreaterThanOrEqual(16);
      expect(kinds("whole JWT")).toBeGreaterThanOrEqual(16);
      expect(kinds("mailed token")).toBe(5);
      expect(kinds("password hash of ann")).toBeGreaterThanOrEqual(3); // registration, set_password, reset
      expect(kinds("token seed")).toBeGreaterThanOrEqual(3);
      for (const secret of run.secrets.keys())
        expect(secret.length, run.secrets.get(secret)).toBeGreaterThanOrEqual(12);

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
      // At least "incoming request" and "request completed" per step.
      expect(logLines.length).toBeGreaterThanOrEqual(2 * run.steps.length);
      expect(log).toContain('"msg":"incoming request"');
      expect(log).toContain('"msg":"email sent"');
      expect(log).toContain("a rotated refresh token was presented again");
      expect(leaks(log).map((what) => `server log: ${what}`)).toEqual([]);
    },
  );
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
